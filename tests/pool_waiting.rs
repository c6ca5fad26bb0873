//! The wait in line, where a hand-off, a cancellation and a deadline can
//! meet: a waiter's bound is kept by the pool's one deadline task, not by a
//! timer of its own, so these pin down what that task must get right.
//!
//! All on tokio's paused clock: a `sleep` is the scenario's time passing,
//! exactly, and the timer wheel's 1 ms tick is the only rounding.

mod common;
use common::{TEST_TIMEOUT, bounded};

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use pool_runtime::pool::{AcquirePhase, GenericPool, Limits, PoolError};
use pool_runtime::testkit::MemoryManager;

/// One connection, maintenance by hand, and an `acquire_timeout` no test
/// here reaches unless it means to.
fn one_conn_pool() -> (GenericPool<MemoryManager>, MemoryManager) {
    let mut o = Limits::default();
    o.max_open = 1;
    o.max_idle = 1;
    o.maintenance_interval = Duration::from_secs(3600);
    o.acquire_timeout = Duration::from_secs(3600);
    let manager = MemoryManager::new();
    (GenericPool::new(manager.clone(), o).unwrap(), manager)
}

/// Polls `f` once: `None` if it is pending (an acquire: now in line).
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Option<F::Output> {
    poll_fn(|cx| match Pin::new(&mut *f).poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

fn is_waiting_timeout<E: std::error::Error>(e: &PoolError<E>) -> bool {
    matches!(
        e,
        PoolError::Timeout {
            phase: AcquirePhase::Waiting,
            per_call: true,
            ..
        }
    )
}

#[tokio::test(start_paused = true)]
async fn a_waiter_cancelled_while_being_handed_a_connection_passes_it_on() {
    bounded(
        "a_waiter_cancelled_while_being_handed_a_connection_passes_it_on",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = one_conn_pool();
            let held = pool.get().await.unwrap();
            let id = held.id();
            let mut first = Box::pin(pool.get());
            let mut second = Box::pin(pool.get());
            assert!(poll_once(&mut first).await.is_none());
            assert!(poll_once(&mut second).await.is_none());
            assert_eq!(pool.stats().waiting, 2);
            // Handed to `first`, which has not run since: the connection is
            // in its channel, out of the pool's hands.
            drop(held);
            assert_eq!(pool.stats().waiting, 1);
            drop(first);
            let next = poll_once(&mut second).await.expect("passed on at once");
            let conn = next.unwrap();
            assert_eq!(conn.id(), id, "the same connection, not a new one");
            assert_eq!(manager.live(), 1);
            drop(conn);
            let stats = pool.stats();
            assert_eq!(
                (stats.open, stats.in_use, stats.idle, stats.waiting),
                (1, 0, 1, 0),
                "{stats:?}"
            );
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_waiter_cancelled_while_being_handed_a_permit_passes_it_on() {
    bounded(
        "a_waiter_cancelled_while_being_handed_a_permit_passes_it_on",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = one_conn_pool();
            let held = pool.get().await.unwrap();
            let mut first = Box::pin(pool.get());
            let mut second = Box::pin(pool.get());
            assert!(poll_once(&mut first).await.is_none());
            assert!(poll_once(&mut second).await.is_none());
            // A detached connection frees its permit: `first` is granted it.
            let _raw = held.detach();
            drop(first);
            let conn = tokio::time::timeout(TEST_TIMEOUT, second)
                .await
                .expect("the permit was lost")
                .unwrap();
            assert_eq!(manager.connects(), 2, "the permit opened a new one");
            drop(conn);
            let stats = pool.stats();
            assert_eq!((stats.open, stats.in_use, stats.waiting), (1, 0, 0));
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_racing_a_hand_off_serves_or_fails_the_waiter_never_both() {
    bounded(
        "a_timeout_racing_a_hand_off_serves_or_fails_the_waiter_never_both",
        TEST_TIMEOUT,
        async {
            let bound = Duration::from_millis(100);
            let ms = Duration::from_millis(1);
            // The holder returns the connection 1 ms before, at, and 1 ms
            // after the waiter's deadline.
            for (release_at, expect) in [
                (bound - ms, Some(true)),
                (bound, None),
                (bound + ms, Some(false)),
            ] {
                for _ in 0..20 {
                    let (pool, manager) = one_conn_pool();
                    let held = pool.get().await.unwrap();
                    let id = held.id();
                    let holder = tokio::spawn(async move {
                        tokio::time::sleep(release_at).await;
                        drop(held);
                    });
                    let got = pool.get_timeout(bound).await;
                    holder.await.unwrap();
                    let served = match got {
                        Ok(conn) => {
                            assert_eq!(conn.id(), id);
                            true
                        }
                        Err(e) => {
                            assert!(is_waiting_timeout(&e), "{e:?}");
                            false
                        }
                    };
                    if let Some(expect) = expect {
                        assert_eq!(
                            served, expect,
                            "released at {release_at:?}, bound {bound:?}"
                        );
                    }
                    // Either way the connection is back and the count true.
                    let stats = pool.stats();
                    assert_eq!((stats.waiting, stats.open), (0, 1), "{stats:?}");
                    assert_eq!(stats.timeouts, u64::from(!served), "{stats:?}");
                    let again = pool.try_get().await.unwrap();
                    assert_eq!((again.id(), manager.live()), (id, 1));
                }
            }
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_shorter_bound_joining_behind_a_longer_one_still_times_out_on_time() {
    bounded(
        "a_shorter_bound_joining_behind_a_longer_one_still_times_out_on_time",
        TEST_TIMEOUT,
        async {
            let (pool, _) = one_conn_pool();
            let held = pool.get().await.unwrap();
            // On the paused clock, time passes only once every task is idle:
            // after this, the deadline task sleeps with nothing to look at.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut long = Box::pin(pool.get_timeout(Duration::from_secs(600)));
            assert!(poll_once(&mut long).await.is_none());
            // Let the deadline task take the 600 s deadline as its next look.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let started = tokio::time::Instant::now();
            let short = Duration::from_millis(200);
            let err = pool.get_timeout(short).await.unwrap_err();
            let took = started.elapsed();
            assert!(is_waiting_timeout(&err), "{err:?}");
            // The deadline task was asleep until the 600 s deadline; the
            // shorter one must have woken it (1 ms: the wheel's tick).
            assert!(
                took >= short && took <= short + Duration::from_millis(1),
                "timed out after {took:?}, bound {short:?}"
            );
            // The longer waiter is untouched and still first in line.
            assert_eq!(pool.stats().waiting, 1);
            let id = held.id();
            drop(held);
            let conn = poll_once(&mut long).await.expect("served").unwrap();
            assert_eq!(conn.id(), id);
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn waiters_time_out_in_turn_each_at_its_own_deadline() {
    bounded(
        "waiters_time_out_in_turn_each_at_its_own_deadline",
        TEST_TIMEOUT,
        async {
            let (pool, _) = one_conn_pool();
            let _held = pool.get().await.unwrap();
            let started = tokio::time::Instant::now();
            // Joined in this order, with deadlines out of order.
            let bounds_ms = [300u64, 100, 500, 200];
            let waiters: Vec<_> = bounds_ms
                .iter()
                .map(|&b| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        let err = pool
                            .get_timeout(Duration::from_millis(b))
                            .await
                            .unwrap_err();
                        assert!(is_waiting_timeout(&err), "{err:?}");
                        tokio::time::Instant::now() - started
                    })
                })
                .collect();
            for (waiter, b) in waiters.into_iter().zip(bounds_ms) {
                let took = waiter.await.unwrap();
                let bound = Duration::from_millis(b);
                assert!(
                    took >= bound && took <= bound + Duration::from_millis(1),
                    "bound {bound:?} timed out after {took:?}"
                );
            }
            let stats = pool.stats();
            assert_eq!((stats.waiting, stats.timeouts), (0, 4), "{stats:?}");
        },
    )
    .await;
}
