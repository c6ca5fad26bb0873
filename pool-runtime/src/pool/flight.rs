//! Guards for work the pool does between two places.
//!
//! An acquire may be cancelled (its future dropped) at any `.await`. While it
//! pings a connection or opens one, that connection or permit belongs to no
//! list; these guards make sure that a drop puts the pool's counts right. A
//! connection whose ping or reset was interrupted is in an unknown state, so
//! it is discarded, never returned.

use std::sync::Arc;

use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::CloseReason;
use super::tracked::Tracked;

/// A connection being worked on outside the idle list.
pub(crate) struct ConnInFlight<'a, M: Manager> {
    inner: &'a Arc<PoolInner<M>>,
    conn: Option<Tracked<M::Connection>>,
    was_in_use: bool,
}

impl<'a, M: Manager> ConnInFlight<'a, M> {
    pub(crate) fn new(
        inner: &'a Arc<PoolInner<M>>,
        conn: Tracked<M::Connection>,
        was_in_use: bool,
    ) -> Self {
        ConnInFlight {
            inner,
            conn: Some(conn),
            was_in_use,
        }
    }

    pub(crate) fn raw_mut(&mut self) -> Option<&mut M::Connection> {
        self.conn.as_mut().map(|c| &mut c.raw)
    }

    /// The work succeeded: the caller takes the connection on.
    pub(crate) fn land(mut self) -> Option<Tracked<M::Connection>> {
        self.conn.take()
    }

    /// The work failed: the connection leaves the pool for `why`.
    pub(crate) fn discard(mut self, why: CloseReason) {
        if let Some(conn) = self.conn.take() {
            self.inner.discard(conn, why, self.was_in_use);
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.conn.as_ref().map_or(0, |c| c.id)
    }
}

impl<M: Manager> Drop for ConnInFlight<'_, M> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Cancelled half-way: the connection's state is unknown.
            self.inner
                .discard(conn, CloseReason::Broken, self.was_in_use);
        }
    }
}

/// A permit held while a connection is being opened with it. Dropped before
/// the connection is there (the connect failed or was cancelled), it frees
/// the permit.
pub(crate) struct PermitInFlight<'a, M: Manager> {
    inner: &'a Arc<PoolInner<M>>,
    was_in_use: bool,
    armed: bool,
}

impl<'a, M: Manager> PermitInFlight<'a, M> {
    pub(crate) fn new(inner: &'a Arc<PoolInner<M>>, was_in_use: bool) -> Self {
        PermitInFlight {
            inner,
            was_in_use,
            armed: true,
        }
    }

    /// The connection opened: the permit is now its.
    pub(crate) fn connected(mut self) {
        self.armed = false;
    }
}

impl<M: Manager> Drop for PermitInFlight<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.free_permit(self.was_in_use);
        }
    }
}
