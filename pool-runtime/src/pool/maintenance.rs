//! The background task: retire, keep alive, refill, report leaks.
//!
//! One task per pool. It holds only a weak reference, so it never keeps a
//! dropped pool alive, and it stops on close. Its interval adds to the
//! longest time a connection can sit idle before it is retired, which is why
//! the boot checks count it. Expired connections are also refused at acquire
//! time, so a slow tick never lets one be handed out.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::flight::SlotInFlight;
use super::manager::Manager;
use super::shared::Shared;
use super::stats::{Counters, Retire};
use super::tracked::Tracked;

/// The least time a keepalive ping is given before its connection is
/// called dead.
const KEEPALIVE_FLOOR: Duration = Duration::from_secs(1);

pub(crate) async fn run<M: Manager>(
    pool: Weak<Shared<M>>,
    mut closing: watch::Receiver<bool>,
    every: Duration,
) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            // Closed, or the pool dropped (the sender went with it).
            _ = closing.changed() => return,
        }
        let Some(shared) = pool.upgrade() else {
            return;
        };
        if *closing.borrow() {
            return;
        }
        shared.maintain().await;
    }
}

impl<M: Manager> Shared<M> {
    /// One pass. Public to the crate so tests can drive it without waiting.
    pub(crate) async fn maintain(self: &Arc<Self>) {
        let _one_at_a_time = self.maintaining.lock().await;
        let chores = self.chores(Instant::now());
        for (conn, why) in chores.retire {
            self.retire(conn, why);
        }
        for leak in chores.leaks {
            Counters::bump(&self.counters.leaks_reported);
            tracing::warn!(
                conn = leak.id,
                held_ms = leak.held.as_millis() as u64,
                acquired_at = %leak.caller,
                "a pooled connection is held past leak_threshold; is it leaked?"
            );
        }
        // Concurrently: one silent connection must not hold up the others.
        let mut pings = tokio::task::JoinSet::new();
        for conn in chores.keepalive {
            pings.spawn(Arc::clone(self).keep_alive(conn));
        }
        while pings.join_next().await.is_some() {}
        for filled in 0..chores.open_new {
            let slot = SlotInFlight::new(self, false);
            match self.connect().await {
                Ok(conn) => {
                    slot.fill();
                    self.release(conn, false);
                }
                Err(_) => {
                    // Already counted and logged. Do not hammer a server that
                    // refuses: give back this slot and the rest, try next tick.
                    drop(slot);
                    for _ in filled + 1..chores.open_new {
                        self.abandon_slot(false);
                    }
                    break;
                }
            }
        }
    }

    async fn keep_alive(self: Arc<Self>, conn: Tracked<M::Connection>) {
        // Nobody waits on a keepalive, so a busy host gets the benefit of the
        // doubt: never less than KEEPALIVE_FLOOR.
        let bound = self.validation_timeout().max(KEEPALIVE_FLOOR);
        let Some(conn) = self.ping(conn, false, bound, Retire::KeepaliveFailed).await else {
            return;
        };
        Counters::bump(&self.counters.keepalives);
        self.release(conn, false);
    }
}
