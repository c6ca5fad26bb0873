//! Leak tracking: who holds which connection, and since when.
//!
//! A connection that is never returned starves the pool slowly and shows up
//! far from its cause, as acquire timeouts somewhere else. With
//! `leak_threshold` set, every checkout records the call site that acquired
//! it (HikariCP's leak detection); maintenance reports each one held past
//! the threshold once, naming that call site. With it unset, nothing is
//! recorded and nothing is locked. The table has its own lock, apart from
//! the pool's state: a checkout or return never waits on leak bookkeeping
//! while it moves connections.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use super::limits::AtomicDuration;

/// The checkouts of one pool, by connection id.
pub(crate) struct LeakTracker {
    /// Changes with a live reconfigure.
    threshold: AtomicDuration,
    checkouts: Mutex<HashMap<u64, Checkout>>,
}

struct Checkout {
    since: Instant,
    caller: &'static Location<'static>,
    reported: bool,
}

/// A connection found over its leak threshold, for the maintenance log.
pub(crate) struct Leak {
    pub(crate) id: u64,
    pub(crate) held: Duration,
    pub(crate) caller: &'static Location<'static>,
}

impl LeakTracker {
    pub(crate) fn new(threshold: Option<Duration>) -> Self {
        LeakTracker {
            threshold: AtomicDuration::new(threshold),
            checkouts: Mutex::new(HashMap::new()),
        }
    }

    fn checkouts(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Checkout>> {
        // Nothing panics under this lock; a poisoned table is still right.
        self.checkouts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection was handed out at `caller`.
    /// A new threshold. Switched off, what was recorded is forgotten;
    /// switched on, checkouts from now on are tracked.
    pub(crate) fn set_threshold(&self, threshold: Option<Duration>) {
        self.threshold.set(threshold);
        if threshold.is_none() {
            self.checkouts().clear();
        }
    }

    pub(crate) fn checked_out(&self, conn_id: u64, caller: &'static Location<'static>) {
        if self.threshold.get().is_some() {
            let checkout = Checkout {
                since: Instant::now(),
                caller,
                reported: false,
            };
            self.checkouts().insert(conn_id, checkout);
        }
    }

    /// A connection came back, or left the pool with its user.
    pub(crate) fn returned(&self, conn_id: u64) {
        if self.threshold.get().is_some() {
            self.checkouts().remove(&conn_id);
        }
    }

    /// The checkouts held past the threshold that were not reported yet;
    /// each is reported once.
    pub(crate) fn overdue(&self, now: Instant) -> Vec<Leak> {
        let Some(threshold) = self.threshold.get() else {
            return Vec::new();
        };
        let mut leaks = Vec::new();
        for (&id, checkout) in self.checkouts().iter_mut() {
            let held = now.saturating_duration_since(checkout.since);
            if held >= threshold && !checkout.reported {
                checkout.reported = true;
                leaks.push(Leak {
                    id,
                    held,
                    caller: checkout.caller,
                });
            }
        }
        leaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_connection_is_reported_once_and_a_returned_one_never() {
        let tracker = LeakTracker::new(Some(Duration::from_secs(10)));
        let start = Instant::now();
        tracker.checked_out(1, Location::caller());
        tracker.checked_out(2, Location::caller());
        tracker.returned(2);
        assert!(tracker.overdue(start).is_empty(), "not held long enough");
        let later = start + Duration::from_secs(11);
        let leaks = tracker.overdue(later);
        assert_eq!(leaks.iter().map(|l| l.id).collect::<Vec<_>>(), [1]);
        assert!(tracker.overdue(later).is_empty(), "reported once");
    }

    #[test]
    fn without_a_threshold_nothing_is_recorded() {
        let tracker = LeakTracker::new(None);
        tracker.checked_out(1, Location::caller());
        assert!(tracker.checkouts().is_empty());
    }
}
