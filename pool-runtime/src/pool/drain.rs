//! Draining: closing the pool within a deadline, and saying what it took.
//!
//! [`close`](super::GenericPool::close) waits for every user however long
//! they take; a service being stopped has a grace period instead. A drain
//! closes the pool at once (new acquires and waiters get
//! [`PoolError::Closed`](super::PoolError::Closed)), closes the idle
//! connections, waits for those in use up to the deadline, and then stops
//! waiting: the connections still out are *forced*. The pool cannot take a
//! connection from its user, so "forced" means it no longer waits for it;
//! it is closed when it comes back. An interrupt hook (the MySQL pool's
//! `KILL QUERY`) can be given the server's session ids of the forced
//! connections, so that the statements holding them end and they come back
//! within a short grace.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;
use tokio::time::Instant;

use super::inner::PoolInner;
use super::manager::Manager;
use super::stats::CloseReason;

/// What a drain did ([`GenericPool::close_within`](super::GenericPool::close_within)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Connections in use (or being opened for a user) when the drain began.
    pub in_use_at_start: u64,
    /// Of those, how many came back before the deadline.
    pub returned: u64,
    /// Still in use at the deadline: the drain stopped waiting for them.
    pub forced: u64,
    /// Sessions the interrupt hook was asked to interrupt (the forced
    /// connections' server ids it knew of), and how many it did.
    pub interrupt_asked: u64,
    /// How many statements the interrupt hook says it ended.
    pub interrupted: u64,
    /// Connections still in use when the drain returned (after the grace
    /// given to interrupted ones); each is closed when it comes back.
    pub still_in_use: u64,
    /// Goodbyes that got no answer within `connect_timeout` during the
    /// drain (the connection dropped without one).
    pub goodbyes_abandoned: u64,
    /// Goodbyes still running when the drain returned (each bounded by
    /// `connect_timeout`, in the background).
    pub goodbyes_pending: u64,
    /// How long the drain took.
    pub took: Duration,
}

impl std::fmt::Display for DrainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "drained in {:?}: {} in use at start, {} returned, {} forced",
            self.took, self.in_use_at_start, self.returned, self.forced
        )?;
        if self.interrupt_asked > 0 {
            write!(
                f,
                " ({} of {} interrupted)",
                self.interrupted, self.interrupt_asked
            )?;
        }
        write!(
            f,
            ", {} still in use, {} goodbyes abandoned, {} pending",
            self.still_in_use, self.goodbyes_abandoned, self.goodbyes_pending
        )
    }
}

/// What to do with the connections still in use at the deadline.
pub(crate) struct Overdue<F> {
    /// Called with the server's session ids of the connections still out;
    /// returns how many statements it ended.
    pub(crate) interrupt: F,
    /// How long to wait for interrupted connections to come back.
    pub(crate) grace: Duration,
}

impl<M: Manager> PoolInner<M> {
    /// Closes the pool, waits up to `deadline` for the connections in use,
    /// then (with `overdue`) interrupts what still runs and waits up to its
    /// grace.
    pub(crate) async fn drain<F, Fut>(
        self: &Arc<Self>,
        deadline: Duration,
        overdue: Option<Overdue<F>>,
    ) -> DrainReport
    where
        F: FnOnce(Vec<u64>) -> Fut,
        Fut: Future<Output = u64>,
    {
        let started = Instant::now();
        let abandoned_before = self.counters.goodbyes_abandoned.load(Relaxed);
        let (idle, in_use_at_start) = self.transition(|st| {
            let in_use = st.gauges().in_use as u64;
            (st.shut(), in_use)
        });
        self.closing.send_replace(true);
        for conn in idle {
            self.close_conn(conn, CloseReason::Closed);
        }
        tracing::info!(in_use = in_use_at_start, ?deadline, "draining the pool");
        let in_use = || self.stats().in_use;
        let _ = tokio::time::timeout(deadline, self.returned_all()).await;
        let forced = in_use();
        let mut report = DrainReport {
            in_use_at_start,
            returned: in_use_at_start.saturating_sub(forced),
            forced,
            ..DrainReport::default()
        };
        if forced > 0 {
            if let Some(Overdue { interrupt, grace }) = overdue {
                let sessions = self.open_sessions();
                report.interrupt_asked = sessions.len() as u64;
                report.interrupted = interrupt(sessions).await;
                let _ = tokio::time::timeout(grace, self.returned_all()).await;
            }
        }
        report.still_in_use = in_use();
        report.goodbyes_pending = self.goodbyes_in_flight.load(SeqCst) as u64;
        report.goodbyes_abandoned = self
            .counters
            .goodbyes_abandoned
            .load(Relaxed)
            .saturating_sub(abandoned_before);
        report.took = started.elapsed();
        if report.forced > 0 {
            tracing::warn!(
                forced = report.forced,
                interrupted = report.interrupted,
                still_in_use = report.still_in_use,
                ?deadline,
                "pool drained; some connections were still in use at the deadline"
            );
        } else {
            tracing::info!(%report, "pool drained");
        }
        report
    }

    /// Waits until no connection is in use: all back (and their goodbyes
    /// started), the pool being closed.
    async fn returned_all(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stats().in_use == 0 {
                return;
            }
            notified.await;
        }
    }
}
