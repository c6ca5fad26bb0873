//! The pool core's operations (live limits, probe, drain, warm-up) with the
//! in-memory manager: no server, exact counts. Tests about time run on
//! tokio's paused clock.

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use pool_runtime::pool::{GenericPool, Limits, LimitsError, PoolError, Probe};
use pool_runtime::testkit::MemoryManager;

/// Longest a step that should finish may take.
const STEP: Duration = Duration::from_secs(30);

fn limits(max_open: u32, max_idle: u32) -> Limits {
    let mut o = Limits::default();
    o.max_open = max_open;
    o.max_idle = max_idle;
    // Maintenance is driven by hand in these tests.
    o.maintenance_interval = Duration::from_secs(3600);
    o
}

fn pool(limits: Limits) -> (GenericPool<MemoryManager>, MemoryManager) {
    let manager = MemoryManager::new();
    (GenericPool::new(manager.clone(), limits).unwrap(), manager)
}

fn with_max_open(pool: &GenericPool<MemoryManager>, max_open: u32) -> Limits {
    let mut next = pool.limits();
    next.max_open = max_open;
    next.max_idle = max_open;
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_open_grows_and_shrinks_under_load_and_no_acquire_fails() {
    bounded(
        "max_open_grows_and_shrinks_under_load_and_no_acquire_fails",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(8, 8));
            let stop = Arc::new(AtomicBool::new(false));
            let served = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let (pool, stop, served) = (pool.clone(), stop.clone(), served.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(SeqCst) {
                        let conn = pool.get().await.expect("no acquire fails");
                        tokio::task::yield_now().await;
                        drop(conn);
                        served.fetch_add(1, SeqCst);
                    }
                }));
            }
            for max_open in [2, 12, 1, 16, 4, 8, 3] {
                pool.reconfigure(with_max_open(&pool, max_open))
                    .await
                    .expect("a live change");
                let seen = served.load(SeqCst);
                // Once the surplus is back and closed, the cap holds: look
                // several times while the load goes on.
                eventually("the surplus closed", STEP, || async {
                    (manager.live() <= u64::from(max_open)).then_some(())
                })
                .await;
                for _ in 0..50 {
                    assert!(
                        manager.live() <= u64::from(max_open),
                        "{} alive over max_open {max_open}",
                        manager.live()
                    );
                    assert!(pool.stats().open <= u64::from(max_open));
                    tokio::task::yield_now().await;
                }
                eventually("work goes on", STEP, || async {
                    (served.load(SeqCst) > seen + 100).then_some(())
                })
                .await;
            }
            stop.store(true, SeqCst);
            for task in tasks {
                task.await.expect("worker");
            }
            assert_eq!(pool.stats().in_use, 0);
            assert_eq!(pool.limits().max_open, 3);
        },
    )
    .await;
}

#[tokio::test]
async fn a_limit_fixed_at_creation_is_refused_and_nothing_changes() {
    bounded(
        "a_limit_fixed_at_creation_is_refused_and_nothing_changes",
        TEST_TIMEOUT,
        async {
            let (pool, _manager) = pool(limits(4, 4));
            let before = pool.limits();
            let mut next = with_max_open(&pool, 1);
            next.maintenance_interval = Duration::from_secs(1);
            let refused = pool.reconfigure(next).await.unwrap_err();
            assert_eq!(
                refused,
                LimitsError::NotLive {
                    field: "maintenance_interval"
                }
            );
            assert!(refused.to_string().contains("maintenance_interval"));
            assert_eq!(pool.limits(), before);
            pool.close().await;
            assert_eq!(
                pool.reconfigure(before).await.unwrap_err(),
                LimitsError::Closed
            );
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_shorter_max_lifetime_applies_to_connections_already_open() {
    let (pool, manager) = pool(limits(2, 2));
    let idle = pool.get().await.unwrap();
    let held = pool.get().await.unwrap();
    drop(idle);
    let mut next = pool.limits();
    next.max_lifetime = Some(Duration::from_secs(10));
    pool.reconfigure(next).await.unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    drop(held);
    // Both are past the new lifetime: the returned one is retired on
    // return, the idle one at the next look.
    let fresh = pool.get().await.unwrap();
    assert_eq!(pool.stats().max_lifetime_closed, 2);
    assert_eq!(manager.connects(), 3);
    drop(fresh);
}

#[tokio::test]
async fn a_probe_says_saturated_without_connecting_when_every_permit_is_taken() {
    bounded(
        "a_probe_says_saturated_without_connecting_when_every_permit_is_taken",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(2, 2));
            assert!(matches!(pool.probe().await, Probe::Connected));
            assert!(matches!(pool.probe().await, Probe::Pinged));
            let held = [pool.get().await.unwrap(), pool.get().await.unwrap()];
            let (connects, validations) = (manager.connects(), manager.validations());
            assert!(matches!(pool.probe().await, Probe::Saturated));
            assert_eq!(
                (manager.connects(), manager.validations()),
                (connects, validations),
                "a saturated pool is answered without the server"
            );
            drop(held);
            manager.kill_existing();
            manager.refuse_all(true);
            // The idle one fails its ping; the new one is refused.
            assert!(matches!(
                pool.probe().await,
                Probe::Failed(PoolError::Connect(_))
            ));
            manager.refuse_all(false);
            assert!(matches!(
                pool.probe().await,
                Probe::Pinged | Probe::Connected
            ));
            pool.close().await;
            assert!(matches!(pool.probe().await, Probe::Closed));
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_drain_waits_for_returns_forces_the_rest_and_interrupts_them() {
    let (pool, manager) = pool(limits(4, 4));
    let quick = pool.get().await.unwrap();
    let slow = pool.get().await.unwrap();
    let stuck = pool.get().await.unwrap();
    let idle = pool.get().await.unwrap();
    drop(idle);
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move {
            // Fill the pool, then wait in line.
            let _a = pool.get().await?;
            pool.get().await.map(drop)
        }
    });
    eventually("an acquire in line", STEP, || async {
        (pool.stats().waiting == 1).then_some(())
    })
    .await;
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(quick);
    });
    let stuck_id = stuck.id();
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let interrupt = {
        let asked = Arc::clone(&asked);
        move |sessions: Vec<u64>| {
            *asked.lock().unwrap() = sessions;
            // "Killing" the slow statement makes its user give it back.
            drop(slow);
            std::future::ready(1)
        }
    };
    let report = pool
        .close_within_interrupting(Duration::from_secs(5), Duration::from_secs(2), interrupt)
        .await;
    assert!(
        matches!(waiter.await.unwrap(), Err(PoolError::Closed)),
        "the waiter is woken with Closed"
    );
    // quick, slow, stuck and the waiter's first one were in use.
    assert_eq!(report.in_use_at_start, 4);
    assert_eq!(report.returned, 2, "{report}");
    assert_eq!(report.forced, 2, "{report}");
    assert_eq!(report.interrupted, 1);
    assert_eq!(report.still_in_use, 1, "{report}");
    assert!(asked.lock().unwrap().contains(&stuck_id));
    assert_eq!(report.took, Duration::from_secs(7));
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    drop(stuck);
    eventually("every connection closed", STEP, || async {
        (manager.live() == 0).then_some(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_drain_with_nothing_in_use_returns_at_once() {
    let (pool, manager) = pool(limits(4, 4));
    drop(pool.get().await.unwrap());
    let report = pool.close_within(Duration::from_secs(30)).await;
    assert_eq!((report.in_use_at_start, report.forced), (0, 0));
    assert_eq!(report.took, Duration::ZERO);
    eventually("the idle one closed", STEP, || async {
        (manager.live() == 0).then_some(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn warm_up_opens_min_idle_or_says_how_far_it_got() {
    let mut l = limits(8, 8);
    l.min_idle = 5;
    let (pool, manager) = pool(l.clone());
    pool.warm_up(Duration::from_secs(5))
        .await
        .expect("warmed up");
    assert_eq!(pool.stats().open, 5);
    assert_eq!(manager.live(), 5);

    let manager = MemoryManager::new();
    manager.refuse_all(true);
    let cold = GenericPool::new(manager.clone(), l).unwrap();
    let started = tokio::time::Instant::now();
    let err = cold.warm_up(Duration::from_secs(3)).await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!((err.wanted, err.opened), (5, 0));
    assert!(matches!(err.last_error, Some(PoolError::Connect(_))));
    assert!(err.to_string().contains("min_idle 5"), "{err}");
    // The pool stays usable: once the server accepts, it fills.
    manager.refuse_all(false);
    cold.warm_up(Duration::from_secs(3))
        .await
        .expect("warmed up later");
    assert_eq!(cold.stats().open, 5);
}
