//! The limits and timeouts the pool core runs with.
//!
//! The core has its own type rather than reading the MySQL pool's options,
//! which also carry the URL, the start-up checks' policy and the exec path's
//! settings: the core needs none of those, and taking them would tie it to
//! MySQL. Its defaults are not written here a second time: the MySQL pool's
//! options module converts its options into `Limits`, and
//! [`Limits::default`] is the conversion of its defaults.

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
}
