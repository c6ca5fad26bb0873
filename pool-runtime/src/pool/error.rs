//! Why an acquire failed.

use std::time::Duration;

/// Why the pool could not hand out a connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError<E: std::error::Error + 'static> {
    /// Every connection stayed busy for the whole time the acquire could
    /// wait: `acquire_timeout`, or the bound given to `get_timeout`.
    #[error(
        "no connection became free within {waited:?} ({}): {in_use} of max_open \
         {max_open} in use, {waiting} more waiting; raise max_open, hold connections for \
         shorter, or set leak_threshold to find code that keeps them",
        bound_name(*.per_call)
    )]
    Timeout {
        /// How long the acquire waited.
        waited: Duration,
        /// Whether that bound was the call's own (`get_timeout`) rather than
        /// the pool's `acquire_timeout`.
        per_call: bool,
        /// The configured limit (0 = unlimited).
        max_open: u32,
        /// Connections in use when it gave up.
        in_use: u64,
        /// Other acquires waiting when it gave up.
        waiting: u64,
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
