//! Guards for work the pool does between two places.
//!
//! An acquire may be cancelled (its future dropped) at any `.await`. While it
//! pings a connection or opens one, that connection or slot belongs to no
//! list; these guards make sure that a drop puts the pool's counts right. A
//! connection whose ping was interrupted is in an unknown state, so it is
//! discarded, never returned.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::manager::Manager;
use super::shared::Shared;
use super::stats::Retire;
use super::tracked::Tracked;

/// A connection being worked on outside the idle list.
pub(crate) struct ConnInFlight<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    conn: Option<Tracked<M::Connection>>,
    from_user: bool,
}

impl<'a, M: Manager> ConnInFlight<'a, M> {
    pub(crate) fn new(
        shared: &'a Arc<Shared<M>>,
        conn: Tracked<M::Connection>,
        from_user: bool,
    ) -> Self {
        ConnInFlight {
            shared,
            conn: Some(conn),
            from_user,
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
    pub(crate) fn discard(mut self, why: Retire) {
        if let Some(conn) = self.conn.take() {
            self.shared.discard(conn, why, self.from_user);
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
            self.shared.discard(conn, Retire::Broken, self.from_user);
        }
    }
}

/// A slot reserved for a connection being opened.
pub(crate) struct SlotInFlight<'a, M: Manager> {
    shared: &'a Arc<Shared<M>>,
    from_user: bool,
    armed: bool,
}

impl<'a, M: Manager> SlotInFlight<'a, M> {
    pub(crate) fn new(shared: &'a Arc<Shared<M>>, from_user: bool) -> Self {
        SlotInFlight {
            shared,
            from_user,
            armed: true,
        }
    }

    /// The connection opened: the slot is now its.
    pub(crate) fn fill(mut self) {
        self.armed = false;
    }
}

impl<M: Manager> Drop for SlotInFlight<'_, M> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.abandon_slot(self.from_user);
        }
    }
}

impl<M: Manager> Shared<M> {
    /// One ping, bounded by `bound`, for a connection taken out of the idle
    /// list (validation before hand-out, or a keepalive). On success the
    /// round trip feeds the adaptive timeout and the connection comes back
    /// marked as just heard from; on failure it is discarded for `why`.
    pub(crate) async fn ping(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        from_user: bool,
        bound: Duration,
        why: Retire,
    ) -> Option<Tracked<M::Connection>> {
        let mut flight = ConnInFlight::new(self, conn, from_user);
        let started = Instant::now();
        let outcome = tokio::time::timeout(bound, self.manager.validate(flight.raw_mut()?)).await;
        let broken = flight
            .raw_mut()
            .is_some_and(|raw| self.manager.is_broken(raw));
        let failure = match &outcome {
            Ok(Ok(())) if !broken => None,
            Ok(Ok(())) => Some("connection broken after the ping".to_owned()),
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some(format!("no answer within {bound:?}")),
        };
        if let Some(error) = failure {
            tracing::info!(
                conn = flight.id(),
                %error,
                reason = why.as_str(),
                "discarding an idle connection whose ping failed"
            );
            flight.discard(why);
            return None;
        }
        self.observe_round_trip(started.elapsed());
        let mut conn = flight.land()?;
        conn.last_contact = Instant::now();
        Some(conn)
    }
}
