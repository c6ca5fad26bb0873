//! Metrics (feature `metrics`): OpenTelemetry's database client connection
//! metrics, through the [`metrics`](https://docs.rs/metrics) facade, so the
//! application picks the exporter (Prometheus, OpenTelemetry, StatsD).
//!
//! Every metric carries `db.client.connection.pool.name`: the `pool_name`
//! setting, or `host:port/db` when it is unset (as the convention says;
//! never with credentials). [`METRICS`] lists them all, with units and
//! attributes; ours are under `pool_runtime.`.
//!
//! A [`Pool`](crate::Pool) registers its metrics once, when it is built,
//! with the recorder installed at that moment: install the exporter first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // e.g. metrics_exporter_prometheus::PrometheusBuilder::new().install()?;
//! let pool = pool_runtime::Pool::connect("mysql://app@127.0.0.1:3306/shop").await?;
//! // now reported: db.client.connection.count{db.client.connection.pool.name="127.0.0.1:3306/shop", ...}
//! # Ok(()) }
//! ```
//!
//! A [`Cluster`](crate::Cluster)'s members are pools with their own
//! metrics, named `primary`, `replica-0`, ... (or after the primary's
//! `pool_name`); the cluster adds its routing under `pool_runtime.cluster.`,
//! each series under the member it is about.
//!
//! The hot path stays cheap: handles are registered once with their labels
//! fixed, and each event is one call on a handle. Gauges are set under the
//! pool's lock at each move, so their latest values are the pool's state.

mod cluster_metrics;
mod pool_metrics;
mod table;

pub(crate) use cluster_metrics::ClusterMetrics;
pub use pool_metrics::PoolMetrics;
pub(crate) use pool_metrics::RetryKind;
pub use table::{
    CODE, Instrument, KIND, METRICS, MetricSpec, OUTCOME, PHASE, POOL_NAME, REASON, ROUTE, STATE,
    markdown_table,
};
