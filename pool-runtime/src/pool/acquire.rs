//! The acquire path: idle connection, new connection, or a place in line.
//!
//! The fast path (a connection returned less than `validate_after_idle` ago
//! is waiting) takes one lock and no timer. Everything else runs under the
//! acquire's bound (`acquire_timeout`, or the call's own): a wait in line
//! without a timer (the pool's deadline task, [`expiry`](super::expiry),
//! fails it when its bound runs out), opening or pinging with one. It is
//! cancel-safe
//! at every `.await`: a dropped acquire leaves the line, hands back anything
//! it was granted, and discards a connection whose ping it interrupted.
//!
//! `try_get` shares the path but never joins the line: where `get` would
//! wait for another task, it fails with [`PoolError::Exhausted`].

use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use tokio::sync::oneshot;

use super::error::{AcquirePhase, PoolError};
use super::flight::PermitInFlight;
use super::guard::Pooled;
use super::inner::PoolInner;
use super::manager::Manager;
use super::state::{Grant, MayWait, Take};
use super::stats::{CloseReason, Counters};
use super::tracked::Tracked;

type Acquired<M> = Result<Pooled<M>, PoolError<<M as Manager>::Error>>;

/// How long an acquire may take, and whose bound that is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) limit: Duration,
    /// The call's own bound (`get_timeout`), not `acquire_timeout`.
    pub(crate) per_call: bool,
}

/// A bound made absolute when its acquire began.
#[derive(Debug, Clone, Copy)]
struct Budget {
    bound: Bound,
    /// `None`: too far off to name (`get_timeout(Duration::MAX)`).
    until: Option<Instant>,
}

impl Budget {
    fn may_wait(self) -> MayWait {
        self.until.map_or(MayWait::Forever, MayWait::Until)
    }
}

impl<M: Manager> PoolInner<M> {
    /// The pool's own bound on acquires.
    pub(crate) fn acquire_bound(&self) -> Bound {
        Bound {
            limit: self.limits.acquire_timeout(),
            per_call: false,
        }
    }

    /// An idle connection, a new one, or the next one returned, within
    /// `bound`; with `fresh`, always a newly opened one.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        fresh: bool,
        bound: Bound,
        caller: &'static Location<'static>,
    ) -> Acquired<M> {
        let now = Instant::now();
        let budget = Budget {
            bound,
            until: now.checked_add(bound.limit),
        };
        let first = match self.take(now, fresh, budget.may_wait()) {
            Take::Idle(conn) if !self.needs_validation(&conn, now) => {
                return Ok(self.hand_out_at_once(conn, caller, now));
            }
            Take::Closed => return Err(PoolError::Closed),
            other => other,
        };
        self.acquire_slow(first, now, fresh, Some(budget), caller)
            .await
    }

    /// An idle connection or a new one, without waiting for another task:
    /// no place in line. Validating and opening are bounded by their own
    /// timeouts.
    pub(crate) async fn try_acquire(
        self: &Arc<Self>,
        caller: &'static Location<'static>,
    ) -> Acquired<M> {
        let now = Instant::now();
        match self.take(now, false, MayWait::No) {
            Take::Idle(conn) if !self.needs_validation(&conn, now) => {
                Ok(self.hand_out_at_once(conn, caller, now))
            }
            other => self.acquire_slow(other, now, false, None, caller).await,
        }
    }

    /// Everything but the fast path, within `budget` (`None`: no place in
    /// line, and no bound but each step's own). The wait in line is
    /// bounded by the pool's deadline task, with no timer of its own; the
    /// rare, large steps (opening and pinging a connection) each get a
    /// timer to the same deadline, and are boxed, so that the common wait
    /// for a returned connection keeps the `get()` future small without an
    /// allocation of its own.
    async fn acquire_slow(
        self: &Arc<Self>,
        first: Take<M::Connection>,
        since: Instant,
        fresh: bool,
        budget: Option<Budget>,
        caller: &'static Location<'static>,
    ) -> Acquired<M> {
        let may_wait = budget.map_or(MayWait::No, |b| b.may_wait());
        let mut take = first;
        loop {
            let conn = match take {
                Take::Closed => return Err(PoolError::Closed),
                Take::Exhausted => return Err(self.exhausted()),
                Take::Permit => {
                    let open = Box::pin(self.open_new(caller, since));
                    return self.within(budget, AcquirePhase::Connecting, open).await?;
                }
                Take::Idle(conn) => conn,
                Take::Wait(id, rx, _) => {
                    match Waiting::new(self, id, rx, since).served().await? {
                        Grant::Permit => {
                            let open = Box::pin(self.open_new(caller, since));
                            return self.within(budget, AcquirePhase::Connecting, open).await?;
                        }
                        // Handed over straight from a return, a keepalive or a
                        // fresh connect: it has just spoken to the server,
                        // unless a death since makes it suspect.
                        Grant::Conn(conn) if !self.suspicion.is_suspect(conn.alive) => {
                            return Ok(self.hand_out(conn, caller, since));
                        }
                        Grant::Conn(conn) => conn,
                        Grant::TimedOut => {
                            return Err(self.timed_out(budget, AcquirePhase::Waiting));
                        }
                    }
                }
            };
            let suspect_only = match self.check_needed(&conn, Instant::now()) {
                Check::None => return Ok(self.hand_out(conn, caller, since)),
                Check::Stale => false,
                Check::Suspect => true,
            };
            let check = Box::pin(self.validate(conn, suspect_only));
            match self.within(budget, AcquirePhase::Validating, check).await? {
                Some(conn) => return Ok(self.hand_out(conn, caller, since)),
                // The dead connection is gone and its permit freed; look again.
                None => take = self.take(Instant::now(), fresh, may_wait),
            }
        }
    }

    /// Runs one step of a slow acquire to the acquire's deadline. A step cut
    /// short is dropped, and cleans up after itself (a permit in flight
    /// frees itself; an interrupted ping discards its connection).
    async fn within<T>(
        &self,
        budget: Option<Budget>,
        phase: AcquirePhase,
        step: impl Future<Output = T>,
    ) -> Result<T, PoolError<M::Error>> {
        match budget.and_then(|b| b.until) {
            Some(deadline) => tokio::time::timeout_at(deadline, step)
                .await
                .map_err(|_elapsed| self.timed_out(budget, phase)),
            None => Ok(step.await),
        }
    }

    /// The error of an acquire whose bound ran out while it was in `phase`.
    fn timed_out(&self, budget: Option<Budget>, phase: AcquirePhase) -> PoolError<M::Error> {
        Counters::bump(&self.counters.timeouts);
        if let Some(observer) = &self.observer {
            observer.timed_out(phase);
        }
        let bound = budget.map_or_else(|| self.acquire_bound(), |b| b.bound);
        let stats = self.stats();
        PoolError::Timeout {
            waited: bound.limit,
            per_call: bound.per_call,
            phase,
            max_open: stats.max_open,
            in_use: stats.in_use,
            waiting: stats.waiting,
            stats: Box::new(stats),
        }
    }

    fn exhausted(&self) -> PoolError<M::Error> {
        Counters::bump(&self.counters.exhausted);
        let stats = self.stats();
        PoolError::Exhausted {
            max_open: stats.max_open,
            in_use: stats.in_use,
            waiting: stats.waiting,
        }
    }

    /// The fast path's test: idle past the bypass window, or suspect (one
    /// atomic load when nothing died).
    fn needs_validation(&self, conn: &Tracked<M::Connection>, now: Instant) -> bool {
        self.is_stale(conn, now) || self.suspicion.is_suspect(conn.alive)
    }

    fn is_stale(&self, conn: &Tracked<M::Connection>, now: Instant) -> bool {
        now.saturating_duration_since(conn.last_contact) > self.limits.validate_after_idle()
    }

    /// Whether a connection must be pinged before it is handed out, and why.
    fn check_needed(&self, conn: &Tracked<M::Connection>, now: Instant) -> Check {
        if self.is_stale(conn, now) {
            Check::Stale
        } else if self.suspicion.is_suspect(conn.alive) {
            Check::Suspect
        } else {
            Check::None
        }
    }

    /// `since`: when the acquire began, for the observer's wait time.
    fn hand_out(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        caller: &'static Location<'static>,
        since: Instant,
    ) -> Pooled<M> {
        self.hand_out_at(conn, caller, since, None)
    }

    /// [`hand_out`](Self::hand_out) of a connection taken from the idle
    /// list in the same instant the acquire began (`since`): the fast path
    /// reads no clock for its observer, and its wait time is zero.
    fn hand_out_at_once(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        caller: &'static Location<'static>,
        since: Instant,
    ) -> Pooled<M> {
        self.hand_out_at(conn, caller, since, Some(since))
    }

    fn hand_out_at(
        self: &Arc<Self>,
        mut conn: Tracked<M::Connection>,
        caller: &'static Location<'static>,
        since: Instant,
        now: Option<Instant>,
    ) -> Pooled<M> {
        if let Some(observer) = &self.observer {
            let now = now.unwrap_or_else(Instant::now);
            observer.acquired(now.saturating_duration_since(since));
            conn.handed_out_at = now;
        }
        self.leaks.checked_out(conn.id, caller);
        Pooled::new(self, conn)
    }

    /// Pings a connection that sat idle past the bypass window, or that is
    /// suspect (`suspect_only`: for that reason alone), within the
    /// validation timeout. `None`: it failed and was discarded.
    async fn validate(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        suspect_only: bool,
    ) -> Option<Tracked<M::Connection>> {
        let bound = self.validation.timeout();
        if suspect_only {
            Counters::bump(&self.counters.suspect_validations);
        }
        let checked = self
            .ping(conn, true, bound, CloseReason::ValidationFailed)
            .await;
        if suspect_only {
            if checked.is_none() {
                Counters::bump(&self.counters.suspect_found_dead);
            }
            if let Some(observer) = &self.observer {
                observer.suspect_validated(checked.is_some());
            }
        }
        checked
    }

    /// Opens a connection with a permit this acquire holds.
    async fn open_new(
        self: &Arc<Self>,
        caller: &'static Location<'static>,
        since: Instant,
    ) -> Acquired<M> {
        let permit = PermitInFlight::new(self, true);
        match self.connect().await {
            Ok(conn) => {
                permit.connected();
                Ok(self.hand_out(conn, caller, since))
            }
            Err(e) => Err(e), // `permit` frees itself as it drops
        }
    }

    /// Opens a connection within `connect_timeout`; the caller holds a permit.
    pub(crate) async fn connect(&self) -> Result<Tracked<M::Connection>, PoolError<M::Error>> {
        let limit = self.limits.connect_timeout();
        let started = Instant::now();
        let generation = self.generation();
        // Before the connect: a session opened during it may have been
        // killed by the time a death is seen.
        let alive = self.suspicion.ticket();
        match tokio::time::timeout(limit, self.manager.connect()).await {
            Ok(Ok(raw)) => {
                let took = started.elapsed();
                self.validation.observe(took);
                if let Some(observer) = &self.observer {
                    observer.connected(took);
                }
                Ok(self.new_tracked(raw, generation, Instant::now(), alive))
            }
            Ok(Err(e)) => {
                self.observe_connect_failed();
                Counters::bump(&self.counters.connect_errors);
                tracing::warn!(error = %e, "opening a pool connection failed");
                Err(PoolError::Connect(e))
            }
            Err(_) => {
                self.observe_connect_failed();
                Counters::bump(&self.counters.connect_errors);
                tracing::warn!(?limit, "opening a pool connection timed out");
                Err(PoolError::ConnectTimeout(limit))
            }
        }
    }
}

/// Why an idle connection is pinged before it is handed out.
enum Check {
    None,
    /// Idle past `validate_after_idle`.
    Stale,
    /// Recently used, but last known alive before a peer-closed death.
    Suspect,
}

/// An acquire's place in line. Dropped before it is served, it leaves the
/// line and hands back whatever was granted in the meantime.
struct Waiting<'a, M: Manager> {
    inner: &'a Arc<PoolInner<M>>,
    id: u64,
    rx: Option<oneshot::Receiver<Grant<M::Connection>>>,
    since: Instant,
}

impl<'a, M: Manager> Waiting<'a, M> {
    fn new(
        inner: &'a Arc<PoolInner<M>>,
        id: u64,
        rx: oneshot::Receiver<Grant<M::Connection>>,
        since: Instant,
    ) -> Self {
        Waiting {
            inner,
            id,
            rx: Some(rx),
            since,
        }
    }

    async fn served(mut self) -> Result<Grant<M::Connection>, PoolError<M::Error>> {
        let outcome = match self.rx.as_mut() {
            Some(rx) => rx.await,
            None => return Err(PoolError::Closed),
        };
        // Served (or the pool closed, dropping our sender): nothing to undo.
        self.rx = None;
        self.inner.counters.waited(self.since.elapsed());
        outcome.map_err(|_closed| PoolError::Closed)
    }
}

impl<M: Manager> Drop for Waiting<'_, M> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        self.inner.counters.waited(self.since.elapsed());
        self.inner.leave_line(self.id);
        // Out of line, nothing more can arrive; something may already have.
        rx.close();
        if let Ok(grant) = rx.try_recv() {
            self.inner.return_grant(grant);
        }
    }
}
