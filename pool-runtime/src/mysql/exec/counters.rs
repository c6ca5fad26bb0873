//! What the exec path counts: retries, fallbacks to a new connection, and
//! the statements it refused to re-send.
//!
//! These live here, with the path that bumps them, not in the generic pool
//! core, which knows nothing of statements. The MySQL [`Pool`](crate::Pool)
//! owns one set and joins it with the core's snapshot in
//! [`PoolStats`](crate::PoolStats).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::mysql::metrics::ExecMetrics;

/// The exec path's counters of one pool (all handles of it share them).
#[derive(Debug, Default)]
pub(crate) struct ExecCounters {
    bad_conn_retries: AtomicU64,
    read_retries: AtomicU64,
    new_conn_attempts: AtomicU64,
    maybe_executed: AtomicU64,
    statement_timeouts: AtomicU64,
    read_only_retries: AtomicU64,
    /// The same events for the pool's metrics (feature `metrics`).
    metrics: ExecMetrics,
}

/// A reading of [`ExecCounters`]; see the fields of the same names in
/// [`PoolStats`](crate::PoolStats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ExecStats {
    pub(crate) bad_conn_retries: u64,
    pub(crate) read_retries: u64,
    pub(crate) new_conn_attempts: u64,
    pub(crate) maybe_executed: u64,
    pub(crate) statement_timeouts: u64,
    pub(crate) read_only_retries: u64,
}

impl ExecCounters {
    /// Counters that also move the pool's metrics.
    pub(crate) fn with_metrics(metrics: ExecMetrics) -> Self {
        ExecCounters {
            metrics,
            ..ExecCounters::default()
        }
    }

    /// A statement re-sent after an error that proved it had not run.
    pub(crate) fn bad_conn_retry(&self) {
        self.bad_conn_retries.fetch_add(1, Relaxed);
        self.metrics.bad_conn_retry();
    }

    /// A read re-sent after a connection loss (`retry_reads`).
    pub(crate) fn read_retry(&self) {
        self.read_retries.fetch_add(1, Relaxed);
        self.metrics.read_retry();
    }

    /// A last attempt on a guaranteed new connection.
    pub(crate) fn new_conn_attempt(&self) {
        self.new_conn_attempts.fetch_add(1, Relaxed);
        self.metrics.new_conn_attempt();
    }

    /// A statement that lost its connection after it may have run.
    pub(crate) fn maybe_executed(&self) {
        self.maybe_executed.fetch_add(1, Relaxed);
        self.metrics.maybe_executed();
    }

    /// A statement that ran past its statement timeout.
    pub(crate) fn statement_timeout(&self) {
        self.statement_timeouts.fetch_add(1, Relaxed);
        self.metrics.statement_timeout();
    }

    /// A statement re-sent on a new connection after a read-only refusal.
    pub(crate) fn read_only_retry(&self) {
        self.read_only_retries.fetch_add(1, Relaxed);
        self.metrics.read_only_retry();
    }

    pub(crate) fn read(&self) -> ExecStats {
        ExecStats {
            bad_conn_retries: self.bad_conn_retries.load(Relaxed),
            read_retries: self.read_retries.load(Relaxed),
            new_conn_attempts: self.new_conn_attempts.load(Relaxed),
            maybe_executed: self.maybe_executed.load(Relaxed),
            statement_timeouts: self.statement_timeouts.load(Relaxed),
            read_only_retries: self.read_only_retries.load(Relaxed),
        }
    }
}
