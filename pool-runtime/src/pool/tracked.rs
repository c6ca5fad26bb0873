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
}

impl<C> Tracked<C> {
    pub(crate) fn new(
        raw: C,
        id: u64,
        generation: u64,
        now: Instant,
        lifetime: Option<Duration>,
    ) -> Self {
        Tracked {
            raw,
            id,
            generation,
            expires_at: lifetime.map(|l| now + jittered(l)),
            returned_at: now,
            last_contact: now,
        }
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
fn jittered(lifetime: Duration) -> Duration {
    let cut = lifetime.mul_f64(0.025 * fastrand::f64());
    lifetime.saturating_sub(cut)
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
}
