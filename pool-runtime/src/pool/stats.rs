//! The core's counters, and the snapshot of them users read.
//!
//! Only what the core itself does is counted here: acquires, waits, opens,
//! closes and their reasons. What the MySQL pool's exec path does (retries,
//! statement timeouts) is counted beside that path and joined with this
//! snapshot in [`PoolStats`](crate::PoolStats).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Declares a snapshot struct whose fields start with the core's, declared
/// once here, followed by the fields given.
///
/// The MySQL pool's [`PoolStats`](crate::PoolStats) is the core's snapshot
/// plus the exec path's counters, flat (as Go's `DBStats`, so that user code
/// reads `stats.validation_failed` and `stats.bad_conn_retries` alike). It is
/// declared with this macro so that its copy of the core's fields can never
/// drift from [`CoreStats`]; a struct with more fields than the core's also
/// gets `From<CoreStats>` (the rest from `Default`).
macro_rules! with_core_stats {
    (@struct [$(#[$meta:meta])*] $name:ident { $($more:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
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
            pub wait_duration: ::std::time::Duration,
            /// Connections closed because `max_idle` was reached, or over a lowered
            /// `max_open` (Go: `MaxIdleClosed`, which counts both).
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
            /// Acquires that gave up after their timeout (`acquire_timeout`, or
            /// the one given to `get_timeout`).
            pub timeouts: u64,
            /// Acquires that `try_get` refused because every permit was taken.
            pub exhausted: u64,
            /// Connections reported held past `leak_threshold`.
            pub leaks_reported: u64,
            /// Polite closes (a goodbye such as `COM_QUIT`) that did not finish
            /// within `connect_timeout` and were abandoned: the connection was
            /// dropped without its goodbye.
            pub goodbyes_abandoned: u64,
            /// The generation new connections join now (starts at 0; each
            /// retirement, [`GenericPool::retire_generation`](crate::pool::GenericPool::retire_generation)
            /// or [`retire_older`](crate::pool::GenericPool::retire_older), adds one).
            pub generation: u64,
            /// Generations retired by [`GenericPool::retire_generation`](crate::pool::GenericPool::retire_generation)
            /// (the MySQL pool: after a read-only error, the target moved).
            pub generations_retired: u64,
            /// Deaths that proved the peer closed a connection
            /// ([`Manager::peer_closed`](crate::pool::Manager::peer_closed))
            /// and made every connection last known alive before them
            /// suspect. Deaths an earlier such event already explained
            /// are not counted again.
            pub suspect_events: u64,
            /// Validation pings sent only because the connection was
            /// suspect (used within `validate_after_idle`, but last known
            /// alive before a suspect event).
            pub suspect_validations: u64,
            /// Suspect connections whose validation failed: discarded and
            /// replaced before anyone used them (also counted in
            /// `validation_failed`).
            pub suspect_found_dead: u64,
            $($more)*
        }
    };
    ($(#[$meta:meta])* pub struct CoreStats {}) => {
        $crate::pool::with_core_stats!(@struct [$(#[$meta])*] CoreStats {});
    };
    ($(#[$meta:meta])* pub struct $name:ident { $($more:tt)+ }) => {
        $crate::pool::with_core_stats!(@struct [$(#[$meta])*] $name { $($more)+ });

        impl From<$crate::pool::CoreStats> for $name {
            fn from(core: $crate::pool::CoreStats) -> Self {
                $name {
                    max_open: core.max_open,
                    open: core.open,
                    in_use: core.in_use,
                    idle: core.idle,
                    waiting: core.waiting,
                    wait_count: core.wait_count,
                    wait_duration: core.wait_duration,
                    max_idle_closed: core.max_idle_closed,
                    max_idle_time_closed: core.max_idle_time_closed,
                    max_lifetime_closed: core.max_lifetime_closed,
                    validation_failed: core.validation_failed,
                    keepalive_failed: core.keepalive_failed,
                    broken_closed: core.broken_closed,
                    resets: core.resets,
                    keepalives: core.keepalives,
                    connections_created: core.connections_created,
                    connect_errors: core.connect_errors,
                    timeouts: core.timeouts,
                    exhausted: core.exhausted,
                    leaks_reported: core.leaks_reported,
                    goodbyes_abandoned: core.goodbyes_abandoned,
                    generation: core.generation,
                    generations_retired: core.generations_retired,
                    suspect_events: core.suspect_events,
                    suspect_validations: core.suspect_validations,
                    suspect_found_dead: core.suspect_found_dead,
                    ..Self::default()
                }
            }
        }
    };
}
pub(crate) use with_core_stats;

with_core_stats! {
    /// A snapshot of a [`GenericPool`](super::GenericPool): Go's `DBStats`,
    /// plus what it takes to see a pool absorbing dead connections.
    ///
    /// Gauges (`open`, `in_use`, `idle`, `waiting`) are read under the pool's
    /// lock, so they agree with each other; counters only grow. The MySQL
    /// [`Pool`](crate::Pool) reports these fields, under the same names, in
    /// its [`PoolStats`](crate::PoolStats), with its exec path's counters
    /// after them.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct CoreStats {}
}

/// Why a connection left the pool for good; each has its counter, its log
/// line and (through a [`PoolObserver`](super::PoolObserver)) its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Returned while `max_idle` connections were already idle.
    MaxIdle,
    /// Over a lowered `max_open` (a live reconfigure): the idle surplus at
    /// once, the in-use surplus as it is returned.
    MaxOpen,
    /// Idle past `max_idle_time`.
    IdleTime,
    /// Past `max_lifetime`.
    Lifetime,
    /// Its validation ping before hand-out failed or timed out.
    ValidationFailed,
    /// Its keepalive ping failed or timed out.
    KeepaliveFailed,
    /// Returned broken, or its work was cancelled half-way.
    Broken,
    /// Its reset on return failed or timed out.
    ResetFailed,
    /// Closed to make room for a guaranteed new connection.
    Replaced,
    /// Its user discarded it.
    Discarded,
    /// Opened before the pool retired its generation (new credentials).
    Retired,
    /// The pool was closed.
    Closed,
}

impl CloseReason {
    /// Every reason, for code that registers one metric per reason.
    pub const ALL: [CloseReason; 12] = [
        CloseReason::MaxIdle,
        CloseReason::MaxOpen,
        CloseReason::IdleTime,
        CloseReason::Lifetime,
        CloseReason::ValidationFailed,
        CloseReason::KeepaliveFailed,
        CloseReason::Broken,
        CloseReason::ResetFailed,
        CloseReason::Replaced,
        CloseReason::Discarded,
        CloseReason::Retired,
        CloseReason::Closed,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CloseReason::MaxIdle => "max_idle reached",
            CloseReason::MaxOpen => "over a lowered max_open",
            CloseReason::IdleTime => "idle past max_idle_time",
            CloseReason::Lifetime => "past max_lifetime",
            CloseReason::ValidationFailed => "validation ping failed or timed out",
            CloseReason::KeepaliveFailed => "keepalive ping failed or timed out",
            CloseReason::Broken => "returned broken",
            CloseReason::ResetFailed => "reset on return failed",
            CloseReason::Replaced => "replaced by a new connection for a retry",
            CloseReason::Discarded => "discarded by its user",
            CloseReason::Retired => "opened before its generation was retired",
            CloseReason::Closed => "pool closed",
        }
    }

    /// Whether the connection is healthy enough to be sent a goodbye. A
    /// broken one, or one in an unknown state, would only make the goodbye
    /// wait on a dead peer.
    pub(crate) fn is_polite(self) -> bool {
        match self {
            CloseReason::MaxIdle
            | CloseReason::MaxOpen
            | CloseReason::IdleTime
            | CloseReason::Lifetime
            | CloseReason::Replaced
            | CloseReason::Retired
            | CloseReason::Closed => true,
            CloseReason::ValidationFailed
            | CloseReason::KeepaliveFailed
            | CloseReason::Broken
            | CloseReason::ResetFailed
            | CloseReason::Discarded => false,
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
    pub(crate) exhausted: AtomicU64,
    pub(crate) leaks_reported: AtomicU64,
    pub(crate) goodbyes_abandoned: AtomicU64,
    pub(crate) generations_retired: AtomicU64,
    pub(crate) suspect_events: AtomicU64,
    pub(crate) suspect_validations: AtomicU64,
    pub(crate) suspect_found_dead: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self, why: CloseReason) {
        let counter = match why {
            // As Go's `MaxIdleClosed`, which counts both.
            CloseReason::MaxIdle | CloseReason::MaxOpen => &self.max_idle_closed,
            CloseReason::IdleTime => &self.max_idle_time_closed,
            CloseReason::Lifetime => &self.max_lifetime_closed,
            CloseReason::ValidationFailed => &self.validation_failed,
            CloseReason::KeepaliveFailed => &self.keepalive_failed,
            CloseReason::Broken | CloseReason::ResetFailed | CloseReason::Discarded => {
                &self.broken_closed
            }
            CloseReason::Replaced | CloseReason::Retired | CloseReason::Closed => return,
        };
        Self::bump(counter);
    }

    pub(crate) fn waited(&self, waited: Duration) {
        Self::bump(&self.wait_count);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Relaxed);
    }

    /// Fills the counter fields of `stats`.
    pub(crate) fn read_into(&self, stats: &mut CoreStats) {
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
        stats.exhausted = self.exhausted.load(Relaxed);
        stats.leaks_reported = self.leaks_reported.load(Relaxed);
        stats.goodbyes_abandoned = self.goodbyes_abandoned.load(Relaxed);
        stats.generations_retired = self.generations_retired.load(Relaxed);
        stats.suspect_events = self.suspect_events.load(Relaxed);
        stats.suspect_validations = self.suspect_validations.load(Relaxed);
        stats.suspect_found_dead = self.suspect_found_dead.load(Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::CloseReason;

    /// The metrics index their counters by discriminant: `ALL` must list
    /// every reason in declaration order.
    #[test]
    fn all_close_reasons_are_listed_in_declaration_order() {
        for (i, why) in CloseReason::ALL.into_iter().enumerate() {
            assert_eq!(why as usize, i, "{why:?}");
        }
    }
}
