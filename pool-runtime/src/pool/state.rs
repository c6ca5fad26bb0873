//! Where every connection is, and the moves between places.
//!
//! Every connection is in exactly one place: the idle list, a user's guard,
//! a waiter's channel, or in flight inside the pool (being validated, reset,
//! pinged, opened). `open` counts them all: it is the number of *permits*
//! handed out, a permit being the right to have one connection open. So
//! `max_open` holds at every instant, including while a connection is being
//! opened. A connection on its way out (its goodbye in flight) no longer
//! holds a permit but is counted in `closing`, and `open + closing` is what
//! `max_open` bounds: a retiring connection's replacement is opened only
//! once the server has been told goodbye, so the server never sees more
//! than `max_open` sessions of the pool, even under churn.
//!
//! The moves are plain methods on [`State`], run under the pool's one lock
//! ([`PoolInner::transition`](super::inner::PoolInner::transition)). They do
//! no I/O, spawn nothing and never wait: a connection a move takes out of the
//! pool is *returned* to the caller, who closes it after the lock is gone.
//! That keeps the lock short and these rules testable on their own.
//!
//! A waiter's bound is a deadline kept here, not a timer of its own: the
//! pool's one deadline task ([`expiry`](super::expiry)) fails the waiters
//! whose deadline passed ([`State::expire_waiters`]). Most waits end long
//! before their bound, so a timer armed and cancelled per wait is work done
//! for nothing on the busiest path.

use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

use tokio::sync::oneshot;

use super::limits::Limits;
use super::stats::CloseReason;
use super::tracked::Tracked;

/// A connection a move took out of the pool, to be closed outside the lock.
pub(crate) type ToClose<C> = (Tracked<C>, CloseReason);

pub(crate) struct State<C> {
    /// Most recently returned at the back: taken from the back (warm
    /// connections stay warm), retired from the front (the coldest).
    idle: VecDeque<Tracked<C>>,
    /// First come, first served.
    waiters: VecDeque<Waiter<C>>,
    /// Permits handed out: connections open, being opened, or in flight.
    open: usize,
    /// Connections out of the pool whose close (goodbye) has not finished:
    /// they still count against `open_cap`.
    closing: usize,
    /// Connections (or permits to open one) handed to acquirers.
    in_use: usize,
    closed: bool,
    next_waiter_id: u64,
    /// When the deadline task looks at the line next (`None`: when told).
    /// A waiter whose deadline comes sooner must tell it.
    expiry_armed: Option<Instant>,
    open_cap: usize,
    idle_cap: usize,
    /// Connections of a generation below this are retired, not kept.
    oldest_generation: u64,
}

struct Waiter<C> {
    id: u64,
    /// Wants a new connection (the exec path's last attempt): it is always
    /// granted a permit, never a used connection.
    fresh: bool,
    /// When its acquire's bound runs out; `None`: never.
    deadline: Option<Instant>,
    tx: oneshot::Sender<Grant<C>>,
}

/// What a waiter is handed: a connection, a permit to open one, or word
/// that its bound ran out first.
pub(crate) enum Grant<C> {
    Conn(Tracked<C>),
    Permit,
    /// Sent by [`State::expire_waiters`]: nothing granted, out of line.
    TimedOut,
}

/// Whether an acquirer may join the line, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MayWait {
    /// Never: [`Take::Exhausted`] instead (`try_get`, probes).
    No,
    /// Until this instant, then [`Grant::TimedOut`].
    Until(Instant),
    /// With no bound (one too large to add to the clock).
    Forever,
}

/// The outcome of one look at the pool by an acquirer.
pub(crate) enum Take<C> {
    Idle(Tracked<C>),
    /// A permit to open a new connection.
    Permit,
    /// A place in line: the waiter's id, where its grant will arrive, and
    /// whether the deadline task must be told (its deadline comes before
    /// the task's next look).
    Wait(u64, oneshot::Receiver<Grant<C>>, bool),
    /// Every permit is taken and the acquirer may not wait.
    Exhausted,
    Closed,
}

/// What a maintenance pass took out of the pool to work on.
pub(crate) struct MaintenanceWork<C> {
    /// Idle connections past their lifetime or idle time.
    pub(crate) close: Vec<ToClose<C>>,
    /// Idle connections due a keepalive ping.
    pub(crate) keepalive: Vec<Tracked<C>>,
    /// Permits taken to open connections up to `min_idle`.
    pub(crate) open_new: usize,
}

/// The gauges of a pool, read together.
pub(crate) struct Gauges {
    pub(crate) open: usize,
    pub(crate) in_use: usize,
    pub(crate) idle: usize,
    pub(crate) waiting: usize,
}

impl<C> State<C> {
    pub(crate) fn new(limits: &Limits) -> Self {
        State {
            idle: VecDeque::new(),
            waiters: VecDeque::new(),
            open: 0,
            closing: 0,
            in_use: 0,
            closed: false,
            next_waiter_id: 0,
            expiry_armed: None,
            open_cap: limits.open_cap(),
            idle_cap: limits.idle_cap(),
            oldest_generation: 0,
        }
    }

    /// Takes an idle connection, a permit to open one, or a place in line
    /// (unless [`MayWait::No`]: then [`Take::Exhausted`]). Idle connections
    /// found past their lifetime or idle time go to `stale`, and their
    /// permits are reused.
    ///
    /// With `fresh`, only a permit will do: the oldest idle connection is
    /// closed to make room when the pool is full.
    pub(crate) fn take(
        &mut self,
        now: Instant,
        fresh: bool,
        may_wait: MayWait,
        max_idle_time: Option<Duration>,
        stale: &mut Vec<ToClose<C>>,
    ) -> Take<C> {
        if self.closed {
            return Take::Closed;
        }
        if !fresh {
            while let Some(conn) = self.idle.pop_back() {
                if conn.is_expired(now) {
                    self.out();
                    stale.push((conn, CloseReason::Lifetime));
                } else if conn.generation < self.oldest_generation {
                    self.out();
                    stale.push((conn, CloseReason::Retired));
                } else if conn.idle_too_long(now, max_idle_time) {
                    self.out();
                    stale.push((conn, CloseReason::IdleTime));
                } else {
                    self.in_use += 1;
                    return Take::Idle(conn);
                }
            }
        }
        // Nobody jumps the line: with waiters, permits go to them.
        if self.waiters.is_empty() {
            if self.has_room() {
                self.open += 1;
                self.in_use += 1;
                return Take::Permit;
            }
            if let Some(oldest) = self.idle.pop_front() {
                // Only reached when `fresh`: the oldest idle one makes room,
                // and this acquire waits (first in line) for its goodbye.
                self.out();
                stale.push((oldest, CloseReason::Replaced));
            }
        }
        let deadline = match may_wait {
            MayWait::No => return Take::Exhausted,
            MayWait::Until(deadline) => Some(deadline),
            MayWait::Forever => None,
        };
        let sooner = deadline.is_some_and(|d| self.expiry_armed.is_none_or(|next| d < next));
        if sooner {
            self.expiry_armed = deadline;
        }
        let id = self.next_waiter_id;
        self.next_waiter_id += 1;
        let (tx, rx) = oneshot::channel();
        self.waiters.push_back(Waiter {
            id,
            fresh,
            deadline,
            tx,
        });
        Take::Wait(id, rx, sooner)
    }

    /// Fails the waiters whose deadline is not after `now`: each is sent
    /// [`Grant::TimedOut`] and leaves the line. Returns how many, and when
    /// the next deadline falls (when the deadline task must look again;
    /// `None`: no waiter has one).
    pub(crate) fn expire_waiters(&mut self, now: Instant) -> (usize, Option<Instant>) {
        let mut expired = 0;
        let mut next: Option<Instant> = None;
        for waiter in std::mem::take(&mut self.waiters) {
            match waiter.deadline {
                Some(deadline) if deadline <= now => {
                    // Its acquire may have just given up: then nobody hears.
                    if waiter.tx.send(Grant::TimedOut).is_ok() {
                        expired += 1;
                    }
                }
                deadline => {
                    if let Some(d) = deadline {
                        next = Some(next.map_or(d, |n| n.min(d)));
                    }
                    self.waiters.push_back(waiter);
                }
            }
        }
        self.expiry_armed = next;
        (expired, next)
    }

    /// A waiter gave up: takes it out of the line. If it was served in the
    /// meantime, its grant is in its channel and comes back through
    /// [`return_grant`](Self::return_grant).
    pub(crate) fn leave_line(&mut self, waiter_id: u64) {
        if let Some(pos) = self.waiters.iter().position(|w| w.id == waiter_id) {
            self.waiters.remove(pos);
        }
    }

    /// Takes back a grant whose acquire was cancelled before it used it.
    pub(crate) fn return_grant(&mut self, grant: Grant<C>) -> Option<ToClose<C>> {
        match grant {
            Grant::Conn(conn) => self.release(conn, true),
            Grant::Permit => {
                self.free_permit(true);
                None
            }
            Grant::TimedOut => None,
        }
    }

    /// Puts a healthy, clean connection back: to the first waiter, else to
    /// the idle list, else (idle list full, or the pool closed) out, to be
    /// closed. `was_in_use` says it was counted in use.
    pub(crate) fn release(&mut self, conn: Tracked<C>, was_in_use: bool) -> Option<ToClose<C>> {
        if was_in_use {
            self.in_use -= 1;
        }
        if self.closed {
            self.out();
            return Some((conn, CloseReason::Closed));
        }
        if conn.generation < self.oldest_generation {
            self.out();
            return Some((conn, CloseReason::Retired));
        }
        if self.open > self.open_cap {
            // Over a lowered max_open: the surplus closes as it comes back.
            self.out();
            return Some((conn, CloseReason::MaxOpen));
        }
        let mut conn = conn;
        while let Some(waiter) = self.waiters.pop_front() {
            if waiter.fresh {
                if waiter.tx.is_closed() {
                    continue; // gave up
                }
                // It wants a new connection: this one makes room for it,
                // and the waiter stays first in line until its goodbye ends.
                self.waiters.push_front(waiter);
                self.out();
                return Some((conn, CloseReason::Replaced));
            }
            self.in_use += 1;
            match waiter.tx.send(Grant::Conn(conn)) {
                Ok(()) => return None,
                // The waiter gave up; its acquire will not take this back.
                Err(Grant::Conn(back)) => {
                    self.in_use -= 1;
                    conn = back;
                }
                // Only a connection was sent, so only one can come back.
                Err(Grant::Permit | Grant::TimedOut) => return None,
            }
        }
        if self.idle.len() < self.idle_cap {
            self.idle.push_back(conn);
            None
        } else {
            self.out();
            Some((conn, CloseReason::MaxIdle))
        }
    }

    /// Whether a permit may be handed out: connections open, being opened
    /// and still closing are all below `max_open`.
    fn has_room(&self) -> bool {
        self.open + self.closing < self.open_cap
    }

    /// A connection leaves the pool to be closed: its permit becomes a
    /// `closing` slot until [`closed_one`](Self::closed_one).
    fn out(&mut self) {
        self.open -= 1;
        self.closing += 1;
    }

    /// A connection in use or in flight leaves the pool for good, to be
    /// closed (see [`out`](Self::out)). `was_in_use` says it was counted in
    /// use.
    pub(crate) fn retire(&mut self, was_in_use: bool) {
        if was_in_use {
            self.in_use -= 1;
        }
        self.out();
    }

    /// A connection that left the pool is closed (its goodbye said,
    /// abandoned, or not owed): its slot goes to the first waiter as a
    /// permit to open one, or is free.
    pub(crate) fn closed_one(&mut self) {
        self.closing -= 1;
        if !self.closed {
            self.admit_waiters(1);
        }
    }

    /// Hands up to `most` permits to waiters, while there is room.
    fn admit_waiters(&mut self, most: usize) {
        let mut admitted = 0;
        while admitted < most && self.has_room() {
            let Some(waiter) = self.waiters.pop_front() else {
                return;
            };
            self.open += 1;
            self.in_use += 1;
            if waiter.tx.send(Grant::Permit).is_ok() {
                admitted += 1;
                continue;
            }
            self.open -= 1;
            self.in_use -= 1;
        }
    }

    /// A connection left the pool for good (closed, detached, or never
    /// opened): its permit goes to the first waiter, who may open a
    /// connection with it; with nobody waiting, `open` shrinks.
    /// `was_in_use` says it was counted in use.
    pub(crate) fn free_permit(&mut self, was_in_use: bool) {
        if was_in_use {
            self.in_use -= 1;
        }
        // Over a lowered max_open, the permit is not passed on.
        if !self.closed && self.open <= self.open_cap {
            while let Some(waiter) = self.waiters.pop_front() {
                self.in_use += 1;
                if waiter.tx.send(Grant::Permit).is_ok() {
                    return;
                }
                self.in_use -= 1;
            }
        }
        self.open -= 1;
    }

    /// An open connection from outside the pool joins it as idle, room
    /// allowing; otherwise it is given back, to be closed.
    pub(crate) fn adopt(&mut self, conn: Tracked<C>) -> Option<ToClose<C>> {
        if self.closed || !self.has_room() {
            self.closing += 1;
            return Some((conn, CloseReason::MaxIdle));
        }
        self.open += 1;
        self.release(conn, false)
    }

    /// Takes out what a maintenance pass must work on: connections to close,
    /// connections due a keepalive, and permits to fill up to `min_idle`.
    pub(crate) fn maintenance_work(&mut self, now: Instant, limits: &Limits) -> MaintenanceWork<C> {
        let mut work = MaintenanceWork {
            close: Vec::new(),
            keepalive: Vec::new(),
            open_new: 0,
        };
        if self.closed {
            return work;
        }
        let idle = std::mem::take(&mut self.idle);
        for conn in idle {
            if conn.is_expired(now) {
                work.close.push((conn, CloseReason::Lifetime));
            } else if conn.idle_too_long(now, limits.max_idle_time) {
                work.close.push((conn, CloseReason::IdleTime));
            } else if limits
                .keepalive_interval
                .is_some_and(|k| now.saturating_duration_since(conn.last_contact) >= k)
            {
                work.keepalive.push(conn);
            } else {
                self.idle.push_back(conn);
            }
        }
        // The closed connections' slots go to waiters as their goodbyes
        // end (`closed_one`); with nobody waiting, top up to min_idle.
        for _ in 0..work.close.len() {
            self.out();
        }
        let idle_soon = self.idle.len() + work.keepalive.len();
        let want = usize::try_from(limits.min_idle)
            .unwrap_or(usize::MAX)
            .min(self.idle_cap);
        let room = self.open_cap.saturating_sub(self.open + self.closing);
        if self.waiters.is_empty() {
            work.open_new = want.saturating_sub(idle_soon).min(room);
            self.open += work.open_new;
        }
        work
    }

    /// Retires every connection of a generation below `oldest`: takes the
    /// idle ones out, to be closed; the rest are closed as they come back.
    pub(crate) fn retire_older(&mut self, oldest: u64) -> Vec<ToClose<C>> {
        self.oldest_generation = self.oldest_generation.max(oldest);
        let (old, keep): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut self.idle)
            .into_iter()
            .partition(|c| c.generation < self.oldest_generation);
        self.idle = keep;
        for _ in 0..old.len() {
            self.out();
        }
        old.into_iter().map(|c| (c, CloseReason::Retired)).collect()
    }

    /// New caps (a live reconfigure). Takes out the idle connections over
    /// them, to be closed now: beyond `max_idle`, and as many as the pool is
    /// over a lowered `max_open` (in-use surplus closes as it is returned).
    /// A raised `max_open` lets waiters in at once.
    pub(crate) fn set_caps(&mut self, limits: &Limits) -> Vec<ToClose<C>> {
        self.open_cap = limits.open_cap();
        self.idle_cap = limits.idle_cap();
        let mut surplus = Vec::new();
        if self.closed {
            return surplus;
        }
        while self.idle.len() > self.idle_cap
            || (self.open > self.open_cap && !self.idle.is_empty())
        {
            let why = if self.idle.len() > self.idle_cap {
                CloseReason::MaxIdle
            } else {
                CloseReason::MaxOpen
            };
            let Some(coldest) = self.idle.pop_front() else {
                break;
            };
            self.out();
            surplus.push((coldest, why));
        }
        self.admit_waiters(usize::MAX);
        surplus
    }

    /// The idle connections, to update in place (a new lifetime).
    pub(crate) fn idle_mut(&mut self) -> impl Iterator<Item = &mut Tracked<C>> {
        self.idle.iter_mut()
    }

    /// A permit to open one more connection, if the pool is open, nobody
    /// waits (they come first), there is room, and fewer than `below` are
    /// open (warm-up and health checks). `in_use`: the caller uses the
    /// connection itself before releasing it.
    pub(crate) fn try_permit(&mut self, below: usize, in_use: bool) -> bool {
        if self.closed || !self.waiters.is_empty() || !self.has_room() || self.open >= below {
            return false;
        }
        self.open += 1;
        if in_use {
            self.in_use += 1;
        }
        true
    }

    /// Marks the pool closed and takes out everything to close now: the idle
    /// connections. The waiters' senders are dropped, which fails their waits.
    pub(crate) fn shut(&mut self) -> Vec<Tracked<C>> {
        self.closed = true;
        self.waiters.clear();
        self.expiry_armed = None;
        let idle: Vec<_> = self.idle.drain(..).collect();
        for _ in 0..idle.len() {
            self.out();
        }
        idle
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closed, and every permit back: nothing left to close.
    pub(crate) fn is_drained(&self) -> bool {
        self.closed && self.open == 0 && self.closing == 0
    }

    pub(crate) fn gauges(&self) -> Gauges {
        Gauges {
            open: self.open,
            in_use: self.in_use,
            idle: self.idle.len(),
            waiting: self.waiters.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(max_open: u32, max_idle: u32) -> State<u32> {
        State::new(&Limits {
            max_open,
            max_idle,
            ..Limits::default()
        })
    }

    fn take(st: &mut State<u32>, fresh: bool, may_wait: bool) -> Take<u32> {
        let may_wait = if may_wait {
            MayWait::Forever
        } else {
            MayWait::No
        };
        let mut stale = Vec::new();
        let take = st.take(Instant::now(), fresh, may_wait, None, &mut stale);
        assert!(stale.is_empty() || fresh);
        take
    }

    fn conn(id: u64) -> Tracked<u32> {
        Tracked::new(0, id, 0, Instant::now(), None)
    }

    fn counts(st: &State<u32>) -> (usize, usize, usize, usize) {
        let g = st.gauges();
        (g.open, g.in_use, g.idle, g.waiting)
    }

    #[test]
    fn permits_run_out_at_max_open_then_acquirers_wait_or_are_refused() {
        let mut st = state(2, 2);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        assert!(matches!(take(&mut st, false, false), Take::Exhausted));
        assert!(matches!(
            take(&mut st, false, true),
            Take::Wait(0, _, false)
        ));
        assert_eq!(counts(&st), (2, 2, 0, 1));
    }

    #[test]
    fn a_release_goes_to_the_first_waiter_before_the_idle_list() {
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let Take::Wait(_, mut rx, _) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        assert!(st.release(conn(1), true).is_none());
        assert!(matches!(rx.try_recv(), Ok(Grant::Conn(c)) if c.id == 1));
        assert_eq!(counts(&st), (1, 1, 0, 0));
    }

    #[test]
    fn returns_past_max_idle_are_handed_back_to_be_closed() {
        let mut st = state(3, 1);
        for _ in 0..2 {
            assert!(matches!(take(&mut st, false, true), Take::Permit));
        }
        assert!(st.release(conn(1), true).is_none());
        let out = st.release(conn(2), true);
        assert!(matches!(out, Some((c, CloseReason::MaxIdle)) if c.id == 2));
        assert_eq!(counts(&st), (1, 0, 1, 0));
    }

    #[test]
    fn a_freed_permit_goes_to_the_first_waiter_else_open_shrinks() {
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let Take::Wait(_, mut rx, _) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        st.free_permit(true);
        assert!(matches!(rx.try_recv(), Ok(Grant::Permit)));
        assert_eq!(counts(&st), (1, 1, 0, 0));
        st.free_permit(true);
        assert_eq!(counts(&st), (0, 0, 0, 0));
    }

    fn wait_until(st: &mut State<u32>, deadline: Instant) -> (oneshot::Receiver<Grant<u32>>, bool) {
        let mut stale = Vec::new();
        match st.take(
            Instant::now(),
            false,
            MayWait::Until(deadline),
            None,
            &mut stale,
        ) {
            Take::Wait(_, rx, sooner) => (rx, sooner),
            _ => panic!("expected a place in line"),
        }
    }

    #[test]
    fn waiters_past_their_deadline_are_timed_out_and_the_next_deadline_is_named() {
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let (mut first, told) = wait_until(&mut st, t + s);
        assert!(told, "the first deadline must wake the deadline task");
        let (mut later, told) = wait_until(&mut st, t + 3 * s);
        assert!(!told, "a later deadline waits for the task's next look");
        let Take::Wait(_, mut unbounded, told) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        assert!(!told);
        assert_eq!(st.expire_waiters(t), (0, Some(t + s)), "not yet due");
        assert_eq!(st.expire_waiters(t + 2 * s), (1, Some(t + 3 * s)));
        assert!(matches!(first.try_recv(), Ok(Grant::TimedOut)));
        assert!(later.try_recv().is_err() && unbounded.try_recv().is_err());
        assert_eq!(counts(&st), (1, 1, 0, 2));
        let (_sooner, told) = wait_until(&mut st, t + 2 * s);
        assert!(told, "sooner than the task's next look: it must be told");
        assert_eq!(st.expire_waiters(t + 10 * s), (2, None));
        assert!(matches!(later.try_recv(), Ok(Grant::TimedOut)));
        assert_eq!(counts(&st), (1, 1, 0, 1), "the unbounded one still waits");
        // The line emptied of deadlines: the next one must tell the task.
        let (_again, told) = wait_until(&mut st, t + 20 * s);
        assert!(told);
    }

    #[test]
    fn a_timeout_and_a_hand_off_racing_serve_a_waiter_once() {
        let t = Instant::now();
        // The deadline wins the lock: the connection skips the timed-out
        // waiter and goes to the next.
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let (mut due, _) = wait_until(&mut st, t);
        let Take::Wait(_, mut next, _) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        assert_eq!(st.expire_waiters(t).0, 1);
        assert!(st.release(conn(1), true).is_none());
        assert!(matches!(due.try_recv(), Ok(Grant::TimedOut)));
        assert!(matches!(next.try_recv(), Ok(Grant::Conn(c)) if c.id == 1));
        assert_eq!(counts(&st), (1, 1, 0, 0));
        // The hand-off wins: the served waiter is out of line, and the
        // deadline passing later touches nothing.
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let (mut served, _) = wait_until(&mut st, t);
        assert!(st.release(conn(2), true).is_none());
        assert_eq!(st.expire_waiters(t), (0, None));
        assert!(matches!(served.try_recv(), Ok(Grant::Conn(c)) if c.id == 2));
        assert_eq!(counts(&st), (1, 1, 0, 0));
    }

    #[test]
    fn a_fresh_take_on_a_full_pool_replaces_the_oldest_idle_connection() {
        let mut st = state(2, 2);
        for _ in 0..2 {
            assert!(matches!(take(&mut st, false, true), Take::Permit));
        }
        assert!(st.release(conn(1), true).is_none());
        assert!(st.release(conn(2), true).is_none());
        let mut stale = Vec::new();
        let take = st.take(Instant::now(), true, MayWait::Forever, None, &mut stale);
        // The oldest goes; the fresh acquire waits, first in line, until it
        // is closed: two connections plus one closing would exceed max_open.
        let Take::Wait(_, mut rx, _) = take else {
            panic!("expected a place in line");
        };
        assert!(matches!(&stale[..], [(c, CloseReason::Replaced)] if c.id == 1));
        assert_eq!(counts(&st), (1, 0, 1, 1));
        st.closed_one();
        assert!(matches!(rx.try_recv(), Ok(Grant::Permit)));
        assert_eq!(counts(&st), (2, 1, 1, 0));
    }

    #[test]
    fn a_retiring_connection_holds_its_slot_until_it_is_closed() {
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        st.retire(true);
        assert_eq!(counts(&st), (0, 0, 0, 0));
        assert!(matches!(take(&mut st, false, false), Take::Exhausted));
        let Take::Wait(_, mut rx, _) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        assert!(rx.try_recv().is_err(), "granted while the old one closes");
        st.closed_one();
        assert!(matches!(rx.try_recv(), Ok(Grant::Permit)));
        assert_eq!(counts(&st), (1, 1, 0, 0));
    }

    #[test]
    fn a_lowered_max_open_closes_idle_surplus_now_and_in_use_surplus_on_return() {
        let mut st = state(4, 4);
        for _ in 0..4 {
            assert!(matches!(take(&mut st, false, true), Take::Permit));
        }
        assert!(st.release(conn(1), true).is_none());
        assert!(st.release(conn(2), true).is_none());
        let surplus = st.set_caps(&Limits {
            max_open: 1,
            max_idle: 1,
            ..Limits::default()
        });
        // Four open, one allowed: both idle go now (coldest first).
        assert_eq!(
            surplus.iter().map(|(c, _)| c.id).collect::<Vec<_>>(),
            [1, 2]
        );
        // One is over max_idle, the other only over max_open.
        assert_eq!(
            surplus.iter().map(|(_, why)| *why).collect::<Vec<_>>(),
            [CloseReason::MaxIdle, CloseReason::MaxOpen]
        );
        assert_eq!(counts(&st), (2, 2, 0, 0));
        let Take::Wait(_, mut rx, _) = take(&mut st, false, true) else {
            panic!("expected a place in line");
        };
        // A return over the cap is closed, not handed to the waiter.
        assert!(matches!(
            st.release(conn(3), true),
            Some((_, CloseReason::MaxOpen))
        ));
        assert_eq!(counts(&st), (1, 1, 0, 1));
        assert!(
            st.release(conn(4), true).is_none(),
            "within the cap: to the waiter"
        );
        assert!(matches!(rx.try_recv(), Ok(Grant::Conn(c)) if c.id == 4));
    }

    #[test]
    fn a_raised_max_open_lets_waiters_in_at_once() {
        let mut st = state(1, 1);
        assert!(matches!(take(&mut st, false, true), Take::Permit));
        let mut waiting = Vec::new();
        for _ in 0..3 {
            let Take::Wait(_, rx, _) = take(&mut st, false, true) else {
                panic!("expected a place in line");
            };
            waiting.push(rx);
        }
        assert!(
            st.set_caps(&Limits {
                max_open: 3,
                max_idle: 3,
                ..Limits::default()
            })
            .is_empty()
        );
        let granted = waiting
            .iter_mut()
            .filter_map(|rx| rx.try_recv().ok())
            .count();
        assert_eq!(granted, 2, "two more permits, first come first served");
        assert_eq!(counts(&st), (3, 3, 0, 1));
    }

    #[test]
    fn shut_takes_the_idle_out_and_later_returns_are_closed() {
        let mut st = state(2, 2);
        for _ in 0..2 {
            assert!(matches!(take(&mut st, false, true), Take::Permit));
        }
        assert!(st.release(conn(1), true).is_none());
        assert_eq!(st.shut().len(), 1);
        assert!(!st.is_drained(), "one still in use");
        assert!(matches!(take(&mut st, false, true), Take::Closed));
        let out = st.release(conn(2), true);
        assert!(matches!(out, Some((_, CloseReason::Closed))));
        st.closed_one();
        assert!(!st.is_drained(), "one still closing");
        st.closed_one();
        assert!(st.is_drained());
    }

    #[test]
    fn retiring_a_generation_closes_its_idle_connections_now_and_the_rest_on_return() {
        let mut st = state(3, 3);
        for _ in 0..3 {
            assert!(matches!(take(&mut st, false, true), Take::Permit));
        }
        assert!(st.release(conn(1), true).is_none());
        let old = st.retire_older(1);
        assert_eq!(old.len(), 1);
        assert!(matches!(old[0], (_, CloseReason::Retired)));
        // In use through the retirement: closed when it comes back.
        let out = st.release(conn(2), true);
        assert!(matches!(out, Some((_, CloseReason::Retired))));
        // Opened in the new generation: kept.
        let mut new = conn(3);
        new.generation = 1;
        assert!(st.release(new, true).is_none());
        assert_eq!(counts(&st), (1, 0, 1, 0));
    }
}
