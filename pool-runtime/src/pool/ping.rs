//! The one ping: validation before hand-out, and keepalives.
//!
//! Both take a connection out of the idle list, send one bounded round trip
//! ([`Manager::validate`]) and either put the connection back marked as just
//! heard from, or discard it. A successful ping's round trip feeds the
//! adaptive validation bound ([`rtt`](super::rtt)).

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::flight::ConnInFlight;
use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::CloseReason;
use super::tracked::Tracked;

impl<M: Manager> PoolInner<M> {
    /// One ping within `bound`. `Some`: the connection answered and is the
    /// caller's again. `None`: it failed, and was discarded for `why`.
    pub(crate) async fn ping(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        was_in_use: bool,
        bound: Duration,
        why: CloseReason,
    ) -> Option<Tracked<M::Connection>> {
        let (id, alive) = (conn.id, conn.alive);
        let mut flight = ConnInFlight::new(self, conn, was_in_use);
        let started = Instant::now();
        // Taken before the ping goes out: its answer proves the session
        // outlived every death seen before this ticket.
        let ticket = self.suspicion.ticket();
        let outcome = tokio::time::timeout(bound, self.manager.validate(flight.raw_mut()?)).await;
        let broken = flight
            .raw_mut()
            .is_some_and(|raw| self.manager.is_broken(raw));
        let failure = match &outcome {
            Ok(Ok(())) if !broken => None,
            Ok(Ok(())) => Some("connection broken after the ping".to_owned()),
            Ok(Err(e)) => {
                if self.manager.peer_closed(e) {
                    self.peer_closed(id, alive);
                }
                Some(e.to_string())
            }
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
        self.validation.observe(started.elapsed());
        let mut conn = flight.land()?;
        conn.last_contact = Instant::now();
        conn.alive = ticket;
        Some(conn)
    }
}
