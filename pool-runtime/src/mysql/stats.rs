//! The MySQL pool's stats: the core's snapshot and the exec path's counters
//! in one flat struct.
//!
//! Two owners count: the generic core ([`CoreStats`]: acquires, opens,
//! closes) and the exec path (retries, statement timeouts). Users read one
//! snapshot with every field at the top level, as in Go's `DBStats`, so
//! `stats.validation_failed` and `stats.bad_conn_retries` sit side by side.
//! The core's fields come from the core's own declaration
//! ([`with_core_stats!`](crate::pool::with_core_stats)), so the two cannot
//! drift apart.

use super::exec::ExecStats;
use crate::pool::CoreStats;

crate::pool::with_core_stats! {
    /// A snapshot of a [`Pool`](crate::Pool): Go's `DBStats`, plus what it
    /// takes to see a pool absorbing dead connections. The fields up to
    /// `suspect_found_dead` are the pool core's ([`CoreStats`]); the exec
    /// path's follow.
    ///
    /// Gauges (`open`, `in_use`, `idle`, `waiting`) are read together under
    /// the pool's lock; counters only grow.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct PoolStats {
        /// Statements re-sent after a connection error that proved they had
        /// not run (exec path).
        pub bad_conn_retries: u64,
        /// Read-only statements re-sent after a connection loss
        /// (`retry_reads`).
        pub read_retries: u64,
        /// Last attempts made on a guaranteed new connection.
        pub new_conn_attempts: u64,
        /// Statements that lost their connection after they may have run,
        /// and so were reported to the caller instead of re-sent.
        pub maybe_executed: u64,
        /// Statements that ran past their statement timeout.
        pub statement_timeouts: u64,
        /// Statements re-sent once on a new connection after the server
        /// refused them as read-only (the target moved: see
        /// [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly)).
        pub read_only_retries: u64,
    }
}

impl PoolStats {
    /// One snapshot from the core's and the exec path's.
    pub(crate) fn join(core: CoreStats, exec: ExecStats) -> Self {
        let ExecStats {
            bad_conn_retries,
            read_retries,
            new_conn_attempts,
            maybe_executed,
            statement_timeouts,
            read_only_retries,
        } = exec;
        PoolStats {
            bad_conn_retries,
            read_retries,
            new_conn_attempts,
            maybe_executed,
            statement_timeouts,
            read_only_retries,
            ..PoolStats::from(core)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Every field of both parts, each with its own value, must show up in
    /// the joined snapshot under its own name. The literals are exhaustive
    /// (inside the crate `#[non_exhaustive]` does not apply), so a field
    /// added to either part fails to compile here until it is given a value,
    /// and then fails this test until `join` copies it.
    #[test]
    fn join_copies_every_field_of_both_parts() {
        let core = CoreStats {
            max_open: 1,
            open: 2,
            in_use: 3,
            idle: 4,
            waiting: 5,
            wait_count: 6,
            wait_duration: Duration::from_nanos(7),
            max_idle_closed: 8,
            max_idle_time_closed: 9,
            max_lifetime_closed: 10,
            validation_failed: 11,
            keepalive_failed: 12,
            broken_closed: 13,
            resets: 14,
            keepalives: 15,
            connections_created: 16,
            connect_errors: 17,
            timeouts: 18,
            exhausted: 19,
            leaks_reported: 20,
            goodbyes_abandoned: 21,
            generation: 27,
            generations_retired: 28,
            suspect_events: 30,
            suspect_validations: 31,
            suspect_found_dead: 32,
        };
        let exec = ExecStats {
            bad_conn_retries: 22,
            read_retries: 23,
            new_conn_attempts: 24,
            maybe_executed: 25,
            statement_timeouts: 26,
            read_only_retries: 29,
        };
        let joined = format!("{:?}", PoolStats::join(core.clone(), exec));
        let parts = format!("{core:?} {exec:?}");
        let fields = |debug: &str| -> Vec<String> {
            debug
                .split(['{', '}', ','])
                .map(|f| f.trim().to_owned())
                .filter(|f| f.contains(": "))
                .collect()
        };
        let in_joined = fields(&joined);
        let in_parts = fields(&parts);
        assert_eq!(in_parts.len(), 32, "{in_parts:?}");
        for field in &in_parts {
            assert!(in_joined.contains(field), "{field} missing from {joined}");
        }
        assert_eq!(in_joined.len(), in_parts.len(), "{joined}");
    }
}
