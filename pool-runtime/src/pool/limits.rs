//! The limits and timeouts the pool core runs with.
//!
//! The core has its own type rather than reading the MySQL pool's options,
//! which also carry the URL, the start-up checks' policy and the exec path's
//! settings: the core needs none of those, and taking them would tie it to
//! MySQL. Its defaults are not written here a second time: the MySQL pool's
//! options module converts its options into `Limits`, and
//! [`Limits::default`] is the conversion of its defaults.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many connections a [`GenericPool`](super::GenericPool) keeps, and for
/// how long. Plain data: start from [`Limits::default`] and set the fields
/// you care about.
///
/// ```
/// use std::time::Duration;
/// use pool_runtime::pool::Limits;
///
/// let mut limits = Limits::default();
/// limits.max_open = 16;
/// limits.max_idle = 16;
/// limits.max_idle_time = Some(Duration::from_secs(240));
/// ```
///
/// Durations given as `None` switch the limit off. `max_open = 0` means no
/// limit, as in Go's `database/sql`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// Most connections open at once, in use, idle or being opened, checked,
    /// reset or closed (until its goodbye ends); `0` = unlimited.
    pub max_open: u32,
    /// Most idle connections kept; more are closed on return. Values above
    /// `max_open` act as `max_open`.
    pub max_idle: u32,
    /// Idle connections the maintenance task keeps open.
    pub min_idle: u32,
    /// Age at which a connection is retired, from its creation, shortened by
    /// a random 0-2.5% so connections opened together do not expire together.
    pub max_lifetime: Option<Duration>,
    /// Time a connection may sit unused in the pool before it is retired.
    pub max_idle_time: Option<Duration>,
    /// Longest [`get`](super::GenericPool::get) may take, waiting and
    /// connecting included.
    pub acquire_timeout: Duration,
    /// Longest a new connection may take to open. Also bounds each reset on
    /// return and each goodbye when a connection is closed.
    pub connect_timeout: Duration,
    /// Fixed bound on a validation ping. `None` adapts it to the round trips
    /// the pool observes, between 10 ms and 5 s.
    pub validation_timeout: Option<Duration>,
    /// A connection idle longer than this is pinged before it is handed out.
    pub validate_after_idle: Duration,
    /// After a death that proves the peer closed a connection
    /// ([`Manager::peer_closed`](super::Manager::peer_closed)), ping every
    /// connection last known alive before it before its next hand-out.
    pub validate_suspects: bool,
    /// Idle connections are pinged this often. `None`: never.
    pub keepalive_interval: Option<Duration>,
    /// A connection held longer than this logs a warning naming the code that
    /// acquired it. `None`: no leak tracking.
    pub leak_threshold: Option<Duration>,
    /// How often the maintenance task retires, refills and pings.
    pub maintenance_interval: Duration,
    /// Reset every returned connection
    /// ([`Manager::reset`](super::Manager::reset)), not only those the
    /// manager calls dirty ([`Manager::needs_reset`](super::Manager::needs_reset)).
    pub reset_every_return: bool,
}

impl Limits {
    /// `max_open` as a count of connections, `usize::MAX` for unlimited.
    pub(crate) fn open_cap(&self) -> usize {
        match self.max_open {
            0 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
    }

    /// How many idle connections are kept: `max_idle`, never above the open
    /// cap (Go clamps the same way). A count of connections, not a
    /// duration.
    pub(crate) fn idle_cap(&self) -> usize {
        usize::try_from(self.max_idle)
            .unwrap_or(usize::MAX)
            .min(self.open_cap())
    }
}

/// Why [`GenericPool::reconfigure`](super::GenericPool::reconfigure)
/// refused new limits. The pool is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// A limit that only takes effect when the pool is created differs.
    #[error(
        "`{field}` cannot change on a running pool (it is fixed when the pool is created): \
         keep its current value, or build a new pool"
    )]
    NotLive {
        /// The field of [`Limits`].
        field: &'static str,
    },
    /// The pool is closed.
    #[error("the pool is closed: there is nothing to reconfigure")]
    Closed,
}

impl Limits {
    /// The first field that differs and cannot change live, if any.
    pub(crate) fn fixed_difference(&self, new: &Limits) -> Option<&'static str> {
        if self.maintenance_interval != new.maintenance_interval {
            return Some("maintenance_interval");
        }
        if self.reset_every_return != new.reset_every_return {
            return Some("reset_every_return");
        }
        None
    }
}

/// A duration in an atomic: nanoseconds, `u64::MAX` for `None`.
pub(crate) struct AtomicDuration(AtomicU64);

impl AtomicDuration {
    pub(crate) fn new(d: Option<Duration>) -> Self {
        AtomicDuration(AtomicU64::new(Self::encode(d)))
    }

    fn encode(d: Option<Duration>) -> u64 {
        d.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
        })
    }

    pub(crate) fn get(&self) -> Option<Duration> {
        match self.0.load(Relaxed) {
            u64::MAX => None,
            n => Some(Duration::from_nanos(n)),
        }
    }

    pub(crate) fn set(&self, d: Option<Duration>) {
        self.0.store(Self::encode(d), Relaxed);
    }
}

/// The limits of a running pool. They change under a lock
/// ([`replace`](Self::replace)); the values every acquire or return reads
/// are mirrored in atomics, so the hot path pays a relaxed load, not a lock.
pub(crate) struct LiveLimits {
    /// The whole set, for the rare readers (maintenance, `limits()`).
    current: Mutex<Arc<Limits>>,
    max_open: AtomicU32,
    acquire_timeout: AtomicDuration,
    connect_timeout: AtomicDuration,
    validate_after_idle: AtomicDuration,
    validate_suspects: AtomicBool,
    max_idle_time: AtomicDuration,
    max_lifetime: AtomicDuration,
    /// Bumped whenever `max_lifetime` changes, so a returned connection
    /// learns its new expiry once.
    lifetime_epoch: AtomicU64,
    /// Fixed for the pool's life.
    pub(crate) reset_every_return: bool,
}

impl LiveLimits {
    pub(crate) fn new(limits: Limits) -> Self {
        LiveLimits {
            max_open: AtomicU32::new(limits.max_open),
            acquire_timeout: AtomicDuration::new(Some(limits.acquire_timeout)),
            connect_timeout: AtomicDuration::new(Some(limits.connect_timeout)),
            validate_after_idle: AtomicDuration::new(Some(limits.validate_after_idle)),
            validate_suspects: AtomicBool::new(limits.validate_suspects),
            max_idle_time: AtomicDuration::new(limits.max_idle_time),
            max_lifetime: AtomicDuration::new(limits.max_lifetime),
            lifetime_epoch: AtomicU64::new(0),
            reset_every_return: limits.reset_every_return,
            current: Mutex::new(Arc::new(limits)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Arc<Limits>> {
        // Nothing panics under this lock; the stored set is whole either way.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The whole set, as it is now.
    pub(crate) fn snapshot(&self) -> Arc<Limits> {
        Arc::clone(&self.lock())
    }

    /// Puts `new` in force and returns the set it replaced. Callers
    /// serialise replacements themselves (the reconfigure lock).
    pub(crate) fn replace(&self, new: Limits) -> Arc<Limits> {
        let mut current = self.lock();
        self.max_open.store(new.max_open, Relaxed);
        self.acquire_timeout.set(Some(new.acquire_timeout));
        self.connect_timeout.set(Some(new.connect_timeout));
        self.validate_after_idle.set(Some(new.validate_after_idle));
        self.validate_suspects.store(new.validate_suspects, Relaxed);
        self.max_idle_time.set(new.max_idle_time);
        if current.max_lifetime != new.max_lifetime {
            self.max_lifetime.set(new.max_lifetime);
            self.lifetime_epoch.fetch_add(1, Relaxed);
        }
        std::mem::replace(&mut *current, Arc::new(new))
    }

    pub(crate) fn max_open(&self) -> u32 {
        self.max_open.load(Relaxed)
    }

    pub(crate) fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout.get().unwrap_or(Duration::MAX)
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        self.connect_timeout.get().unwrap_or(Duration::MAX)
    }

    pub(crate) fn validate_after_idle(&self) -> Duration {
        self.validate_after_idle.get().unwrap_or(Duration::MAX)
    }

    pub(crate) fn validate_suspects(&self) -> bool {
        self.validate_suspects.load(Relaxed)
    }

    pub(crate) fn max_idle_time(&self) -> Option<Duration> {
        self.max_idle_time.get()
    }

    /// The lifetime new connections get, and the epoch it belongs to.
    pub(crate) fn max_lifetime(&self) -> (Option<Duration>, u64) {
        (self.max_lifetime.get(), self.lifetime_epoch.load(Relaxed))
    }

    pub(crate) fn lifetime_epoch(&self) -> u64 {
        self.lifetime_epoch.load(Relaxed)
    }
}

impl std::fmt::Debug for LiveLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.snapshot().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_max_open_is_unlimited_and_max_idle_never_exceeds_max_open() {
        let mut limits = Limits {
            max_open: 0,
            max_idle: 7,
            ..Limits::default()
        };
        assert_eq!((limits.open_cap(), limits.idle_cap()), (usize::MAX, 7));
        limits.max_open = 3;
        assert_eq!((limits.open_cap(), limits.idle_cap()), (3, 3));
    }

    #[test]
    fn live_limits_mirror_every_replacement_and_count_lifetime_changes() {
        let live = LiveLimits::new(Limits::default());
        let (_, epoch) = live.max_lifetime();
        let mut next = Limits {
            max_open: 3,
            max_idle_time: None,
            acquire_timeout: Duration::from_secs(2),
            ..Limits::default()
        };
        let old = live.replace(next.clone());
        assert_eq!(old.max_open, Limits::default().max_open);
        assert_eq!(live.max_open(), 3);
        assert_eq!(live.max_idle_time(), None);
        assert_eq!(live.acquire_timeout(), Duration::from_secs(2));
        assert_eq!(live.lifetime_epoch(), epoch, "max_lifetime unchanged");
        next.max_lifetime = Some(Duration::from_secs(60));
        live.replace(next.clone());
        assert_eq!(
            live.max_lifetime(),
            (Some(Duration::from_secs(60)), epoch + 1)
        );
        assert_eq!(*live.snapshot(), next);
    }
}
