//! A hook for watching a pool work: metrics, without the core knowing them.
//!
//! A [`GenericPool`](super::GenericPool) built with
//! [`with_observer`](super::GenericPool::with_observer) calls its
//! [`PoolObserver`] at each event that a dashboard counts: an acquire served
//! or timed out, a connection opened, returned or closed, and every change
//! of occupancy. A pool built with [`new`](super::GenericPool::new) has no
//! observer, and each hook costs one branch on an `Option`.
//!
//! The crate's `metrics` feature implements it with the OpenTelemetry
//! names (`pool_runtime::metrics`); the core knows nothing of that.

use std::time::Duration;

use super::error::AcquirePhase;
use super::limits::Limits;
use super::stats::CloseReason;

/// Where a pool's connections are, read under the pool's lock after a move:
/// consistent with each other, and the latest reading is the pool's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Occupancy {
    /// Permits handed out: connections open, being opened or in flight.
    pub open: u64,
    /// Connections (or permits to open one) handed to acquirers.
    pub in_use: u64,
    /// Connections waiting in the idle list.
    pub idle: u64,
    /// Acquires waiting in line.
    pub waiting: u64,
}

/// Watches a pool's events. Every method has a no-op default: implement the
/// ones you need.
///
/// The methods are called on the pool's paths, some under its lock
/// ([`occupancy`](Self::occupancy)): they must be quick, must not block and
/// must not call back into the pool.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
/// use std::time::Duration;
/// use pool_runtime::pool::{GenericPool, Limits, PoolObserver};
/// use pool_runtime::testkit::MemoryManager;
///
/// #[derive(Default)]
/// struct Opens(AtomicU64);
/// impl PoolObserver for Opens {
///     fn connected(&self, _took: Duration) {
///         self.0.fetch_add(1, Relaxed);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let opens = Arc::new(Opens::default());
/// let pool = GenericPool::with_observer(MemoryManager::new(), Limits::default(), opens.clone())
///     .unwrap();
/// drop(pool.get().await.unwrap());
/// assert_eq!(opens.0.load(Relaxed), 1);
/// # }
/// ```
pub trait PoolObserver: Send + Sync + 'static {
    /// The pool's limits: once when it is created (and again whenever they
    /// change).
    fn limits(&self, limits: &Limits) {
        let _ = limits;
    }

    /// The occupancy after a move. Called under the pool's lock, so calls
    /// arrive in the order of the moves and the last one is the truth.
    fn occupancy(&self, now: Occupancy) {
        let _ = now;
    }

    /// An acquire got its connection after `waited` (from its call to the
    /// hand-out: waiting in line, opening and validating included).
    fn acquired(&self, waited: Duration) {
        let _ = waited;
    }

    /// An acquire gave up after its bound, in `phase`.
    fn timed_out(&self, phase: AcquirePhase) {
        let _ = phase;
    }

    /// A new connection opened in `took`.
    fn connected(&self, took: Duration) {
        let _ = took;
    }

    /// Opening a connection failed or timed out.
    fn connect_failed(&self) {}

    /// A user gave a connection back (returned or discarded) after holding
    /// it for `held`.
    fn returned(&self, held: Duration) {
        let _ = held;
    }

    /// A connection left the pool for good, for `why`.
    fn closed(&self, why: CloseReason) {
        let _ = why;
    }

    /// The pool retired its connections' generation; new connections join
    /// generation `now` ([`GenericPool::retire_generation`](super::GenericPool::retire_generation)).
    fn generation_retired(&self, now: u64) {
        let _ = now;
    }

    /// A connection's death proved its peer closed it: every connection
    /// last known alive before it is now suspect (`validate_suspects`).
    fn suspect_event(&self) {}

    /// A suspect connection was pinged before reuse: `alive` (handed out)
    /// or dead (discarded unseen).
    fn suspect_validated(&self, alive: bool) {
        let _ = alive;
    }
}

impl<M: super::Manager> super::inner::PoolInner<M> {
    /// A user gave `conn` back at `now`: its use time, if anyone watches.
    pub(crate) fn observe_return(
        &self,
        conn: &super::tracked::Tracked<M::Connection>,
        now: tokio::time::Instant,
    ) {
        if let Some(observer) = &self.observer {
            observer.returned(now.saturating_duration_since(conn.handed_out_at));
        }
    }

    /// Opening a connection failed, if anyone watches.
    pub(crate) fn observe_connect_failed(&self) {
        if let Some(observer) = &self.observer {
            observer.connect_failed();
        }
    }
}
