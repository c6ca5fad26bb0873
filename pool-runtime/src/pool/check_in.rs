//! A connection coming back from its user.
//!
//! Returning must cost the user nothing it can avoid: a broken or expired
//! connection is dropped at once, a clean one goes straight to the next
//! waiter or the idle list, and a dirty one (or every one, with
//! `reset_every_return`) is reset in a background task, bounded by
//! `connect_timeout`, and only then released. Nobody is handed a dirty
//! connection.

use std::sync::Arc;
use tokio::time::Instant;

use super::flight::ConnInFlight;
use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::{CloseReason, Counters};
use super::tracked::Tracked;

impl<M: Manager> PoolInner<M> {
    /// A connection the user returned: broken ones are dropped, expired ones
    /// closed, dirty ones cleaned (in a task), the rest released at once.
    pub(crate) fn check_in(self: &Arc<Self>, mut conn: Tracked<M::Connection>) {
        self.leaks.returned(conn.id);
        let now = Instant::now();
        self.observe_return(&conn, now);
        if self.manager.is_broken(&conn.raw) {
            return self.discard(conn, CloseReason::Broken, true);
        }
        if conn.lifetime_epoch != self.limits.lifetime_epoch() {
            let (lifetime, epoch) = self.limits.max_lifetime();
            conn.apply_lifetime(lifetime, epoch);
        }
        if conn.is_expired(now) {
            return self.discard(conn, CloseReason::Lifetime, true);
        }
        conn.returned_at = now;
        conn.last_contact = now;
        let must_reset = self.limits.reset_every_return || self.manager.needs_reset(&conn.raw);
        if !must_reset {
            return self.release(conn, true);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let inner = Arc::clone(self);
                handle.spawn(async move { inner.reset_then_release(conn).await });
            }
            Err(_) => self.discard(conn, CloseReason::ResetFailed, true),
        }
    }

    /// Resets a returned connection, then releases it; one whose reset
    /// fails, times out or is cancelled (the runtime shutting down) is
    /// discarded.
    async fn reset_then_release(self: Arc<Self>, conn: Tracked<M::Connection>) {
        let bound = self.limits.connect_timeout();
        let mut flight = ConnInFlight::new(&self, conn, true);
        let Some(raw) = flight.raw_mut() else { return };
        let outcome = tokio::time::timeout(bound, self.manager.reset(raw)).await;
        let healthy = flight
            .raw_mut()
            .is_some_and(|raw| !self.manager.is_broken(raw));
        match outcome {
            Ok(Ok(())) if healthy => {
                let Some(mut conn) = flight.land() else {
                    return;
                };
                Counters::bump(&self.counters.resets);
                conn.last_contact = Instant::now();
                self.release(conn, true);
            }
            outcome => {
                if let Ok(Err(e)) = &outcome {
                    tracing::debug!(conn = flight.id(), error = %e, "reset on return failed");
                }
                flight.discard(CloseReason::ResetFailed);
            }
        }
    }
}
