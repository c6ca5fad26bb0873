//! Closing connections, and closing the pool.
//!
//! Every connection leaves the pool for good through
//! [`PoolInner::close_conn`]: counted by its [`CloseReason`], logged, and,
//! when it is healthy, sent a goodbye ([`Manager::close`], `COM_QUIT` for
//! MySQL) so that the server frees its session at once instead of at its
//! idle timeout. Goodbyes run in background tasks, so no caller waits for
//! one, and each within `connect_timeout`: a peer that vanished must hold
//! neither a task nor [`GenericPool::close`](super::GenericPool::close)
//! forever. A goodbye that runs out of time is abandoned (the connection is
//! dropped without it) and counted in `goodbyes_abandoned`.

use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::{CloseReason, Counters};
use super::tracked::Tracked;

impl<M: Manager> PoolInner<M> {
    /// Counts, logs and closes a connection that has already left the
    /// pool's state (counted in `closing`, which this ends once it is
    /// closed).
    pub(crate) fn close_conn(self: &Arc<Self>, conn: Tracked<M::Connection>, why: CloseReason) {
        self.forget_session(conn.id);
        self.counters.closed(why);
        if let Some(observer) = &self.observer {
            observer.closed(why);
        }
        tracing::debug!(
            conn = conn.id,
            reason = why.as_str(),
            "closing pooled connection"
        );
        if !why.is_polite() {
            drop(conn);
            self.transition(|st| st.closed_one());
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let in_flight = GoodbyeInFlight::new(Arc::clone(self));
                handle.spawn(in_flight.say(conn));
            }
            // No runtime to run a goodbye on (a guard dropped after it):
            // dropping the socket is all that is left.
            Err(_) => {
                drop(conn);
                self.transition(|st| st.closed_one());
            }
        }
    }

    /// Closes the pool (see [`GenericPool::close`](super::GenericPool::close))
    /// and returns how many goodbyes were abandoned while it waited.
    pub(crate) async fn close_pool(self: &Arc<Self>) -> u64 {
        let abandoned_before = self.counters.goodbyes_abandoned.load(Relaxed);
        let idle = self.transition(|st| st.shut());
        self.closing.send_replace(true);
        for conn in idle {
            self.close_conn(conn, CloseReason::Closed);
        }
        self.drained().await;
        let abandoned = self
            .counters
            .goodbyes_abandoned
            .load(Relaxed)
            .saturating_sub(abandoned_before);
        if abandoned > 0 {
            tracing::warn!(
                abandoned,
                bound = ?self.limits.connect_timeout(),
                "pool closed; some connections did not answer their goodbye within \
                 connect_timeout and were dropped without it"
            );
        }
        abandoned
    }

    /// Waits until every connection is back and its goodbye said or
    /// abandoned.
    async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_drained() && self.goodbyes_in_flight.load(SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One goodbye, counted in `goodbyes_in_flight` from before its task is
/// spawned until the task ends, however it ends (a runtime shutting down
/// drops tasks without running them); its end also ends the connection's
/// `closing` slot.
struct GoodbyeInFlight<M: Manager> {
    inner: Arc<PoolInner<M>>,
}

impl<M: Manager> GoodbyeInFlight<M> {
    fn new(inner: Arc<PoolInner<M>>) -> Self {
        inner.goodbyes_in_flight.fetch_add(1, SeqCst);
        GoodbyeInFlight { inner }
    }

    async fn say(self, conn: Tracked<M::Connection>) {
        let inner = &self.inner;
        let bound = inner.limits.connect_timeout();
        let id = conn.id;
        if tokio::time::timeout(bound, inner.manager.close(conn.raw))
            .await
            .is_err()
        {
            Counters::bump(&inner.counters.goodbyes_abandoned);
            tracing::info!(
                conn = id,
                ?bound,
                "a goodbye got no answer within connect_timeout; dropped the connection without it"
            );
        }
    }
}

impl<M: Manager> Drop for GoodbyeInFlight<M> {
    fn drop(&mut self) {
        self.inner.transition(|st| st.closed_one());
        if self.inner.goodbyes_in_flight.fetch_sub(1, SeqCst) == 1 {
            self.inner.drained.notify_waiters();
        }
    }
}
