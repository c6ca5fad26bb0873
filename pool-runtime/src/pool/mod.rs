//! The generic pool core.
//!
//! [`GenericPool`] implements the pool's semantics (Go `database/sql`'s,
//! improved) over any [`Manager`]; the MySQL [`Pool`](crate::Pool) is a
//! `GenericPool<MySqlManager>` with statement helpers on top. Being generic
//! lets the core be tested, benchmarked and stress-tested without a server.
//!
//! # Semantics
//!
//! - At most `max_open` connections exist at any instant, counting those
//!   being opened, validated or reset (`0` = unlimited).
//! - Up to `max_idle` returned connections are kept; more are closed.
//! - Acquires that find nothing free wait in a first-come, first-served
//!   line, up to `acquire_timeout`.
//! - A connection idle longer than `validate_after_idle` is pinged before it
//!   is handed out, within the validation timeout; a failure discards it
//!   and the acquire goes on with the next one, unseen by the caller.
//! - Connections past `max_lifetime` (jittered) or idle past `max_idle_time`
//!   are never handed out; the maintenance task also retires them, keeps
//!   `min_idle` open and sends keepalives.
//! - A connection returned broken is dropped; one returned dirty is reset
//!   first, off the caller's path.
//! - Acquire is cancel-safe: dropping its future at any point leaks nothing
//!   and never hands out a half-used connection.

mod acquire;
mod error;
mod flight;
mod guard;
mod maintenance;
mod manager;
pub(crate) mod rtt;
mod shared;
mod stats;
mod tracked;

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

pub use error::PoolError;
pub use guard::Pooled;
pub use manager::Manager;
pub(crate) use stats::Counters;
pub use stats::PoolStats;

use crate::options::PoolOptions;
use shared::Shared;

/// A connection pool over any [`Manager`]. Cheap to clone: clones share one
/// pool.
///
/// ```
/// use std::convert::Infallible;
/// use pool_runtime::PoolOptions;
/// use pool_runtime::pool::{GenericPool, Manager};
///
/// struct Numbers;
/// impl Manager for Numbers {
///     type Connection = u64;
///     type Error = Infallible;
///     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
///     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
///     fn is_broken(&self, _: &u64) -> bool { false }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pool = GenericPool::new(Numbers, PoolOptions::default()).unwrap();
/// let conn = pool.get().await.unwrap();
/// assert_eq!(*conn, 7);
/// assert_eq!(pool.stats().in_use, 1);
/// drop(conn);
/// assert_eq!(pool.stats().idle, 1);
/// # }
/// ```
pub struct GenericPool<M: Manager> {
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Clone for GenericPool<M> {
    fn clone(&self) -> Self {
        GenericPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<M: Manager> GenericPool<M> {
    /// Creates an empty pool and starts its maintenance task, which opens
    /// `min_idle` connections right away. Opens nothing else: the first
    /// acquire does. Must be called inside a Tokio runtime.
    pub fn new(manager: M, options: PoolOptions) -> Result<Self, PoolError<M::Error>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PoolError::NoRuntime)?;
        let every = options
            .maintenance_interval
            .max(std::time::Duration::from_millis(1));
        let shared = Arc::new(Shared::new(manager, options));
        let closing = shared.closing.subscribe();
        runtime.spawn(maintenance::run(Arc::downgrade(&shared), closing, every));
        Ok(GenericPool { shared })
    }

    /// Waits for a connection: an idle one (pinged first if it sat idle past
    /// `validate_after_idle`), a new one, or one returned by another task.
    /// Fails after `acquire_timeout`, or at once when the pool is closed or
    /// opening a connection fails.
    ///
    /// The call site is remembered for the leak warning.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.shared.acquire(false, caller)
    }

    /// Like [`get`](Self::get), but always a newly opened connection: never
    /// an idle or returned one. When the pool is full, the oldest idle
    /// connection is closed to make room, or the next one returned is.
    /// The exec path's last attempt uses it, as Go's `database/sql` does.
    #[track_caller]
    pub fn get_new(
        &self,
    ) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.shared.acquire(true, caller)
    }

    /// Counters and gauges, as Go's `DBStats` and more.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// The options the pool runs with.
    pub fn options(&self) -> &PoolOptions {
        &self.shared.options
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    /// The connection manager.
    pub fn manager(&self) -> &M {
        &self.shared.manager
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// Closes the pool: new acquires fail with [`PoolError::Closed`], waiting
    /// ones are woken with it, idle connections are closed politely now, and
    /// connections in use are closed as they come back. Returns once every
    /// connection is closed (its goodbye sent), so it waits for users to
    /// return theirs.
    pub async fn close(&self) {
        let idle = self.shared.shut();
        self.shared.closing.send_replace(true);
        let mut closing = tokio::task::JoinSet::new();
        for conn in idle {
            let shared = Arc::clone(&self.shared);
            closing.spawn(async move { shared.manager.close(conn.raw).await });
        }
        while closing.join_next().await.is_some() {}
        self.shared.drained().await;
    }

    /// Puts an already open connection in the pool as idle, if there is
    /// room (the boot connection); otherwise it is dropped.
    pub(crate) fn adopt(&self, raw: M::Connection) {
        self.shared.adopt(raw);
    }

    /// Runs one maintenance pass now (tests use it to avoid waiting for the
    /// timer).
    #[doc(hidden)]
    pub async fn run_maintenance(&self) {
        self.shared.maintain().await;
    }
}

impl<M: Manager> std::fmt::Debug for GenericPool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericPool")
            .field("options", &self.shared.options)
            .field("stats", &self.shared.stats())
            .finish()
    }
}
