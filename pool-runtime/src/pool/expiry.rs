//! The deadline task: fails waiters whose acquire bound ran out.
//!
//! One task per pool instead of one timer per waiting acquire. A waiter's
//! deadline is written into the line when it joins ([`State::take`]); this
//! task sleeps until the earliest deadline it knows of, fails every waiter
//! due by then ([`State::expire_waiters`]), and sleeps again. Most waits end
//! long before their bound, and with one `acquire_timeout` every new
//! deadline falls after the ones already in line, so a busy pool wakes this
//! task about once per `acquire_timeout`, not once per wait. A waiter whose
//! deadline comes sooner than the task's next look (a shorter `get_timeout`,
//! or the first after a quiet spell) nudges it.
//!
//! Like the maintenance task, it holds the pool only weakly and stops on
//! close, when the line is failed as a whole.
//!
//! [`State::take`]: super::state::State::take
//! [`State::expire_waiters`]: super::state::State::expire_waiters

use std::future::pending;
use std::sync::{Arc, Weak};

use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep_until};

use super::inner::PoolInner;
use super::manager::Manager;

pub(crate) async fn run<M: Manager>(
    pool: Weak<PoolInner<M>>,
    nudge: Arc<Notify>,
    mut closing: watch::Receiver<bool>,
) {
    loop {
        let next = match pool.upgrade() {
            Some(inner) => inner.expire_waiters(Instant::now()),
            None => return,
        };
        // A nudge sent since the look above is kept by `Notify` as a
        // permit, so the `notified()` below returns at once: none is lost.
        let due = async {
            match next {
                Some(at) => sleep_until(at).await,
                None => pending().await,
            }
        };
        tokio::select! {
            () = due => {}
            () = nudge.notified() => {}
            // Closed, or the pool dropped (the sender went with it).
            _ = closing.changed() => return,
        }
    }
}
