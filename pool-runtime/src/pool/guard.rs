//! The connection a user holds, returned to the pool on drop.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::manager::Manager;
use super::shared::Shared;
use super::tracked::Tracked;

/// A pooled connection. Derefs to the connection; dropping it gives the
/// connection back to the pool, which drops it if it is broken, cleans it if
/// it is dirty (an open transaction), and otherwise hands it to the next
/// user.
pub struct Pooled<M: Manager> {
    /// Taken out exactly once: in `Drop` or in `detach`, which forgets `self`.
    conn: ManuallyDrop<Tracked<M::Connection>>,
    shared: Arc<Shared<M>>,
}

impl<M: Manager> Pooled<M> {
    pub(crate) fn new(shared: &Arc<Shared<M>>, conn: Tracked<M::Connection>) -> Self {
        Pooled {
            conn: ManuallyDrop::new(conn),
            shared: Arc::clone(shared),
        }
    }

    /// The pool's id for this connection (stable for its life, unique in the
    /// pool; not the server's connection id).
    pub fn pool_id(&self) -> u64 {
        self.conn.id
    }

    /// Closes the connection instead of returning it: for code that knows
    /// it is unusable. Its slot is freed for a new one.
    pub fn discard(self) {
        let (conn, shared) = self.leave();
        shared.counters.retired(super::stats::Retire::Broken);
        tracing::debug!(
            conn = conn.id,
            "closing a pooled connection its user discarded"
        );
        drop(conn);
    }

    /// Takes the connection out of the pool for good. The pool forgets it and
    /// may open another in its place.
    pub fn detach(self) -> M::Connection {
        self.leave().0.raw
    }

    /// Takes the connection out of the guard without returning it; the pool
    /// forgets it and frees its slot.
    fn leave(self) -> (Tracked<M::Connection>, Arc<Shared<M>>) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `conn` is taken exactly once and
        // `shared` is moved out exactly once.
        let conn = unsafe { ManuallyDrop::take(&mut this.conn) };
        let shared = unsafe { std::ptr::read(&this.shared) };
        shared.forget(conn.id);
        (conn, shared)
    }
}

impl<M: Manager> Deref for Pooled<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        &self.conn.raw
    }
}

impl<M: Manager> DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        &mut self.conn.raw
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        // SAFETY: `drop` runs once, and `detach` forgets `self` so it never
        // reaches here after taking `conn`.
        let conn = unsafe { ManuallyDrop::take(&mut self.conn) };
        self.shared.check_in(conn);
    }
}

impl<M: Manager> fmt::Debug for Pooled<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("pool_id", &self.conn.id)
            .finish_non_exhaustive()
    }
}
