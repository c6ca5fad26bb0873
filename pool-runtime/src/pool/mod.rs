//! The generic pool core.
//!
//! [`GenericPool`] implements the pool's semantics (Go `database/sql`'s,
//! improved) over any [`Manager`], with its own [`Limits`]; the MySQL
//! [`Pool`](crate::Pool) is built on a `GenericPool` of MySQL connections,
//! with statement helpers on top. Being generic lets the core be tested,
//! benchmarked and stress-tested without a server. The core knows nothing
//! of MySQL, of config loading or of the checks the MySQL pool runs at start.
//!
//! # Semantics
//!
//! - At most `max_open` connections exist at any instant, counting those
//!   being opened, validated or reset (`0` = unlimited): each holds one
//!   *permit*. A connection being closed keeps its place until its goodbye
//!   has been said (or abandoned), so a retiring connection's replacement
//!   never overlaps it.
//! - Up to `max_idle` returned connections are kept; more are closed.
//! - Acquires that find nothing free wait in a first-come, first-served
//!   line, up to `acquire_timeout` (or the bound given to
//!   [`get_timeout`](GenericPool::get_timeout)); [`try_get`](GenericPool::try_get)
//!   never waits in line.
//! - A connection idle longer than `validate_after_idle` is pinged before it
//!   is handed out, within the validation timeout; a failure discards it
//!   and the acquire goes on with the next one, unseen by the caller.
//! - When a connection dies in a way that proves its peer closed it
//!   ([`Manager::peer_closed`]), every connection last known alive before
//!   then is *suspect*: validated before its next hand-out even if it was
//!   used a moment ago (see `suspect.rs`).
//! - Connections past `max_lifetime` (jittered) or idle past `max_idle_time`
//!   are never handed out; the maintenance task also retires them, keeps
//!   `min_idle` open and sends keepalives.
//! - A connection returned broken is dropped; one returned dirty is reset
//!   first, off the caller's path.
//! - Acquire is cancel-safe: dropping its future at any point leaks nothing
//!   and never hands out a half-used connection.
//!
//! # Layout
//!
//! [`GenericPool`] (this file) is the public face. Behind it, `PoolInner`
//! (`inner.rs`) is what all handles share; `state.rs` holds the moves made
//! under its lock, which do no I/O; `acquire.rs`, `check_in.rs`, `ping.rs`,
//! `closing.rs` and `maintenance.rs` are the paths that do, with the guards
//! of `flight.rs` keeping counts right when they are cancelled. `leak.rs`
//! tracks checkouts, `rtt.rs` learns the validation timeout, `stats.rs`
//! counts, and `observe.rs` is the hook that metrics watch through.

mod acquire;
mod check_in;
mod closing;
mod drain;
mod error;
mod expiry;
mod flight;
mod guard;
mod inner;
mod leak;
mod limits;
mod maintenance;
mod manager;
mod observe;
mod ping;
mod probe;
mod reconfigure;
mod rtt;
mod state;
mod stats;
mod suspect;
mod tracked;
mod warm_up;

use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

pub use drain::DrainReport;
pub use error::{AcquirePhase, PoolError};
pub use guard::Pooled;
pub use inner::GenerationSwitch;
pub use limits::{Limits, LimitsError};
pub use manager::Manager;
pub use observe::{Occupancy, PoolObserver};
pub use probe::Probe;
pub(crate) use stats::with_core_stats;
pub use stats::{CloseReason, CoreStats};
pub use warm_up::WarmUpError;

use acquire::Bound;
use drain::Overdue;
use inner::PoolInner;

/// The interrupt hook of a drain that has none.
type NoInterrupt = fn(Vec<u64>) -> std::future::Ready<u64>;

/// A connection pool over any [`Manager`]. Cheap to clone: clones share one
/// pool.
///
/// ```
/// use std::convert::Infallible;
/// use pool_runtime::pool::{GenericPool, Limits, Manager};
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
/// let pool = GenericPool::new(Numbers, Limits::default()).unwrap();
/// let conn = pool.get().await.unwrap();
/// assert_eq!(*conn, 7);
/// assert_eq!(pool.stats().in_use, 1);
/// drop(conn);
/// assert_eq!(pool.stats().idle, 1);
/// # }
/// ```
pub struct GenericPool<M: Manager> {
    inner: Arc<PoolInner<M>>,
}

impl<M: Manager> Clone for GenericPool<M> {
    fn clone(&self) -> Self {
        GenericPool {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<M: Manager> GenericPool<M> {
    /// Creates an empty pool and starts its maintenance task, which opens
    /// `min_idle` connections right away. Opens nothing else: the first
    /// acquire does. Must be called inside a Tokio runtime.
    pub fn new(manager: M, limits: Limits) -> Result<Self, PoolError<M::Error>> {
        Self::start(manager, limits, None)
    }

    /// Like [`new`](Self::new), with an [`observer`](PoolObserver) told of
    /// the pool's events from the start (the crate's `metrics` feature
    /// uses it).
    pub fn with_observer(
        manager: M,
        limits: Limits,
        observer: Arc<dyn PoolObserver>,
    ) -> Result<Self, PoolError<M::Error>> {
        Self::start(manager, limits, Some(observer))
    }

    fn start(
        manager: M,
        limits: Limits,
        observer: Option<Arc<dyn PoolObserver>>,
    ) -> Result<Self, PoolError<M::Error>> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PoolError::NoRuntime)?;
        let every = limits.maintenance_interval.max(Duration::from_millis(1));
        let inner = Arc::new(PoolInner::new(manager, limits, observer));
        let closing = inner.closing.subscribe();
        runtime.spawn(maintenance::run(Arc::downgrade(&inner), closing, every));
        let nudge = Arc::clone(&inner.expiry_nudge);
        let closing = inner.closing.subscribe();
        runtime.spawn(expiry::run(Arc::downgrade(&inner), nudge, closing));
        Ok(GenericPool { inner })
    }

    /// Waits for a connection: an idle one (pinged first if it sat idle past
    /// `validate_after_idle`), a new one, or one returned by another task.
    /// Fails with [`PoolError::Timeout`] after `acquire_timeout`, or at once
    /// when the pool is closed or opening a connection fails.
    ///
    /// Cancel-safe. The call site is remembered for the leak warning.
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.inner
            .acquire(false, self.inner.acquire_bound(), caller)
    }

    /// Like [`get`](Self::get), bounded by `timeout` instead of the pool's
    /// `acquire_timeout` (longer or shorter). Its [`PoolError::Timeout`]
    /// says which bound ran out. Cancel-safe.
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        let bound = Bound {
            limit: timeout,
            per_call: true,
        };
        self.inner.acquire(false, bound, caller)
    }

    /// A connection without waiting for another task: an idle one, or a new
    /// one if a permit is free. When every permit is taken (or other
    /// acquires are already waiting, who come first), it fails at once with
    /// [`PoolError::Exhausted`].
    ///
    /// It does not wait for a connection to be returned, nor for a permit to
    /// be freed, and `acquire_timeout` does not apply. It may still do I/O:
    /// an idle connection past `validate_after_idle` is pinged first (within
    /// the validation timeout; one that fails is discarded and the next is
    /// tried), and a new connection is opened within `connect_timeout`.
    /// Cancel-safe.
    #[track_caller]
    pub fn try_get(
        &self,
    ) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.inner.try_acquire(caller)
    }

    /// Like [`get`](Self::get), but always a newly opened connection: never
    /// an idle or returned one. When the pool is full, the oldest idle
    /// connection is closed to make room, or the next one returned is.
    /// The MySQL pool's exec path uses it for its last attempt, as Go's
    /// `database/sql` does.
    #[track_caller]
    pub fn get_new(
        &self,
    ) -> impl Future<Output = Result<Pooled<M>, PoolError<M::Error>>> + Send + '_ {
        let caller = Location::caller();
        self.inner.acquire(true, self.inner.acquire_bound(), caller)
    }

    /// Counters and gauges, as Go's `DBStats` and more.
    pub fn stats(&self) -> CoreStats {
        self.inner.stats()
    }

    /// The limits the pool runs with now (they change with
    /// [`reconfigure`](Self::reconfigure)).
    pub fn limits(&self) -> Limits {
        Limits::clone(&self.inner.limits.snapshot())
    }

    /// Puts new limits in force without dropping the pool; returns the
    /// ones they replaced. Shrinking `max_open` or `max_idle` closes the
    /// idle surplus at once and the in-use surplus as it is returned (the
    /// pool never takes a connection from its user); growing `max_open`
    /// lets waiters in at once. A new `max_lifetime` applies to the
    /// connections already open, from their opening time; a raised
    /// `min_idle` is filled by the next maintenance pass.
    ///
    /// `maintenance_interval` and `reset_every_return` are fixed when the
    /// pool is created: a different value is [`LimitsError::NotLive`], and
    /// nothing changes. The core checks nothing else (the MySQL
    /// [`Pool::reconfigure`](crate::Pool::reconfigure) judges the values
    /// against the server first).
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use pool_runtime::pool::{GenericPool, Limits, Manager};
    /// # struct Numbers;
    /// # impl Manager for Numbers {
    /// #     type Connection = u64;
    /// #     type Error = Infallible;
    /// #     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
    /// #     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_broken(&self, _: &u64) -> bool { false }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = GenericPool::new(Numbers, Limits::default()).unwrap();
    /// let mut bigger = pool.limits();
    /// bigger.max_open = 64;
    /// let old = pool.reconfigure(bigger).await.unwrap();
    /// assert_eq!((old.max_open, pool.limits().max_open), (10, 64));
    /// # }
    /// ```
    pub async fn reconfigure(&self, limits: Limits) -> Result<Limits, LimitsError> {
        self.inner.reconfigure(limits).await
    }

    /// The connection manager.
    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Closes the pool: new acquires fail with [`PoolError::Closed`], waiting
    /// ones are woken with it, idle connections are closed politely now, and
    /// connections in use are closed as they come back. Returns once every
    /// connection is closed, so it waits for users to return theirs.
    ///
    /// Each goodbye ([`Manager::close`]) gets `connect_timeout`; one that
    /// takes longer is abandoned (the connection dropped without it). Returns
    /// how many goodbyes were abandoned while it waited (also counted in
    /// [`CoreStats::goodbyes_abandoned`], and logged).
    pub async fn close(&self) -> u64 {
        self.inner.close_pool().await
    }

    /// Retires every connection open or being opened now, for instance
    /// after the credentials changed: idle ones are closed at once
    /// (politely), those in use when they are returned, and connects under
    /// way when they finish and are returned. Connections opened from now
    /// on are kept as usual. Returns how many idle connections were closed.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use pool_runtime::pool::{GenericPool, Limits, Manager};
    /// # struct Numbers;
    /// # impl Manager for Numbers {
    /// #     type Connection = u64;
    /// #     type Error = Infallible;
    /// #     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
    /// #     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_broken(&self, _: &u64) -> bool { false }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = GenericPool::new(Numbers, Limits::default()).unwrap();
    /// let kept = pool.get().await.unwrap();
    /// drop(pool.get().await.unwrap()); // one idle
    /// assert_eq!(pool.retire_older(), 1);
    /// drop(kept); // retired on return
    /// assert_eq!(pool.stats().idle, 0);
    /// # }
    /// ```
    pub fn retire_older(&self) -> usize {
        self.inner.retire_older()
    }

    /// Retires generation `from` (and any older one), if it is still the
    /// current one: idle connections of it are closed now, those in use as
    /// they come back, and connections opened from now on join the next
    /// generation. For a pool whose target moved (the MySQL pool calls it
    /// on a read-only error). Of many callers that saw the same
    /// generation, exactly one switches and gets `Some`; the others `None`.
    /// Logged as a warning with the counts.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use pool_runtime::pool::{GenericPool, Limits, Manager};
    /// # struct Numbers;
    /// # impl Manager for Numbers {
    /// #     type Connection = u64;
    /// #     type Error = Infallible;
    /// #     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
    /// #     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_broken(&self, _: &u64) -> bool { false }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = GenericPool::new(Numbers, Limits::default()).unwrap();
    /// let conn = pool.get().await.unwrap();
    /// let seen = conn.generation();
    /// let switch = pool.retire_generation(seen).unwrap();
    /// assert_eq!((switch.from, switch.to), (0, 1));
    /// assert!(pool.retire_generation(seen).is_none(), "already switched");
    /// drop(conn); // retired on return
    /// assert_eq!(pool.stats().idle, 0);
    /// # }
    /// ```
    pub fn retire_generation(&self, from: u64) -> Option<GenerationSwitch> {
        self.inner.retire_generation(from)
    }

    /// The generation connections opened now join.
    pub fn generation(&self) -> u64 {
        self.inner.generation()
    }

    /// Asks whether the server answers, without waiting in line behind
    /// users: pings an idle connection (within the validation bound), or
    /// opens a new one on a free permit (within `connect_timeout`), also
    /// when the idle one failed its ping. When every permit is taken it
    /// answers [`Probe::Saturated`] without asking the server. A connection
    /// it pinged or opened goes back to the pool. Cancel-safe.
    pub async fn probe(&self) -> Probe<M::Error> {
        self.inner.probe().await
    }

    /// Waits until `min_idle` connections are open (capped by `max_idle`
    /// and `max_open`), opening the missing ones concurrently and retrying
    /// failed connects, for at most `within`. The pool is usable meanwhile
    /// and stays open when this fails.
    pub async fn warm_up(&self, within: Duration) -> Result<(), WarmUpError<M::Error>> {
        self.inner.warm_up(within).await
    }

    /// Closes the pool within `deadline`: new acquires fail with
    /// [`PoolError::Closed`] at once and waiting ones are woken with it,
    /// idle connections are closed now, and those in use are waited for up
    /// to `deadline`. Those still in use then are *forced*: the drain stops
    /// waiting for them and they are closed when they come back (the pool
    /// never takes a connection from its user). Returns by `deadline`;
    /// goodbyes still running then are counted as pending.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use std::time::Duration;
    /// # use pool_runtime::pool::{GenericPool, Limits, Manager};
    /// # struct Numbers;
    /// # impl Manager for Numbers {
    /// #     type Connection = u64;
    /// #     type Error = Infallible;
    /// #     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
    /// #     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
    /// #     fn is_broken(&self, _: &u64) -> bool { false }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pool = GenericPool::new(Numbers, Limits::default()).unwrap();
    /// let held = pool.get().await.unwrap();
    /// let report = pool.close_within(Duration::from_millis(50)).await;
    /// assert_eq!((report.in_use_at_start, report.forced), (1, 1));
    /// drop(held); // closed as it comes back
    /// # }
    /// ```
    pub async fn close_within(&self, deadline: Duration) -> DrainReport {
        self.inner
            .drain(deadline, None::<Overdue<NoInterrupt>>)
            .await
    }

    /// Like [`close_within`](Self::close_within), and at the deadline calls
    /// `interrupt` with the server's session ids
    /// ([`Manager::session_id`]) of the connections still open (in use, or
    /// in flight), then waits up to `grace` more for them to come back.
    /// `interrupt` returns how many statements it ended (the MySQL pool
    /// sends `KILL QUERY` for each). Returns by `deadline`, plus the hook's
    /// own time, plus `grace`.
    pub async fn close_within_interrupting<F, Fut>(
        &self,
        deadline: Duration,
        grace: Duration,
        interrupt: F,
    ) -> DrainReport
    where
        F: FnOnce(Vec<u64>) -> Fut,
        Fut: Future<Output = u64>,
    {
        let overdue = Overdue { interrupt, grace };
        self.inner.drain(deadline, Some(overdue)).await
    }

    /// Puts an already open connection in the pool as idle, if there is
    /// room (the MySQL pool's first connection); otherwise it is closed.
    /// `took`: how long it took to open, counted as any connect (the RTT
    /// estimate, the create-time metric).
    pub(crate) fn adopt(&self, raw: M::Connection, took: Duration) {
        self.inner.adopt(raw, took);
    }

    /// Runs one maintenance pass now, as the timer would: retires expired
    /// and idle-too-long connections, sends due keepalives, opens up to
    /// `min_idle`, reports leaks. For tests, which must not wait for the
    /// timer; waits for a pass the timer is running.
    #[cfg(any(test, feature = "testkit"))]
    pub async fn run_maintenance(&self) {
        self.inner.maintain().await;
    }
}

impl<M: Manager> std::fmt::Debug for GenericPool<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenericPool")
            .field("limits", &self.inner.limits.snapshot())
            .field("stats", &self.inner.stats())
            .finish()
    }
}
