//! A connection with the times the pool's rules are judged on.

use std::time::Duration;
use tokio::time::Instant;

/// A raw connection and its bookkeeping. Lives in the idle list, in a guard,
/// or in flight between them; never in two places.
pub(crate) struct Tracked<C> {
    pub(crate) raw: C,
    pub(crate) id: u64,
    /// The pool's generation when its connect started; connections of
    /// older generations are retired ([`GenericPool::retire_older`](super::GenericPool::retire_older)).
    pub(crate) generation: u64,
    /// When the lifetime (with jitter) runs out, if there is a lifetime.
    pub(crate) expires_at: Option<Instant>,
    /// When a user last gave it back: the clock of `max_idle_time`.
    pub(crate) returned_at: Instant,
    /// When it last completed a round trip we know of (use, ping): the clock
    /// of the validation bypass and of keepalives.
    pub(crate) last_contact: Instant,
    /// The [suspicion](super::suspect) ticket of its last proof of life
    /// (its connect, or a ping that answered); 0 when the pool has none.
    pub(crate) alive: u64,
    /// When it was last handed to a user; kept only for an observer (its
    /// use time).
    pub(crate) handed_out_at: Instant,
    /// When it was opened, and its share of lifetime jitter: kept so that a
    /// new `max_lifetime` (a live reconfigure) can recompute its expiry.
    opened_at: Instant,
    cut: f64,
    /// The `max_lifetime` epoch its expiry was computed in.
    pub(crate) lifetime_epoch: u64,
}

impl<C> Tracked<C> {
    pub(crate) fn new(
        raw: C,
        id: u64,
        generation: u64,
        now: Instant,
        lifetime: Option<Duration>,
    ) -> Self {
        let cut = JITTER * fastrand::f64();
        Tracked {
            raw,
            id,
            generation,
            expires_at: lifetime.map(|l| now + cut_by(l, cut)),
            returned_at: now,
            last_contact: now,
            alive: 0,
            handed_out_at: now,
            opened_at: now,
            cut,
            lifetime_epoch: 0,
        }
    }

    /// Recomputes the expiry for a changed `max_lifetime`, from the same
    /// opening time and jitter.
    pub(crate) fn apply_lifetime(&mut self, lifetime: Option<Duration>, epoch: u64) {
        self.expires_at = lifetime.map(|l| self.opened_at + cut_by(l, self.cut));
        self.lifetime_epoch = epoch;
    }

    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    pub(crate) fn idle_too_long(&self, now: Instant, max_idle_time: Option<Duration>) -> bool {
        max_idle_time.is_some_and(|limit| now.saturating_duration_since(self.returned_at) >= limit)
    }
}

/// The lifetime shortened by a random 0-2.5%, so that a pool filled at once
/// does not lose all its connections in the same instant (HikariCP does the
/// same).
#[cfg(test)]
fn jittered(lifetime: Duration) -> Duration {
    cut_by(lifetime, JITTER * fastrand::f64())
}

/// The most a lifetime is shortened by, as a fraction.
const JITTER: f64 = 0.025;

fn cut_by(lifetime: Duration, cut: f64) -> Duration {
    lifetime.saturating_sub(lifetime.mul_f64(cut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_cut_by_at_most_two_and_a_half_percent_and_vary() {
        let lifetime = Duration::from_secs(1000);
        let cuts: Vec<Duration> = (0..200).map(|_| lifetime - jittered(lifetime)).collect();
        assert!(
            cuts.iter().all(|c| *c <= Duration::from_secs(25)),
            "{cuts:?}"
        );
        let distinct: std::collections::HashSet<_> = cuts.iter().collect();
        assert!(distinct.len() > 100, "jitter should spread expiries");
    }

    #[test]
    fn a_new_lifetime_recomputes_the_expiry_from_the_opening_time() {
        let now = Instant::now();
        let mut conn = Tracked::new((), 1, 0, now, Some(Duration::from_secs(1000)));
        conn.apply_lifetime(Some(Duration::from_secs(10)), 3);
        let expires = conn.expires_at.expect("a lifetime");
        assert!(expires <= now + Duration::from_secs(10), "{expires:?}");
        assert!(expires >= now + Duration::from_millis(9750), "{expires:?}");
        assert_eq!(conn.lifetime_epoch, 3);
        conn.apply_lifetime(None, 4);
        assert!(!conn.is_expired(now + Duration::from_secs(1 << 20)));
    }
}
