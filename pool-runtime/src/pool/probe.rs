//! A health probe: is the server there, without queueing behind users?
//!
//! A readiness probe must not turn a busy pool into a dead pod: when every
//! connection is in use, the answer is "saturated", found without touching
//! the server. Otherwise the probe makes one bounded round trip at most: a
//! ping on an idle connection (the validation bound), or, when none is
//! idle or the idle one failed its ping, a new connection
//! (`connect_timeout`) on a free permit. It never joins the line of
//! waiting acquires.

use std::sync::Arc;
use tokio::time::Instant;

use super::error::PoolError;
use super::flight::PermitInFlight;
use super::inner::PoolInner;
use super::manager::Manager;
use super::state::{MayWait, Take};
use super::stats::CloseReason;

/// What one probe found ([`GenericPool::probe`](super::GenericPool::probe)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Probe<E: std::error::Error + 'static> {
    /// An idle connection answered its ping.
    Pinged,
    /// A new connection opened (none was idle, or the idle one was dead).
    Connected,
    /// Every permit is taken (or acquires are waiting): the server was not
    /// asked. A busy pool, not a dead server.
    Saturated,
    /// The pool is closed.
    Closed,
    /// An idle connection failed its ping, and no permit was free to open
    /// a new one.
    PingFailed,
    /// Opening a connection failed or timed out.
    Failed(PoolError<E>),
}

impl<M: Manager> PoolInner<M> {
    pub(crate) async fn probe(self: &Arc<Self>) -> Probe<M::Error> {
        match self.take(Instant::now(), false, MayWait::No) {
            Take::Closed => return Probe::Closed,
            Take::Exhausted | Take::Wait(..) => return Probe::Saturated,
            Take::Permit => return self.probe_connect().await,
            Take::Idle(conn) => {
                let bound = self.validation.timeout();
                if let Some(conn) = self
                    .ping(conn, true, bound, CloseReason::ValidationFailed)
                    .await
                {
                    self.release(conn, true);
                    return Probe::Pinged;
                }
            }
        }
        // The idle connection was dead, which says little about the server
        // (it may have been idle-killed): a new connection will tell.
        if self.transition(|st| st.try_permit(usize::MAX, true)) {
            self.probe_connect().await
        } else {
            Probe::PingFailed
        }
    }

    /// Opens a connection with a permit the probe holds, and puts it in the
    /// pool for the next user.
    async fn probe_connect(self: &Arc<Self>) -> Probe<M::Error> {
        let permit = PermitInFlight::new(self, true);
        match self.connect().await {
            Ok(conn) => {
                permit.connected();
                self.release(conn, true);
                Probe::Connected
            }
            Err(e) => Probe::Failed(e),
        }
    }
}
