//! One pool's metric handles, registered once, and the observer that moves
//! them.
//!
//! Every handle is registered when the pool is built, with its labels fixed
//! then (the pool's name, a close reason, a retry kind): after that, an
//! event is a call on a handle (an atomic add or store in the usual
//! recorders) with no allocation, formatting or look-up.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};

use super::table::{self, CODE, KIND, MetricSpec, OUTCOME, PHASE, POOL_NAME, REASON, STATE};
use crate::pool::{AcquirePhase, CloseReason, Limits, Occupancy, PoolObserver};

/// Where the pool's metrics say they come from.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The kinds of retry the exec path makes (the `kind` attribute of
/// `pool_runtime.exec.retries`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RetryKind {
    BadConn,
    Read,
    NewConnection,
    /// Re-sent on a new connection after a read-only refusal.
    ReadOnly,
}

impl RetryKind {
    const ALL: [RetryKind; 4] = [
        RetryKind::BadConn,
        RetryKind::Read,
        RetryKind::NewConnection,
        RetryKind::ReadOnly,
    ];

    fn label(self) -> &'static str {
        match self {
            RetryKind::BadConn => "bad_conn",
            RetryKind::Read => "read",
            RetryKind::NewConnection => "new_connection",
            RetryKind::ReadOnly => "read_only",
        }
    }
}

/// The `reason` attribute of `pool_runtime.connection.closed`: named after
/// the setting or event behind it.
fn close_label(why: CloseReason) -> &'static str {
    match why {
        CloseReason::MaxIdle => "max_idle",
        CloseReason::MaxOpen => "max_open",
        CloseReason::IdleTime => "max_idle_time",
        CloseReason::Lifetime => "max_lifetime",
        CloseReason::ValidationFailed => "validation_failed",
        CloseReason::KeepaliveFailed => "keepalive_failed",
        CloseReason::Broken => "broken",
        CloseReason::ResetFailed => "reset_failed",
        CloseReason::Replaced => "replaced",
        CloseReason::Discarded => "discarded",
        CloseReason::Retired => "retired",
        CloseReason::Closed => "pool_closed",
    }
}

const PHASES: [AcquirePhase; 3] = [
    AcquirePhase::Waiting,
    AcquirePhase::Connecting,
    AcquirePhase::Validating,
];

fn phase_index(phase: AcquirePhase) -> usize {
    match phase {
        AcquirePhase::Waiting => 0,
        AcquirePhase::Connecting => 1,
        AcquirePhase::Validating => 2,
    }
}

/// The metrics of one pool, with OpenTelemetry's names (see
/// [`METRICS`](super::METRICS)). A [`PoolObserver`]: give it to
/// [`GenericPool::with_observer`](crate::pool::GenericPool::with_observer);
/// the MySQL [`Pool`](crate::Pool) makes its own when the feature is on.
///
/// ```
/// use pool_runtime::metrics::PoolMetrics;
/// use pool_runtime::pool::{GenericPool, Limits};
/// use pool_runtime::testkit::MemoryManager;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // Registered with the recorder installed now (none here: a no-op one).
/// let metrics = PoolMetrics::register("orders");
/// let pool = GenericPool::with_observer(MemoryManager::new(), Limits::default(), metrics)
///     .unwrap();
/// drop(pool.get().await.unwrap());
/// # }
/// ```
#[derive(Debug)]
pub struct PoolMetrics {
    name: String,
    used: Gauge,
    idle: Gauge,
    pending: Gauge,
    max: Gauge,
    idle_max: Gauge,
    idle_min: Gauge,
    timeouts: Counter,
    create_time: Histogram,
    wait_time: Histogram,
    use_time: Histogram,
    timeouts_by_phase: [Counter; 3],
    validation_failures: Counter,
    connect_errors: Counter,
    closed: [Counter; CloseReason::ALL.len()],
    retries: [Counter; RetryKind::ALL.len()],
    maybe_executed: Counter,
    statement_timeouts: Counter,
    generations_retired: Counter,
    suspect_events: Counter,
    /// `alive`, `dead`.
    suspect_validations: [Counter; 2],
}

/// Registers handles of one pool with one recorder.
pub(super) struct Registrar<'a> {
    pub(super) recorder: &'a dyn Recorder,
    pub(super) pool: &'a str,
}

impl Registrar<'_> {
    fn key(&self, spec: &MetricSpec, extra: Option<(&'static str, &'static str)>) -> Key {
        let mut labels = vec![Label::new(POOL_NAME, self.pool.to_owned())];
        if let Some((key, value)) = extra {
            labels.push(Label::new(key, value));
        }
        Key::from_parts(spec.name, labels)
    }

    pub(super) fn counter(&self, spec: &MetricSpec) -> Counter {
        self.recorder
            .register_counter(&self.key(spec, None), &METADATA)
    }

    pub(super) fn counter_with(
        &self,
        spec: &MetricSpec,
        label: &'static str,
        value: &'static str,
    ) -> Counter {
        self.recorder
            .register_counter(&self.key(spec, Some((label, value))), &METADATA)
    }

    fn gauge(&self, spec: &MetricSpec, extra: Option<(&'static str, &'static str)>) -> Gauge {
        self.recorder
            .register_gauge(&self.key(spec, extra), &METADATA)
    }

    fn histogram(&self, spec: &MetricSpec) -> Histogram {
        self.recorder
            .register_histogram(&self.key(spec, None), &METADATA)
    }
}

/// Describes every metric of the table to `recorder`: unit and description.
pub(super) fn describe_all(recorder: &dyn Recorder) {
    for spec in table::METRICS {
        let name = metrics::KeyName::from_const_str(spec.name);
        let unit = Some(spec.unit);
        let description = metrics::SharedString::const_str(spec.description);
        match spec.instrument {
            table::Instrument::Counter => recorder.describe_counter(name, unit, description),
            table::Instrument::Gauge => recorder.describe_gauge(name, unit, description),
            table::Instrument::Histogram => recorder.describe_histogram(name, unit, description),
        }
    }
}

impl PoolMetrics {
    /// Describes the metrics and registers one pool's handles, named
    /// `pool_name` (the `db.client.connection.pool.name` attribute), with
    /// the recorder current now: the thread's local one if set
    /// ([`metrics::with_local_recorder`]), else the global one, else none
    /// (then every handle is a no-op). Install the exporter before building
    /// the pool: a recorder installed later does not see it.
    pub fn register(pool_name: &str) -> std::sync::Arc<PoolMetrics> {
        metrics::with_recorder(|recorder| Self::register_with(recorder, pool_name))
    }

    /// [`register`](Self::register) with a given recorder.
    pub fn register_with(recorder: &dyn Recorder, pool_name: &str) -> std::sync::Arc<PoolMetrics> {
        describe_all(recorder);
        let r = Registrar {
            recorder,
            pool: pool_name,
        };
        std::sync::Arc::new(PoolMetrics {
            name: pool_name.to_owned(),
            used: r.gauge(&table::COUNT, Some((STATE, "used"))),
            idle: r.gauge(&table::COUNT, Some((STATE, "idle"))),
            pending: r.gauge(&table::PENDING_REQUESTS, None),
            max: r.gauge(&table::MAX, None),
            idle_max: r.gauge(&table::IDLE_MAX, None),
            idle_min: r.gauge(&table::IDLE_MIN, None),
            timeouts: r.counter(&table::TIMEOUTS),
            create_time: r.histogram(&table::CREATE_TIME),
            wait_time: r.histogram(&table::WAIT_TIME),
            use_time: r.histogram(&table::USE_TIME),
            timeouts_by_phase: PHASES
                .map(|phase| r.counter_with(&table::ACQUIRE_TIMEOUTS, PHASE, phase.as_str())),
            validation_failures: r.counter(&table::VALIDATION_FAILURES),
            connect_errors: r.counter(&table::CONNECT_ERRORS),
            closed: CloseReason::ALL
                .map(|why| r.counter_with(&table::CLOSED, REASON, close_label(why))),
            retries: RetryKind::ALL.map(|kind| r.counter_with(&table::RETRIES, KIND, kind.label())),
            maybe_executed: r.counter(&table::MAYBE_EXECUTED),
            statement_timeouts: r.counter(&table::STATEMENT_TIMEOUTS),
            generations_retired: r.counter(&table::GENERATIONS_RETIRED),
            suspect_events: r.counter(&table::SUSPECT_EVENTS),
            suspect_validations: ["alive", "dead"]
                .map(|outcome| r.counter_with(&table::SUSPECT_VALIDATIONS, OUTCOME, outcome)),
        })
    }

    /// The `db.client.connection.pool.name` of these metrics.
    pub fn pool_name(&self) -> &str {
        &self.name
    }

    /// Counts the boot findings of the pool's start, one series per code.
    /// Registers as it goes (boot runs once; not a hot path), with the
    /// recorder current now.
    pub(crate) fn boot_findings(&self, codes: impl IntoIterator<Item = &'static str>) {
        metrics::with_recorder(|recorder| {
            let r = Registrar {
                recorder,
                pool: &self.name,
            };
            for code in codes {
                r.counter_with(&table::BOOT_FINDINGS, CODE, code)
                    .increment(1);
            }
        });
    }

    pub(crate) fn retry(&self, kind: RetryKind) {
        let index = match kind {
            RetryKind::BadConn => 0,
            RetryKind::Read => 1,
            RetryKind::NewConnection => 2,
            RetryKind::ReadOnly => 3,
        };
        self.retries[index].increment(1);
    }

    pub(crate) fn maybe_executed(&self) {
        self.maybe_executed.increment(1);
    }

    pub(crate) fn statement_timeout(&self) {
        self.statement_timeouts.increment(1);
    }
}

fn count(n: u64) -> f64 {
    // Exact below 2^53: any pool's connection count.
    n as f64
}

impl PoolObserver for PoolMetrics {
    fn limits(&self, limits: &Limits) {
        self.max.set(f64::from(limits.max_open));
        let idle_max = match limits.max_open {
            0 => limits.max_idle,
            open => limits.max_idle.min(open),
        };
        self.idle_max.set(f64::from(idle_max));
        self.idle_min.set(f64::from(limits.min_idle));
    }

    fn occupancy(&self, now: Occupancy) {
        self.used.set(count(now.in_use));
        self.idle.set(count(now.idle));
        self.pending.set(count(now.waiting));
    }

    fn acquired(&self, waited: Duration) {
        self.wait_time.record(waited.as_secs_f64());
    }

    fn timed_out(&self, phase: AcquirePhase) {
        self.timeouts.increment(1);
        self.timeouts_by_phase[phase_index(phase)].increment(1);
    }

    fn connected(&self, took: Duration) {
        self.create_time.record(took.as_secs_f64());
    }

    fn connect_failed(&self) {
        self.connect_errors.increment(1);
    }

    fn returned(&self, held: Duration) {
        self.use_time.record(held.as_secs_f64());
    }

    fn closed(&self, why: CloseReason) {
        if why == CloseReason::ValidationFailed {
            self.validation_failures.increment(1);
        }
        self.closed[why as usize].increment(1);
    }

    fn generation_retired(&self, _now: u64) {
        self.generations_retired.increment(1);
    }

    fn suspect_event(&self) {
        self.suspect_events.increment(1);
    }

    fn suspect_validated(&self, alive: bool) {
        self.suspect_validations[usize::from(!alive)].increment(1);
    }
}
