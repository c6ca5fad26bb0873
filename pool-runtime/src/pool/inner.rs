//! What all handles of one pool share, and the one lock around its state.
//!
//! [`PoolInner`] is behind the `Arc` every [`GenericPool`](super::GenericPool)
//! clone and every [`Pooled`](super::Pooled) guard holds. Its methods here
//! are the bridge between the pure moves of [`State`] and the outside: take
//! the lock, make the move, let go, then close whatever the move took out
//! (in [`closing`](super::closing)). Nothing here awaits while the lock is
//! held.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

use tokio::sync::{Notify, watch};

use super::leak::LeakTracker;
use super::limits::{Limits, LiveLimits};
use super::manager::Manager;
use super::observe::{Occupancy, PoolObserver};
use super::rtt::ValidationBound;
use super::state::{Grant, MayWait, State, Take, ToClose};
use super::stats::{CloseReason, CoreStats, Counters};
use super::suspect::Suspicion;
use super::tracked::Tracked;

/// What [`GenericPool::retire_generation`](super::GenericPool::retire_generation)
/// did: the generation retired, the one new connections join, and how
/// many connections it closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerationSwitch {
    /// The generation retired (and every older one with it).
    pub from: u64,
    /// The generation connections opened from now on belong to.
    pub to: u64,
    /// Idle connections of retired generations closed at once.
    pub retired: usize,
    /// Connections in use at the switch: those of retired generations are
    /// closed as they come back.
    pub in_use_at_switch: usize,
}

pub(crate) struct PoolInner<M: Manager> {
    pub(crate) manager: M,
    pub(crate) limits: LiveLimits,
    state: Mutex<State<M::Connection>>,
    pub(crate) counters: Counters,
    pub(crate) leaks: LeakTracker,
    pub(crate) validation: ValidationBound,
    next_conn_id: AtomicU64,
    /// Which connections must be validated after a peer-closed death.
    pub(crate) suspicion: Suspicion,
    /// The generation new connections get ([`PoolInner::retire_older`]).
    generation: AtomicU64,
    /// Wakes the deadline task ([`expiry`](super::expiry)) when a waiter's
    /// deadline comes before its next look. Its own `Arc`: the task holds
    /// it while it sleeps, and the pool only weakly.
    pub(crate) expiry_nudge: Arc<Notify>,
    /// Flips to `true` once, on close; the maintenance task watches it.
    pub(crate) closing: watch::Sender<bool>,
    /// Signalled whenever `open` drops to zero after close, and whenever the
    /// last goodbye in flight finishes.
    pub(crate) drained: Notify,
    /// Goodbyes (polite closes) running in background tasks.
    pub(crate) goodbyes_in_flight: AtomicUsize,
    /// One maintenance pass at a time: a pass run by hand waits for the
    /// timer's, so neither counts on connections the other is opening.
    pub(crate) maintaining: tokio::sync::Mutex<()>,
    /// Told of the pool's events (metrics); `None` costs one branch each.
    pub(crate) observer: Option<Arc<dyn PoolObserver>>,
    /// One reconfigure at a time.
    pub(crate) reconfiguring: tokio::sync::Mutex<()>,
    /// The server's session id of each open connection, by pool id, for a
    /// drain that interrupts what is still running. Written on connect and
    /// close only (never on acquire), and only for managers that name
    /// sessions ([`Manager::session_id`]).
    sessions: Mutex<HashMap<u64, u64>>,
}

impl<M: Manager> PoolInner<M> {
    pub(crate) fn new(manager: M, limits: Limits, observer: Option<Arc<dyn PoolObserver>>) -> Self {
        if let Some(observer) = &observer {
            observer.limits(&limits);
            observer.occupancy(Occupancy::default());
        }
        PoolInner {
            state: Mutex::new(State::new(&limits)),
            leaks: LeakTracker::new(limits.leak_threshold),
            validation: ValidationBound::new(limits.validation_timeout),
            manager,
            limits: LiveLimits::new(limits),
            counters: Counters::default(),
            next_conn_id: AtomicU64::new(1),
            suspicion: Suspicion::default(),
            generation: AtomicU64::new(0),
            expiry_nudge: Arc::new(Notify::new()),
            closing: watch::Sender::new(false),
            drained: Notify::new(),
            goodbyes_in_flight: AtomicUsize::new(0),
            maintaining: tokio::sync::Mutex::new(()),
            observer,
            reconfiguring: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M::Connection>> {
        // No code panics while holding the lock; if some day one does, the
        // counts are still the best information there is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one move under the lock, and, once the pool is closed, wakes
    /// `close` and drains (which look again at what they wait for).
    pub(crate) fn transition<T>(&self, change: impl FnOnce(&mut State<M::Connection>) -> T) -> T {
        let mut st = self.lock();
        let outcome = change(&mut st);
        if let Some(observer) = &self.observer {
            // Under the lock: the observer sees the moves in their order.
            let g = st.gauges();
            observer.occupancy(Occupancy {
                open: g.open as u64,
                in_use: g.in_use as u64,
                idle: g.idle as u64,
                waiting: g.waiting as u64,
            });
        }
        if st.is_closed() {
            self.drained.notify_waiters();
        }
        outcome
    }

    /// [`State::take`], then closes the stale idle connections it found.
    pub(crate) fn take(
        self: &Arc<Self>,
        now: Instant,
        fresh: bool,
        may_wait: MayWait,
    ) -> Take<M::Connection> {
        let mut stale = Vec::new();
        let max_idle_time = self.limits.max_idle_time();
        let take = self.transition(|st| st.take(now, fresh, may_wait, max_idle_time, &mut stale));
        if let Take::Wait(_, _, true) = take {
            self.expiry_nudge.notify_one();
        }
        for (conn, why) in stale {
            self.close_conn(conn, why);
        }
        take
    }

    /// Fails the waiters whose deadline passed; returns the next deadline.
    pub(crate) fn expire_waiters(&self, now: Instant) -> Option<Instant> {
        self.transition(|st| st.expire_waiters(now)).1
    }

    /// A waiter gave up: out of the line.
    pub(crate) fn leave_line(&self, waiter_id: u64) {
        self.transition(|st| st.leave_line(waiter_id));
    }

    /// A cancelled acquire hands back what it was granted and never used.
    pub(crate) fn return_grant(self: &Arc<Self>, grant: Grant<M::Connection>) {
        let out = self.transition(|st| st.return_grant(grant));
        self.close_if_out(out);
    }

    /// Puts a healthy, clean connection back (see [`State::release`]).
    pub(crate) fn release(self: &Arc<Self>, conn: Tracked<M::Connection>, was_in_use: bool) {
        let out = self.transition(|st| st.release(conn, was_in_use));
        self.close_if_out(out);
    }

    /// Takes a connection out of the pool for good, for `why`; its permit
    /// goes to a waiter once it is closed.
    pub(crate) fn discard(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        why: CloseReason,
        was_in_use: bool,
    ) {
        self.transition(|st| st.retire(was_in_use));
        self.close_conn(conn, why);
    }

    /// A permit that was never used for a connection (its opening failed
    /// or was cancelled) is freed.
    pub(crate) fn free_permit(&self, was_in_use: bool) {
        self.transition(|st| st.free_permit(was_in_use));
    }

    /// A user took connection `conn_id` out of the pool for good
    /// ([`Pooled::detach`](super::Pooled::detach)): the pool stops tracking
    /// it and frees its permit.
    pub(crate) fn detached(&self, conn_id: u64) {
        self.leaks.returned(conn_id);
        self.forget_session(conn_id);
        self.transition(|st| st.free_permit(true));
    }

    /// An open connection from outside joins the idle list, room allowing.
    pub(crate) fn adopt(self: &Arc<Self>, raw: M::Connection, took: std::time::Duration) {
        self.validation.observe(took);
        if let Some(observer) = &self.observer {
            observer.connected(took);
        }
        // Opened outside, when is not known: its proof-of-life ticket stays
        // 0, so any suspect event makes it suspect.
        let conn = self.new_tracked(raw, self.generation(), Instant::now(), 0);
        let out = self.transition(|st| st.adopt(conn));
        self.close_if_out(out);
    }

    fn close_if_out(self: &Arc<Self>, out: Option<ToClose<M::Connection>>) {
        if let Some((conn, why)) = out {
            self.close_conn(conn, why);
        }
    }

    /// Gives a newly opened connection its id, generation and
    /// proof-of-life ticket (both taken when its connect started) and
    /// lifetime.
    pub(crate) fn new_tracked(
        &self,
        raw: M::Connection,
        generation: u64,
        opened_at: Instant,
        alive: u64,
    ) -> Tracked<M::Connection> {
        let id = self.next_conn_id.fetch_add(1, Relaxed);
        Counters::bump(&self.counters.connections_created);
        if let Some(session) = self.manager.session_id(&raw) {
            self.sessions().insert(id, session);
        }
        let (lifetime, epoch) = self.limits.max_lifetime();
        let mut conn = Tracked::new(raw, id, generation, opened_at, lifetime);
        conn.lifetime_epoch = epoch;
        conn.alive = alive;
        conn
    }

    /// Connection `conn_id`, last proven alive with ticket `alive`, was
    /// closed by its peer: every connection proven alive before now becomes
    /// suspect, unless `validate_suspects` is off or an earlier event
    /// already made this one suspect.
    pub(crate) fn peer_closed(&self, conn_id: u64, alive: u64) {
        if !self.limits.validate_suspects() || !self.suspicion.mark(alive) {
            return;
        }
        Counters::bump(&self.counters.suspect_events);
        if let Some(observer) = &self.observer {
            observer.suspect_event();
        }
        let g = self.lock().gauges();
        tracing::warn!(
            target: "pool_runtime::pool",
            conn = conn_id,
            idle = g.idle,
            in_use = g.in_use,
            "a connection was closed by the server side: every connection opened or checked \
             before now is validated before its next use"
        );
    }

    /// The generation connects started now belong to.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// Starts a new generation and retires the connections of older ones:
    /// idle ones are closed now, the others as they come back. Returns how
    /// many idle ones were closed.
    pub(crate) fn retire_older(self: &Arc<Self>) -> usize {
        let current = self.generation.fetch_add(1, Relaxed) + 1;
        let old = self.transition(|st| st.retire_older(current));
        let closed = old.len();
        for (conn, why) in old {
            self.close_conn(conn, why);
        }
        closed
    }

    /// Retires generation `from` and every older one, if `from` is still
    /// the current generation: of N callers that saw the same generation
    /// fail, exactly one switches (`Some`); the others get `None`, since
    /// the switch they asked for already happened.
    pub(crate) fn retire_generation(self: &Arc<Self>, from: u64) -> Option<GenerationSwitch> {
        let to = from.checked_add(1)?;
        self.generation
            .compare_exchange(from, to, Relaxed, Relaxed)
            .ok()?;
        Counters::bump(&self.counters.generations_retired);
        let old = self.transition(|st| st.retire_older(to));
        let idle_closed = old.len();
        for (conn, why) in old {
            self.close_conn(conn, why);
        }
        let in_use = self.lock().gauges().in_use;
        if let Some(observer) = &self.observer {
            observer.generation_retired(to);
        }
        tracing::warn!(
            target: "pool_runtime::pool",
            from,
            to,
            idle_closed,
            in_use,
            "retired a generation of connections: idle ones closed now, those in use as they return"
        );
        Some(GenerationSwitch {
            from,
            to,
            retired: idle_closed,
            in_use_at_switch: in_use,
        })
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<u64, u64>> {
        // Nothing panics under this lock; the table is right either way.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection left the pool: its session is no longer ours to name.
    pub(crate) fn forget_session(&self, conn_id: u64) {
        self.sessions().remove(&conn_id);
    }

    /// The server's session ids of the connections still open (in use, or
    /// in flight), once the idle ones are closed.
    pub(crate) fn open_sessions(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self.sessions().values().copied().collect();
        ids.sort_unstable();
        ids
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().is_closed()
    }

    /// Whether the pool is closed and has no connection left.
    pub(crate) fn is_drained(&self) -> bool {
        self.lock().is_drained()
    }

    pub(crate) fn stats(&self) -> CoreStats {
        let gauges = self.lock().gauges();
        let mut stats = CoreStats {
            max_open: self.limits.max_open(),
            open: gauges.open as u64,
            in_use: gauges.in_use as u64,
            idle: gauges.idle as u64,
            waiting: gauges.waiting as u64,
            ..CoreStats::default()
        };
        self.counters.read_into(&mut stats);
        stats.generation = self.generation();
        stats
    }
}
