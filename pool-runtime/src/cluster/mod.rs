//! A cluster: one primary pool and N replica pools, with routing,
//! read-your-writes and lag-aware rotation.
//!
//! Each member is a full [`Pool`](crate::Pool) with its own limits, boot
//! checks and stats; the primary runs with `role = primary`, the replicas
//! with `role = replica`. `exec`/`begin` go to the primary, `query*` to the
//! least busy replica in rotation (ties round-robin), except within
//! `read_your_writes` of a write through the same handle or
//! [`Session`], when they go to the primary. A background task reads every
//! replica's replication state at once every `replica_check_interval`
//! (each read bounded by that interval or 1 s, whichever is longer); a replica
//! lagging more than `max_replica_lag`, stopped or unreachable leaves the
//! rotation until it is healthy again.
//!
//! ```no_run
//! use pool_runtime::{Cluster, ClusterOptions};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let options = ClusterOptions::from_urls(
//!     "mysql://app:secret@db-primary:3306/shop",
//!     ["mysql://app:secret@db-replica-0:3306/shop"],
//! )?;
//! let cluster = Cluster::connect(options).await?;
//! cluster.exec("INSERT INTO t (v) VALUES (?)", (1,)).await?;
//! let n: Option<i64> = cluster.query_first("SELECT COUNT(*) FROM t", ()).await?; // primary (RYW)
//! cluster.close().await;
//! # Ok(()) }
//! ```

mod config;
mod error;
mod handle;
mod health;
mod options;
mod routing;
mod session;
mod stats;

pub use config::LoadedCluster;
pub use error::{ClusterBootError, ClusterError, OutReason, ReplicaOut};
pub use handle::Cluster;
pub use options::ClusterOptions;
pub use pool_settings::ReplicaFallback;
pub use session::{ClusterTx, Session};
pub use stats::{ClusterStats, MemberStats};
