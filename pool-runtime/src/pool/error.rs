//! Why an acquire failed.

use std::fmt;
use std::time::Duration;

use super::stats::CoreStats;

/// Why the pool could not hand out a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError<E: std::error::Error + 'static> {
    /// The acquire ran out of time: `acquire_timeout`, or the bound given
    /// to `get_timeout`. `phase` says what it was doing then (waiting in
    /// line, opening a connection, or validating an idle one), and `stats`
    /// is the pool as it was at that moment; the message names both, and the
    /// fix for that phase.
    #[error(
        "no connection within {waited:?} ({}): timed out {}; {}; {}",
        bound_name(*.per_call),
        phase.doing(),
        snapshot(*.phase, stats),
        phase.fix()
    )]
    Timeout {
        /// How long the acquire waited.
        waited: Duration,
        /// Whether that bound was the call's own (`get_timeout`) rather than
        /// the pool's `acquire_timeout`.
        per_call: bool,
        /// What the acquire was doing when its time ran out.
        phase: AcquirePhase,
        /// The configured limit (0 = unlimited).
        max_open: u32,
        /// Connections in use when it gave up.
        in_use: u64,
        /// Other acquires waiting when it gave up.
        waiting: u64,
        /// The pool's stats when it gave up (boxed: errors stay small).
        stats: Box<CoreStats>,
    },

    /// A [`try_get`](super::GenericPool::try_get) found no idle connection
    /// and no free permit to open one, and does not wait.
    #[error(
        "the pool is exhausted: {in_use} of max_open {max_open} in use, {waiting} waiting, \
         none idle; try_get does not wait (use get or get_timeout to wait)"
    )]
    Exhausted {
        /// The configured limit (0 = unlimited).
        max_open: u32,
        /// Connections in use at that moment.
        in_use: u64,
        /// Acquires waiting at that moment.
        waiting: u64,
    },

    /// The pool was closed; no new connections are handed out.
    #[error("the pool is closed: it hands out no more connections")]
    Closed,

    /// Opening a new connection failed.
    #[error("could not open a new connection")]
    Connect(#[source] E),

    /// Opening a new connection took longer than `connect_timeout`.
    #[error(
        "opening a new connection took longer than {0:?} (connect_timeout): \
         is the server reachable and not overloaded?"
    )]
    ConnectTimeout(Duration),

    /// The pool was created outside a Tokio runtime.
    #[error(
        "the pool must be created inside a Tokio runtime: its maintenance task runs there \
         (create it from async code, or inside Runtime::block_on)"
    )]
    NoRuntime,
}

fn bound_name(per_call: bool) -> &'static str {
    if per_call {
        "the timeout given to get_timeout"
    } else {
        "acquire_timeout"
    }
}

/// What a timed-out acquire was doing when its time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AcquirePhase {
    /// In line for a connection or a permit to open one: every connection
    /// was in use.
    Waiting,
    /// Opening a new connection (TCP, TLS, authentication, init SQL).
    Connecting,
    /// Pinging an idle connection before handing it out.
    Validating,
}

impl AcquirePhase {
    /// The phase's name in metrics and logs: `waiting`, `connecting`,
    /// `validating`.
    pub fn as_str(self) -> &'static str {
        match self {
            AcquirePhase::Waiting => "waiting",
            AcquirePhase::Connecting => "connecting",
            AcquirePhase::Validating => "validating",
        }
    }

    fn doing(self) -> &'static str {
        match self {
            AcquirePhase::Waiting => "waiting for a connection to be returned",
            AcquirePhase::Connecting => "opening a new connection",
            AcquirePhase::Validating => "validating an idle connection (its ping got no answer)",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            AcquirePhase::Waiting => {
                "every connection was in use: raise max_open, hold connections for shorter, \
                 or set leak_threshold to find code that keeps them"
            }
            AcquirePhase::Connecting => {
                "the server was slow to accept a connection: is it reachable and not \
                 overloaded? keep connect_timeout below acquire_timeout so a slow connect \
                 fails with its own error, and min_idle above 0 so acquires rarely connect"
            }
            AcquirePhase::Validating => {
                "an idle connection did not answer its ping: the network may drop idle \
                 flows silently; keep validation_timeout well below acquire_timeout (or \
                 leave it adaptive), and set keepalive_interval or tcp_keepalive"
            }
        }
    }
}

impl fmt::Display for AcquirePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The numbers of a snapshot that explain a timeout in `phase`.
fn snapshot(phase: AcquirePhase, stats: &CoreStats) -> String {
    let mut text = format!(
        "pool then: {} of max_open {} in use, {} idle, {} open, {} more waiting",
        stats.in_use,
        max_open_text(stats.max_open),
        stats.idle,
        stats.open,
        stats.waiting
    );
    match phase {
        AcquirePhase::Waiting => {}
        AcquirePhase::Connecting => text.push_str(&format!(
            ", {} connects failed so far, {} opened",
            stats.connect_errors, stats.connections_created
        )),
        AcquirePhase::Validating => text.push_str(&format!(
            ", {} earlier validation pings failed",
            stats.validation_failed
        )),
    }
    text
}

fn max_open_text(max_open: u32) -> String {
    match max_open {
        0 => "unlimited".to_owned(),
        n => n.to_string(),
    }
}
