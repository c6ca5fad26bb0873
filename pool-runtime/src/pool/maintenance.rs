//! The background task: retire, keep alive, refill, report leaks.
//!
//! One task per pool. It holds only a weak reference, so it never keeps a
//! dropped pool alive, and it stops on close. Its interval adds to the
//! longest time a connection can sit idle before it is retired, which is why
//! the MySQL pool's start-up checks count it. Expired connections are also
//! refused at acquire time, so a slow tick never lets one be handed out.

use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::flight::PermitInFlight;
use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::{CloseReason, Counters};
use super::tracked::Tracked;

/// The least time a keepalive ping is given before its connection is
/// called dead.
const KEEPALIVE_FLOOR: Duration = Duration::from_secs(1);

pub(crate) async fn run<M: Manager>(
    pool: Weak<PoolInner<M>>,
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
        let Some(inner) = pool.upgrade() else {
            return;
        };
        if *closing.borrow() {
            return;
        }
        inner.maintain().await;
    }
}

impl<M: Manager> PoolInner<M> {
    /// One pass; the timer's, or one run by hand in tests.
    pub(crate) async fn maintain(self: &Arc<Self>) {
        let _one_at_a_time = self.maintaining.lock().await;
        let now = Instant::now();
        let limits = self.limits.snapshot();
        let work = self.transition(|st| st.maintenance_work(now, &limits));
        for (conn, why) in work.close {
            self.close_conn(conn, why);
        }
        for leak in self.leaks.overdue(now) {
            Counters::bump(&self.counters.leaks_reported);
            tracing::warn!(
                conn = leak.id,
                held_ms = u64::try_from(leak.held.as_millis()).unwrap_or(u64::MAX),
                acquired_at = %leak.caller,
                "a pooled connection is held past leak_threshold; is it leaked?"
            );
        }
        // Concurrently: one silent connection must not hold up the others.
        let mut pings = tokio::task::JoinSet::new();
        for conn in work.keepalive {
            pings.spawn(Arc::clone(self).keep_alive(conn));
        }
        while pings.join_next().await.is_some() {}
        for filled in 0..work.open_new {
            let permit = PermitInFlight::new(self, false);
            match self.connect().await {
                Ok(conn) => {
                    permit.connected();
                    self.release(conn, false);
                }
                Err(_) => {
                    // Already counted and logged. Do not hammer a server that
                    // refuses: free this permit and the rest, try next tick.
                    drop(permit);
                    for _ in filled + 1..work.open_new {
                        self.free_permit(false);
                    }
                    break;
                }
            }
        }
    }

    async fn keep_alive(self: Arc<Self>, conn: Tracked<M::Connection>) {
        // Nobody waits on a keepalive, so a busy host gets the benefit of the
        // doubt: never less than KEEPALIVE_FLOOR.
        let bound = self.validation.timeout().max(KEEPALIVE_FLOOR);
        let Some(conn) = self
            .ping(conn, false, bound, CloseReason::KeepaliveFailed)
            .await
        else {
            return;
        };
        Counters::bump(&self.counters.keepalives);
        self.release(conn, false);
    }
}
