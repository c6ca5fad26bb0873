//! The pool's state and the synchronous moves between its places.
//!
//! Every connection is in exactly one place: the idle list, a user's guard,
//! a waiter's channel, or in flight inside the pool (being validated, reset,
//! pinged, opened). `open` counts them all, so `max_open` holds at every
//! instant, including while a connection is being opened. All moves happen
//! under one short lock that is never held across an `.await`; I/O (pings,
//! resets, closes) happens outside it.

use std::collections::{HashMap, VecDeque};
use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot, watch};

use super::manager::Manager;
use super::rtt::RttEstimator;
use super::stats::{Counters, PoolStats, Retire};
use super::tracked::Tracked;
use crate::options::{PoolOptions, ResetPolicy};

pub(crate) struct Shared<M: Manager> {
    pub(crate) manager: M,
    pub(crate) options: PoolOptions,
    open_limit: usize,
    idle_limit: usize,
    state: Mutex<State<M::Connection>>,
    pub(crate) counters: Counters,
    rtt: Mutex<RttEstimator>,
    next_conn_id: AtomicU64,
    /// Flips to `true` once, on close; the maintenance task watches it.
    pub(crate) closing: watch::Sender<bool>,
    /// Signalled whenever `open` drops to zero after close, and whenever the
    /// last background close finishes.
    drained: Notify,
    /// Polite closes (`COM_QUIT`) running in background tasks.
    closes_in_flight: AtomicUsize,
    /// One maintenance pass at a time: a pass run by hand waits for the
    /// timer's, so neither counts on connections the other is opening.
    pub(crate) maintaining: tokio::sync::Mutex<()>,
}

struct State<C> {
    /// Most recently returned at the back: taken from the back (warm
    /// connections stay warm), retired from the front (the coldest).
    idle: VecDeque<Tracked<C>>,
    /// First come, first served.
    waiters: VecDeque<Waiter<C>>,
    open: usize,
    in_use: usize,
    closed: bool,
    next_waiter_id: u64,
    /// Checked-out connections, by id, when leak detection is on.
    checkouts: HashMap<u64, Checkout>,
}

struct Waiter<C> {
    id: u64,
    /// Wants a new connection (the exec path's last attempt): it is always
    /// granted a slot, never a used connection.
    fresh: bool,
    tx: oneshot::Sender<Grant<C>>,
}

/// What a waiter is handed: a connection, or the right to open one.
pub(crate) enum Grant<C> {
    Conn(Tracked<C>),
    Slot,
}

/// The outcome of one look at the pool by an acquirer.
pub(crate) enum Take<C> {
    Idle(Tracked<C>),
    Slot,
    Wait(u64, oneshot::Receiver<Grant<C>>),
    Closed,
}

pub(crate) struct Checkout {
    pub(crate) since: Instant,
    pub(crate) caller: &'static Location<'static>,
    pub(crate) reported: bool,
}

/// A connection found over its leak threshold, for the maintenance log.
pub(crate) struct Leak {
    pub(crate) id: u64,
    pub(crate) held: Duration,
    pub(crate) caller: &'static Location<'static>,
}

/// What a maintenance pass took out of the pool to work on.
pub(crate) struct Chores<C> {
    pub(crate) retire: Vec<(Tracked<C>, Retire)>,
    pub(crate) keepalive: Vec<Tracked<C>>,
    pub(crate) open_new: usize,
    pub(crate) leaks: Vec<Leak>,
}

impl<M: Manager> Shared<M> {
    pub(crate) fn new(manager: M, options: PoolOptions) -> Self {
        let initial_rtt = RttEstimator::default();
        Shared {
            open_limit: options.open_limit(),
            idle_limit: options.idle_limit(),
            manager,
            options,
            state: Mutex::new(State {
                idle: VecDeque::new(),
                waiters: VecDeque::new(),
                open: 0,
                in_use: 0,
                closed: false,
                next_waiter_id: 0,
                checkouts: HashMap::new(),
            }),
            counters: Counters::default(),
            rtt: Mutex::new(initial_rtt),
            next_conn_id: AtomicU64::new(1),
            closing: watch::Sender::new(false),
            drained: Notify::new(),
            closes_in_flight: AtomicUsize::new(0),
            maintaining: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M::Connection>> {
        // No code panics while holding the lock; if some day one does, the
        // counts are still the best information there is.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes an idle connection, a slot to open one, or a place in line.
    /// Idle connections found past their lifetime or idle time are taken out
    /// and returned for closing, and their slots reused.
    ///
    /// With `fresh`, only a slot will do: the oldest idle connection is
    /// retired to make room when the pool is full.
    pub(crate) fn take(
        &self,
        now: Instant,
        fresh: bool,
        retired: &mut Vec<(Tracked<M::Connection>, Retire)>,
    ) -> Take<M::Connection> {
        let mut st = self.lock();
        if st.closed {
            return Take::Closed;
        }
        if !fresh {
            while let Some(conn) = st.idle.pop_back() {
                if conn.is_expired(now) {
                    st.open -= 1;
                    retired.push((conn, Retire::Lifetime));
                } else if conn.idle_too_long(now, self.options.max_idle_time) {
                    st.open -= 1;
                    retired.push((conn, Retire::IdleTime));
                } else {
                    st.in_use += 1;
                    return Take::Idle(conn);
                }
            }
        }
        if st.waiters.is_empty() {
            if st.open < self.open_limit {
                st.open += 1;
                st.in_use += 1;
                return Take::Slot;
            }
            if let Some(oldest) = st.idle.pop_front() {
                // Only reached when `fresh`: its slot is handed straight on.
                st.in_use += 1;
                retired.push((oldest, Retire::Replaced));
                return Take::Slot;
            }
        }
        let id = st.next_waiter_id;
        st.next_waiter_id += 1;
        let (tx, rx) = oneshot::channel();
        st.waiters.push_back(Waiter { id, fresh, tx });
        Take::Wait(id, rx)
    }

    /// A waiter gave up: takes it out of the line. If it was served in the
    /// meantime, the caller gets the grant back through its channel.
    pub(crate) fn leave_line(&self, waiter_id: u64) {
        let mut st = self.lock();
        if let Some(pos) = st.waiters.iter().position(|w| w.id == waiter_id) {
            st.waiters.remove(pos);
        }
    }

    /// Returns a grant nobody will use (its acquire was cancelled).
    pub(crate) fn give_back(self: &Arc<Self>, grant: Grant<M::Connection>) {
        match grant {
            Grant::Conn(conn) => self.release(conn, true),
            Grant::Slot => {
                let mut st = self.lock();
                st.in_use -= 1;
                self.free_slot(&mut st);
            }
        }
    }

    /// Puts a healthy, clean connection back: to the first waiter, else to
    /// the idle list, else (idle list full) closes it. `from_user` says it
    /// was counted in use.
    pub(crate) fn release(self: &Arc<Self>, conn: Tracked<M::Connection>, from_user: bool) {
        let mut st = self.lock();
        if from_user {
            st.in_use -= 1;
        }
        if st.closed {
            st.open -= 1;
            self.signal_if_drained(&st);
            drop(st);
            self.retire(conn, Retire::Closed);
            return;
        }
        let mut conn = conn;
        while let Some(waiter) = st.waiters.pop_front() {
            st.in_use += 1;
            if waiter.fresh {
                // It wants a new connection: this one makes room for it.
                if waiter.tx.send(Grant::Slot).is_ok() {
                    drop(st);
                    self.retire(conn, Retire::Replaced);
                    return;
                }
                st.in_use -= 1;
                continue;
            }
            match waiter.tx.send(Grant::Conn(conn)) {
                Ok(()) => return,
                // The waiter gave up; its acquire will not take this back.
                Err(Grant::Conn(back)) => {
                    st.in_use -= 1;
                    conn = back;
                }
                // Only a connection was sent, so only one can come back.
                Err(Grant::Slot) => return,
            }
        }
        if st.idle.len() < self.idle_limit {
            st.idle.push_back(conn);
        } else {
            st.open -= 1;
            drop(st);
            self.retire(conn, Retire::MaxIdle);
        }
    }

    /// Takes a connection out of the pool for good, for `why`, freeing its
    /// slot for a waiter. `from_user` says it was counted in use.
    pub(crate) fn discard(
        self: &Arc<Self>,
        conn: Tracked<M::Connection>,
        why: Retire,
        from_user: bool,
    ) {
        {
            let mut st = self.lock();
            if from_user {
                st.in_use -= 1;
            }
            self.free_slot(&mut st);
        }
        self.retire(conn, why);
    }

    /// An open connection from outside joins the idle list, room allowing.
    pub(crate) fn adopt(self: &Arc<Self>, raw: M::Connection) {
        let conn = self.new_tracked(raw, Instant::now());
        let mut st = self.lock();
        if st.closed || st.open >= self.open_limit {
            drop(st);
            return self.retire(conn, Retire::MaxIdle);
        }
        st.open += 1;
        drop(st);
        self.release(conn, false);
    }

    /// A user took a connection out of the pool for good (`detach`).
    pub(crate) fn forget(&self, conn_id: u64) {
        let mut st = self.lock();
        st.checkouts.remove(&conn_id);
        st.in_use -= 1;
        self.free_slot(&mut st);
    }

    /// An opening attempt that failed or was abandoned gives its slot back.
    pub(crate) fn abandon_slot(&self, from_user: bool) {
        let mut st = self.lock();
        if from_user {
            st.in_use -= 1;
        }
        self.free_slot(&mut st);
    }

    /// A slot became free: the first waiter may open a connection with it;
    /// with nobody waiting, `open` shrinks.
    fn free_slot(&self, st: &mut State<M::Connection>) {
        if !st.closed {
            while let Some(waiter) = st.waiters.pop_front() {
                st.in_use += 1;
                if waiter.tx.send(Grant::Slot).is_ok() {
                    return;
                }
                st.in_use -= 1;
            }
        }
        st.open -= 1;
        self.signal_if_drained(st);
    }

    fn signal_if_drained(&self, st: &State<M::Connection>) {
        if st.closed && st.open == 0 {
            self.drained.notify_waiters();
        }
    }

    /// Counts, logs and closes a connection that has already left the state.
    pub(crate) fn retire(self: &Arc<Self>, conn: Tracked<M::Connection>, why: Retire) {
        self.counters.retired(why);
        tracing::debug!(
            conn = conn.id,
            reason = why.as_str(),
            "closing pooled connection"
        );
        let polite = matches!(
            why,
            Retire::MaxIdle
                | Retire::IdleTime
                | Retire::Lifetime
                | Retire::Replaced
                | Retire::Closed
        );
        if !polite {
            // Broken or state unknown: a goodbye would only wait on a dead peer.
            drop(conn);
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let shared = Arc::clone(self);
                self.closes_in_flight.fetch_add(1, SeqCst);
                handle.spawn(async move {
                    let bound = shared.options.connect_timeout;
                    // A goodbye to a peer that vanished must not hang forever.
                    let _ = tokio::time::timeout(bound, shared.manager.close(conn.raw)).await;
                    if shared.closes_in_flight.fetch_sub(1, SeqCst) == 1 {
                        shared.drained.notify_waiters();
                    }
                });
            }
            Err(_) => drop(conn),
        }
    }

    pub(crate) fn new_tracked(
        &self,
        raw: M::Connection,
        opened_at: Instant,
    ) -> Tracked<M::Connection> {
        let id = self.next_conn_id.fetch_add(1, Relaxed);
        Counters::bump(&self.counters.connections_created);
        Tracked::new(raw, id, opened_at, self.options.max_lifetime)
    }

    /// A connection the user returned: broken ones are dropped, expired ones
    /// retired, dirty ones cleaned (in a task), the rest released at once.
    pub(crate) fn check_in(self: &Arc<Self>, mut conn: Tracked<M::Connection>) {
        if self.options.leak_threshold.is_some() {
            self.lock().checkouts.remove(&conn.id);
        }
        let now = Instant::now();
        if self.manager.is_broken(&conn.raw) {
            return self.discard(conn, Retire::Broken, true);
        }
        if conn.is_expired(now) {
            return self.discard(conn, Retire::Lifetime, true);
        }
        conn.returned_at = now;
        conn.last_contact = now;
        let must_reset = self.options.reset_on_return == ResetPolicy::Always
            || self.manager.needs_reset(&conn.raw);
        if !must_reset {
            return self.release(conn, true);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let shared = Arc::clone(self);
                handle.spawn(async move { shared.reset_then_release(conn).await });
            }
            Err(_) => self.discard(conn, Retire::ResetFailed, true),
        }
    }

    async fn reset_then_release(self: Arc<Self>, mut conn: Tracked<M::Connection>) {
        let bound = self.options.connect_timeout;
        match tokio::time::timeout(bound, self.manager.reset(&mut conn.raw)).await {
            Ok(Ok(())) if !self.manager.is_broken(&conn.raw) => {
                Counters::bump(&self.counters.resets);
                conn.last_contact = Instant::now();
                self.release(conn, true);
            }
            outcome => {
                if let Ok(Err(e)) = &outcome {
                    tracing::debug!(conn = conn.id, error = %e, "reset on return failed");
                }
                self.discard(conn, Retire::ResetFailed, true);
            }
        }
    }

    pub(crate) fn record_checkout(&self, conn_id: u64, caller: &'static Location<'static>) {
        if self.options.leak_threshold.is_some() {
            let checkout = Checkout {
                since: Instant::now(),
                caller,
                reported: false,
            };
            self.lock().checkouts.insert(conn_id, checkout);
        }
    }

    pub(crate) fn observe_round_trip(&self, sample: Duration) {
        self.rtt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(sample);
    }

    pub(crate) fn validation_timeout(&self) -> Duration {
        match self.options.validation_timeout {
            Some(fixed) => fixed,
            None => self
                .rtt
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .timeout(),
        }
    }

    /// Takes out what a maintenance pass must work on: connections to retire,
    /// connections due a keepalive, slots to fill up to `min_idle`, and
    /// checkouts held past the leak threshold.
    pub(crate) fn chores(&self, now: Instant) -> Chores<M::Connection> {
        let mut st = self.lock();
        let mut chores = Chores {
            retire: Vec::new(),
            keepalive: Vec::new(),
            open_new: 0,
            leaks: Vec::new(),
        };
        if st.closed {
            return chores;
        }
        let max_idle_time = self.options.max_idle_time;
        let keepalive = self.options.keepalive_interval;
        let idle = std::mem::take(&mut st.idle);
        for conn in idle {
            if conn.is_expired(now) {
                chores.retire.push((conn, Retire::Lifetime));
            } else if conn.idle_too_long(now, max_idle_time) {
                chores.retire.push((conn, Retire::IdleTime));
            } else if keepalive
                .is_some_and(|k| now.saturating_duration_since(conn.last_contact) >= k)
            {
                chores.keepalive.push(conn);
            } else {
                st.idle.push_back(conn);
            }
        }
        st.open -= chores.retire.len();
        // Retired slots go to waiters first; then top up to min_idle.
        for _ in 0..chores.retire.len().min(st.waiters.len()) {
            st.open += 1;
            self.free_slot(&mut st);
        }
        let idle_soon = st.idle.len() + chores.keepalive.len();
        let want = (self.options.min_idle as usize).min(self.idle_limit);
        let room = self.open_limit.saturating_sub(st.open);
        if st.waiters.is_empty() {
            chores.open_new = want.saturating_sub(idle_soon).min(room);
            st.open += chores.open_new;
        }
        if let Some(threshold) = self.options.leak_threshold {
            for (&id, checkout) in st.checkouts.iter_mut() {
                let held = now.saturating_duration_since(checkout.since);
                if held >= threshold && !checkout.reported {
                    checkout.reported = true;
                    chores.leaks.push(Leak {
                        id,
                        held,
                        caller: checkout.caller,
                    });
                }
            }
        }
        chores
    }

    /// Marks the pool closed and takes out everything to close now: idle
    /// connections and the waiters' senders (dropping them fails the waits).
    pub(crate) fn shut(&self) -> Vec<Tracked<M::Connection>> {
        let mut st = self.lock();
        st.closed = true;
        st.waiters.clear();
        let idle: Vec<_> = st.idle.drain(..).collect();
        st.open -= idle.len();
        self.signal_if_drained(&st);
        idle
    }

    /// Waits until every connection is back and closed.
    pub(crate) async fn drained(&self) {
        loop {
            let notified = self.drained.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().open == 0 && self.closes_in_flight.load(SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = PoolStats {
            max_open: self.options.max_open,
            ..PoolStats::default()
        };
        {
            let st = self.lock();
            stats.open = st.open as u64;
            stats.in_use = st.in_use as u64;
            stats.idle = st.idle.len() as u64;
            stats.waiting = st.waiters.len() as u64;
        }
        self.counters.read_into(&mut stats);
        stats
    }
}
