//! Every metric the pool reports, declared once: name, instrument, unit,
//! attributes and description. Registration ([`super::PoolMetrics`]), the
//! rustdoc table of [`METRICS`] and the README's list
//! ([`markdown_table`]) all read these rows.

use metrics::Unit;

/// What kind of instrument a metric is, in the `metrics` facade's terms
/// (OpenTelemetry's UpDownCounters are gauges there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Instrument {
    /// Only grows.
    Counter,
    /// Goes up and down; the latest value is the truth.
    Gauge,
    /// A distribution of samples.
    Histogram,
}

impl Instrument {
    /// `counter`, `gauge` or `histogram`.
    pub fn as_str(self) -> &'static str {
        match self {
            Instrument::Counter => "counter",
            Instrument::Gauge => "gauge",
            Instrument::Histogram => "histogram",
        }
    }
}

/// One metric of the table.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct MetricSpec {
    /// The metric's name (OpenTelemetry's, or ours under `pool_runtime.`).
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub instrument: Instrument,
    /// The unit given to the recorder (`describe_*`).
    pub unit: Unit,
    /// The unit as OpenTelemetry writes it (UCUM: `s`, `{connection}`).
    pub otel_unit: &'static str,
    /// The attributes (labels) every series of it carries.
    pub attributes: &'static [&'static str],
    /// What it measures.
    pub description: &'static str,
}

/// The attribute naming the pool, on every metric.
pub const POOL_NAME: &str = "db.client.connection.pool.name";
/// The connection state attribute of `db.client.connection.count`.
pub const STATE: &str = "db.client.connection.state";
/// Why a connection was closed.
pub const REASON: &str = "reason";
/// What kind of retry the exec path made.
pub const KIND: &str = "kind";
/// What an acquire was doing when it timed out.
pub const PHASE: &str = "phase";
/// A boot finding's stable code.
pub const CODE: &str = "code";
/// Where a cluster sent a read.
pub const ROUTE: &str = "route";
/// What a suspect connection's ping found.
pub const OUTCOME: &str = "outcome";

macro_rules! metrics_table {
    ($(
        $id:ident: $instrument:ident $name:literal, unit $unit:ident $otel_unit:literal,
            attributes [$($attr:expr),*], $description:literal;
    )*) => {
        $(
            pub(crate) const $id: MetricSpec = MetricSpec {
                name: $name,
                instrument: Instrument::$instrument,
                unit: Unit::$unit,
                otel_unit: $otel_unit,
                attributes: &[$($attr),*],
                description: $description,
            };
        )*

        /// Every metric of a pool, in the order of the README.
        ///
        /// | metric | instrument | unit | description |
        /// |---|---|---|---|
        #[doc = concat!($("| `", $name, "` | ", stringify!($instrument), " | `", $otel_unit, "` | ", $description, " |\n"),*)]
        ///
        /// Every one carries `db.client.connection.pool.name`; `count` also
        /// `db.client.connection.state` (`idle` or `used`), and ours the
        /// attribute named in their description.
        pub const METRICS: &[MetricSpec] = &[$($id),*];
    };
}

metrics_table! {
    COUNT: Gauge "db.client.connection.count", unit Count "{connection}",
        attributes [POOL_NAME, STATE],
        "Connections in the state given by `db.client.connection.state`: `idle` (in the pool) or `used` (handed to a user, or being opened for one).";
    IDLE_MAX: Gauge "db.client.connection.idle.max", unit Count "{connection}",
        attributes [POOL_NAME],
        "Most idle connections kept (`max_idle`, at most `max_open`).";
    IDLE_MIN: Gauge "db.client.connection.idle.min", unit Count "{connection}",
        attributes [POOL_NAME],
        "Idle connections the pool keeps open (`min_idle`).";
    MAX: Gauge "db.client.connection.max", unit Count "{connection}",
        attributes [POOL_NAME],
        "Most connections open at once (`max_open`; 0 = unlimited).";
    PENDING_REQUESTS: Gauge "db.client.connection.pending_requests", unit Count "{request}",
        attributes [POOL_NAME],
        "Acquires waiting in line for a connection.";
    TIMEOUTS: Counter "db.client.connection.timeouts", unit Count "{timeout}",
        attributes [POOL_NAME],
        "Acquires that gave up after `acquire_timeout` (or their own bound).";
    CREATE_TIME: Histogram "db.client.connection.create_time", unit Seconds "s",
        attributes [POOL_NAME],
        "Time to open a new connection (TCP, TLS, authentication, init SQL).";
    WAIT_TIME: Histogram "db.client.connection.wait_time", unit Seconds "s",
        attributes [POOL_NAME],
        "Time an acquire took to obtain a connection: waiting, opening and validating included.";
    USE_TIME: Histogram "db.client.connection.use_time", unit Seconds "s",
        attributes [POOL_NAME],
        "Time between handing a connection out and getting it back.";
    ACQUIRE_TIMEOUTS: Counter "pool_runtime.acquire.timeouts", unit Count "{timeout}",
        attributes [POOL_NAME, PHASE],
        "Acquire timeouts by `phase`: `waiting` (every connection in use), `connecting` or `validating`.";
    VALIDATION_FAILURES: Counter "pool_runtime.connection.validation_failures", unit Count "{connection}",
        attributes [POOL_NAME],
        "Idle connections whose validation ping failed or timed out; discarded before anyone saw them.";
    CONNECT_ERRORS: Counter "pool_runtime.connection.connect_errors", unit Count "{error}",
        attributes [POOL_NAME],
        "Attempts to open a connection that failed or timed out.";
    CLOSED: Counter "pool_runtime.connection.closed", unit Count "{connection}",
        attributes [POOL_NAME, REASON],
        "Connections closed, by `reason`: `max_idle`, `max_open` (over a lowered `max_open`), `max_idle_time`, `max_lifetime`, `validation_failed`, `keepalive_failed`, `broken`, `reset_failed`, `replaced`, `discarded`, `retired` (opened with credentials since rotated), `pool_closed` (closed or drained).";
    RETRIES: Counter "pool_runtime.exec.retries", unit Count "{retry}",
        attributes [POOL_NAME, KIND],
        "Statements the exec path sent again, by `kind`: `bad_conn` (proved not run), `read` (a read that may have run, `retry_reads`), `new_connection` (the last attempt, on a new connection), `read_only` (once, on a new connection, after the server refused it as read-only).";
    MAYBE_EXECUTED: Counter "pool_runtime.exec.maybe_executed", unit Count "{statement}",
        attributes [POOL_NAME],
        "Statements that lost their connection after they may have run, so were reported instead of sent again.";
    STATEMENT_TIMEOUTS: Counter "pool_runtime.exec.statement_timeouts", unit Count "{statement}",
        attributes [POOL_NAME],
        "Statements that ran past `statement_timeout`.";
    GENERATIONS_RETIRED: Counter "pool_runtime.pool.generations_retired", unit Count "{generation}",
        attributes [POOL_NAME],
        "Times a read-only refusal made the pool retire every connection opened before it (they reach a server that is no longer the primary, as after a switchover).";
    SUSPECT_EVENTS: Counter "pool_runtime.connection.suspect_events", unit Count "{event}",
        attributes [POOL_NAME],
        "Deaths that proved the server closed a connection, each making every connection last known alive before it suspect (`validate_suspects`).";
    SUSPECT_VALIDATIONS: Counter "pool_runtime.connection.suspect_validations", unit Count "{connection}",
        attributes [POOL_NAME, OUTCOME],
        "Suspect connections pinged before reuse, by `outcome`: `alive` (handed out) or `dead` (discarded unseen).";
    BOOT_FINDINGS: Counter "pool_runtime.boot.findings", unit Count "{finding}",
        attributes [POOL_NAME, CODE],
        "What the boot checks found when the pool started (warned or fixed), by finding `code`.";
    CLUSTER_READS: Counter "pool_runtime.cluster.reads", unit Count "{read}",
        attributes [POOL_NAME, ROUTE],
        "Reads a `Cluster` routed, under the member that took them, by `route`: `replica`, `primary_ryw` (read-your-writes after a write through the same handle or `Session`), `primary_no_replica` (no replica in rotation, `replica_fallback = primary`), `refused` (none in rotation, `replica_fallback = fail`; under the primary's name).";
    CLUSTER_REPLICA_RETRIES: Counter "pool_runtime.cluster.replica_retries", unit Count "{read}",
        attributes [POOL_NAME],
        "Reads that lost their replica's connection and were sent to another member, under the replica that failed.";
    CLUSTER_ROTATION_EXITS: Counter "pool_runtime.cluster.rotation_exits", unit Count "{exit}",
        attributes [POOL_NAME, REASON],
        "Times a replica left a `Cluster`'s read rotation, by `reason`: `lagging` (above `max_replica_lag`), `stopped` (replication not running) or `unreachable`.";
}

/// The table as Markdown, for the README: metric, instrument, unit,
/// attributes, description.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| metric | instrument | unit | attributes | description |\n|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let attributes: Vec<String> = m.attributes.iter().map(|a| format!("`{a}`")).collect();
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            m.name,
            m.instrument.as_str(),
            m.otel_unit,
            attributes.join(", "),
            m.description
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name is OpenTelemetry's (`db.client.connection.`) or ours
    /// (`pool_runtime.`), once; each series names its pool; time is in
    /// seconds.
    #[test]
    fn names_are_unique_namespaced_and_carry_the_pool_name() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for m in METRICS {
            assert!(
                m.name.starts_with("db.client.connection.") || m.name.starts_with("pool_runtime."),
                "{}",
                m.name
            );
            assert_eq!(m.attributes.first(), Some(&POOL_NAME), "{}", m.name);
            assert_eq!(
                m.instrument == Instrument::Histogram,
                m.unit == Unit::Seconds
            );
            assert_eq!(m.unit == Unit::Seconds, m.otel_unit == "s");
        }
        let table = markdown_table();
        assert_eq!(table.lines().count(), METRICS.len() + 2, "{table}");
        if std::env::var_os("PRINT_METRICS_TABLE").is_some() {
            println!("{table}");
        }
    }
}
