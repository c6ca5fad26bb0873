//! Counters the pool keeps, and the snapshot users read.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A snapshot of a pool: Go's `DBStats`, plus what it takes to see a pool
/// absorbing dead connections.
///
/// Gauges (`open`, `in_use`, `idle`, `waiting`) are read under the pool's
/// lock, so they agree with each other; counters only grow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// `max_open` as configured (0 = unlimited).
    pub max_open: u32,
    /// Connections open or being opened: in use, idle, or being checked.
    pub open: u64,
    /// Connections handed out to users.
    pub in_use: u64,
    /// Connections waiting in the pool.
    pub idle: u64,
    /// Acquires waiting for a connection right now.
    pub waiting: u64,
    /// Acquires that had to wait (Go: `WaitCount`).
    pub wait_count: u64,
    /// Total time acquires spent waiting (Go: `WaitDuration`).
    pub wait_duration: Duration,
    /// Connections closed because `max_idle` was reached (Go: `MaxIdleClosed`).
    pub max_idle_closed: u64,
    /// Connections closed for sitting idle past `max_idle_time`.
    pub max_idle_time_closed: u64,
    /// Connections closed for reaching `max_lifetime`.
    pub max_lifetime_closed: u64,
    /// Idle connections that failed or timed out their validation ping and
    /// were discarded before anyone saw them.
    pub validation_failed: u64,
    /// Idle connections that failed a keepalive ping and were discarded.
    pub keepalive_failed: u64,
    /// Connections dropped because they came back broken (fatal error,
    /// operation cancelled half-way) or failed their reset.
    pub broken_closed: u64,
    /// Dirty connections cleaned (rolled back or reset) on return.
    pub resets: u64,
    /// Keepalive pings sent to idle connections.
    pub keepalives: u64,
    /// New connections opened.
    pub connections_created: u64,
    /// Attempts to open a connection that failed or timed out.
    pub connect_errors: u64,
    /// Acquires that gave up after `acquire_timeout`.
    pub timeouts: u64,
    /// Connections reported held past `leak_threshold`.
    pub leaks_reported: u64,
    /// Statements re-sent after a connection error that proved they had not
    /// run (exec path).
    pub bad_conn_retries: u64,
    /// Read-only statements re-sent after a connection loss (`retry_reads`).
    pub read_retries: u64,
    /// Last attempts made on a guaranteed new connection.
    pub new_conn_attempts: u64,
    /// Statements that lost their connection after they may have run, and
    /// so were reported to the caller instead of re-sent.
    pub maybe_executed: u64,
    /// Statements that ran past their statement timeout.
    pub statement_timeouts: u64,
}

/// Why a connection left the pool for good; each has its counter and log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retire {
    MaxIdle,
    IdleTime,
    Lifetime,
    ValidationFailed,
    KeepaliveFailed,
    Broken,
    ResetFailed,
    /// Closed to make room for a guaranteed new connection.
    Replaced,
    Closed,
}

impl Retire {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Retire::MaxIdle => "max_idle reached",
            Retire::IdleTime => "idle past max_idle_time",
            Retire::Lifetime => "past max_lifetime",
            Retire::ValidationFailed => "validation ping failed or timed out",
            Retire::KeepaliveFailed => "keepalive ping failed or timed out",
            Retire::Broken => "returned broken",
            Retire::ResetFailed => "reset on return failed",
            Retire::Replaced => "replaced by a new connection for a retry",
            Retire::Closed => "pool closed",
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) wait_count: AtomicU64,
    pub(crate) wait_nanos: AtomicU64,
    pub(crate) max_idle_closed: AtomicU64,
    pub(crate) max_idle_time_closed: AtomicU64,
    pub(crate) max_lifetime_closed: AtomicU64,
    pub(crate) validation_failed: AtomicU64,
    pub(crate) keepalive_failed: AtomicU64,
    pub(crate) broken_closed: AtomicU64,
    pub(crate) resets: AtomicU64,
    pub(crate) keepalives: AtomicU64,
    pub(crate) connections_created: AtomicU64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) leaks_reported: AtomicU64,
    pub(crate) bad_conn_retries: AtomicU64,
    pub(crate) read_retries: AtomicU64,
    pub(crate) new_conn_attempts: AtomicU64,
    pub(crate) maybe_executed: AtomicU64,
    pub(crate) statement_timeouts: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn retired(&self, why: Retire) {
        let counter = match why {
            Retire::MaxIdle => &self.max_idle_closed,
            Retire::IdleTime => &self.max_idle_time_closed,
            Retire::Lifetime => &self.max_lifetime_closed,
            Retire::ValidationFailed => &self.validation_failed,
            Retire::KeepaliveFailed => &self.keepalive_failed,
            Retire::Broken | Retire::ResetFailed => &self.broken_closed,
            Retire::Replaced | Retire::Closed => return,
        };
        Self::bump(counter);
    }

    pub(crate) fn waited(&self, waited: Duration) {
        Self::bump(&self.wait_count);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Relaxed);
    }

    /// Fills the counter fields of `stats`.
    pub(crate) fn read_into(&self, stats: &mut PoolStats) {
        stats.wait_count = self.wait_count.load(Relaxed);
        stats.wait_duration = Duration::from_nanos(self.wait_nanos.load(Relaxed));
        stats.max_idle_closed = self.max_idle_closed.load(Relaxed);
        stats.max_idle_time_closed = self.max_idle_time_closed.load(Relaxed);
        stats.max_lifetime_closed = self.max_lifetime_closed.load(Relaxed);
        stats.validation_failed = self.validation_failed.load(Relaxed);
        stats.keepalive_failed = self.keepalive_failed.load(Relaxed);
        stats.broken_closed = self.broken_closed.load(Relaxed);
        stats.resets = self.resets.load(Relaxed);
        stats.keepalives = self.keepalives.load(Relaxed);
        stats.connections_created = self.connections_created.load(Relaxed);
        stats.connect_errors = self.connect_errors.load(Relaxed);
        stats.timeouts = self.timeouts.load(Relaxed);
        stats.leaks_reported = self.leaks_reported.load(Relaxed);
        stats.bad_conn_retries = self.bad_conn_retries.load(Relaxed);
        stats.read_retries = self.read_retries.load(Relaxed);
        stats.new_conn_attempts = self.new_conn_attempts.load(Relaxed);
        stats.maybe_executed = self.maybe_executed.load(Relaxed);
        stats.statement_timeouts = self.statement_timeouts.load(Relaxed);
    }
}
