//! The connection a user holds, returned to the pool on drop.
//!
//! The connection sits in an `Option` (as in deadpool and bb8) so that the
//! consuming methods and `Drop` can move it out without `unsafe`. It is
//! `Some` for as long as a user can reach the guard: only `Drop`, `discard`
//! and `detach` take it, and each consumes the guard.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::CloseReason;
use super::tracked::Tracked;

/// What the guard's `Option` always holds while a user can reach it.
const HELD: &str = "a Pooled guard holds its connection until it is consumed";

/// A pooled connection. Derefs to the connection; dropping it gives the
/// connection back to the pool, which drops it if it is broken, cleans it if
/// it is dirty (an open transaction), and otherwise hands it to the next
/// user.
pub struct Pooled<M: Manager> {
    /// `None` only once `Drop`, `discard` or `detach` took it out.
    conn: Option<Tracked<M::Connection>>,
    inner: Arc<PoolInner<M>>,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(inner: &Arc<PoolInner<M>>, conn: Tracked<M::Connection>) -> Self {
        Pooled {
            conn: Some(conn),
            inner: Arc::clone(inner),
        }
    }

    fn held(&self) -> &Tracked<M::Connection> {
        self.conn.as_ref().expect(HELD)
    }

    /// The pool's id for this connection (stable for its life, unique in the
    /// pool; not the server's connection id).
    pub fn pool_id(&self) -> u64 {
        self.held().id
    }

    /// The pool generation this connection belongs to (the one current when
    /// its connect started); see [`GenericPool::retire_generation`](super::GenericPool::retire_generation).
    pub fn generation(&self) -> u64 {
        self.held().generation
    }

    /// Retires this connection's generation, if it is still the current
    /// one ([`GenericPool::retire_generation`](super::GenericPool::retire_generation)):
    /// this connection is closed when it comes back.
    pub fn retire_generation(&self) -> Option<super::GenerationSwitch> {
        self.inner.retire_generation(self.held().generation)
    }

    /// Closes the connection instead of returning it: for code that knows
    /// it is unusable. No goodbye is sent. Its permit is freed for a new
    /// connection.
    pub fn discard(mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner.leaks.returned(conn.id);
            self.inner
                .observe_return(&conn, tokio::time::Instant::now());
            self.inner.discard(conn, CloseReason::Discarded, true);
        }
    }

    /// Closes the connection after `error` made it unusable. When the
    /// manager says `error` proves the peer closed it
    /// ([`Manager::peer_closed`]: for MySQL, a reset or closed socket, a
    /// killed session), every connection last known alive before now is
    /// validated before its next hand-out, however recently it was used:
    /// the server may have closed them all (a restart, a failover's
    /// fencing). Otherwise the same as [`discard`](Self::discard).
    pub fn discard_after(self, error: &M::Error) {
        if self.inner.manager.peer_closed(error) {
            let conn = self.held();
            self.inner.peer_closed(conn.id, conn.alive);
        }
        self.discard();
    }

    /// Takes the connection out of the pool for good. The pool forgets it and
    /// may open another in its place.
    pub fn detach(mut self) -> M::Connection {
        let conn = self.conn.take().expect(HELD);
        self.inner.detached(conn.id);
        conn.raw
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.held().raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.as_mut().expect(HELD).raw
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.inner.check_in(conn);
        }
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Pooled");
        if let Some(conn) = &self.conn {
            out.field("pool_id", &conn.id);
        }
        out.finish_non_exhaustive()
    }
}
