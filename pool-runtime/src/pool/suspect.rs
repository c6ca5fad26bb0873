//! Suspect siblings: when one connection dies in a way that proves its peer
//! closed it, every connection last known alive before that moment may be
//! dead too (a server restart, a failover's fencing that kills every
//! session, an idle timeout that hit them all).
//!
//! The pool cannot look at a socket for a pending close without a round
//! trip (see `docs/upstream/README.md`), so it does the next best thing:
//! such a death (the [`Manager`](super::Manager) says which errors prove it,
//! [`Manager::peer_closed`](super::Manager::peer_closed)) marks an *epoch*,
//! and a connection whose last proof of life is older than the epoch is
//! validated (pinged) before it is handed out, however recently it was
//! used. A dead one is discarded and replaced, unseen, as a stale one is.
//!
//! Proofs of life and epochs are tickets from one counter, not instants,
//! so that nothing depends on the clock's resolution: a connect takes its
//! ticket before it starts (a session opened then may still have been
//! killed), a ping before it is sent, an epoch when the death is seen. A
//! connection is suspect while its ticket is below the epoch's. When
//! nothing ever died, the epoch is 0 and the check on the fast path is one
//! atomic load.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The suspect epoch of one pool.
#[derive(Debug, Default)]
pub(crate) struct Suspicion {
    /// The last ticket handed out (tickets start at 1).
    clock: AtomicU64,
    /// Connections whose proof-of-life ticket is below this are suspect;
    /// 0 until a death marked an epoch.
    before: AtomicU64,
}

impl Suspicion {
    /// A ticket for a proof of life about to be made (a connect, a ping).
    pub(crate) fn ticket(&self) -> u64 {
        self.clock.fetch_add(1, Relaxed) + 1
    }

    /// Whether a connection last proven alive with ticket `alive` must be
    /// validated before its next use.
    pub(crate) fn is_suspect(&self, alive: u64) -> bool {
        alive < self.before.load(Relaxed)
    }

    /// A connection last proven alive with ticket `alive` was found closed
    /// by its peer: marks a new epoch, unless an epoch already covers it
    /// (its death is explained by the one that made it suspect). Of many
    /// deaths seen at once, one marks. Returns whether it marked.
    pub(crate) fn mark(&self, alive: u64) -> bool {
        let epoch = self.ticket();
        self.before
            .fetch_update(Relaxed, Relaxed, |before| {
                (alive >= before).then_some(epoch.max(before))
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Suspicion;

    #[test]
    fn nothing_is_suspect_until_a_death_marks_and_then_only_what_is_older() {
        let s = Suspicion::default();
        let old = s.ticket();
        assert!(!s.is_suspect(old));
        assert!(!s.is_suspect(0), "no death, no suspicion");
        let dead = s.ticket();
        assert!(s.mark(dead));
        assert!(s.is_suspect(old));
        assert!(s.is_suspect(dead));
        let young = s.ticket();
        assert!(!s.is_suspect(young), "proven alive after the death");
    }

    #[test]
    fn a_death_already_covered_by_an_epoch_marks_no_new_one() {
        let s = Suspicion::default();
        let (a, b) = (s.ticket(), s.ticket());
        assert!(s.mark(a));
        assert!(!s.mark(b), "b was already suspect: the same event");
        let revalidated = s.ticket();
        assert!(!s.is_suspect(revalidated));
        // A later death of a connection proven alive since: a new event.
        let fresh = s.ticket();
        assert!(s.mark(fresh));
        assert!(s.is_suspect(revalidated));
    }
}
