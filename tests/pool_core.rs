//! The pool core's semantics, with the in-memory manager: no server, so the
//! interleavings can be pushed hard and the counts checked exactly.
//!
//! Tests about time (lifetimes, idle bounds, timeouts, keepalives) run on
//! tokio's paused clock (`start_paused`): the pool reads tokio's clock, so a
//! `sleep` there is the scenario's time passing, exactly and instantly, and
//! no bound depends on how loaded the machine is.

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pool_runtime::pool::{GenericPool, Limits, PoolError};
use pool_runtime::testkit::MemoryManager;

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

/// Waits until `n` acquires are in line (polling the gauge: there is no
/// event for it).
async fn until_waiting(pool: &GenericPool<MemoryManager>, n: u64) {
    eventually("acquires in line", STEP, || async {
        (pool.stats().waiting >= n).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_under_load_and_the_pool_settles() {
    bounded(
        "limits_hold_under_load_and_the_pool_settles",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(8, 4));
            let holders = Arc::new(AtomicUsize::new(0));
            let most_held = Arc::new(AtomicUsize::new(0));
            let most_live = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let (pool, manager) = (pool.clone(), manager.clone());
                let (holders, most_held, most_live) =
                    (holders.clone(), most_held.clone(), most_live.clone());
                tasks.push(tokio::spawn(async move {
                    for _ in 0..200 {
                        let conn = pool.get().await.unwrap();
                        let now_held = holders.fetch_add(1, SeqCst) + 1;
                        most_held.fetch_max(now_held, SeqCst);
                        most_live.fetch_max(manager.live() as usize, SeqCst);
                        tokio::task::yield_now().await;
                        holders.fetch_sub(1, SeqCst);
                        drop(conn);
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            assert!(
                most_held.load(SeqCst) <= 8,
                "{} held at once",
                most_held.load(SeqCst)
            );
            assert!(
                most_live.load(SeqCst) <= 8,
                "{} connections alive at once",
                most_live.load(SeqCst)
            );
            let stats = pool.stats();
            assert_eq!(stats.in_use, 0, "{stats:?}");
            assert!(stats.idle <= 4, "{stats:?}");
            assert_eq!(stats.open, stats.idle, "{stats:?}");
            // Surplus connections are closed in background tasks; they must all go.
            until_live(&manager, stats.open).await;
            assert!(
                stats.wait_count > 0,
                "64 tasks on 8 permits must have waited"
            );
        },
    )
    .await;
}

#[tokio::test]
async fn waiters_are_served_in_arrival_order() {
    bounded("waiters_are_served_in_arrival_order", TEST_TIMEOUT, async {
        let (pool, _) = pool(limits(1, 1));
        let held = pool.get().await.unwrap();
        let served = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (waiter, served) = (pool.clone(), served.clone());
            tasks.push(tokio::spawn(async move {
                let conn = waiter.get().await.unwrap();
                served.lock().unwrap().push(i);
                drop(conn);
            }));
            until_waiting(&pool, i + 1).await;
        }
        drop(held);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*served.lock().unwrap(), (0..10).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn a_new_acquire_does_not_jump_the_line_when_a_permit_frees() {
    bounded(
        "a_new_acquire_does_not_jump_the_line_when_a_permit_frees",
        TEST_TIMEOUT,
        async {
            // A connect fails while others wait: its permit goes to the first waiter,
            // who then opens a connection, instead of to whoever asks next.
            let (pool, manager) = pool(limits(1, 1));
            let held = pool.get().await.unwrap();
            let first = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(|c| c.pool_id()) }
            });
            until_waiting(&pool, 1).await;
            held.detach(); // the permit frees; the waiter must open a connection
            let id = first.await.unwrap().unwrap();
            assert_eq!(manager.connects(), 2);
            assert_ne!(id, 0);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_cancelled_acquires_leak_nothing() {
    bounded(
        "ten_thousand_cancelled_acquires_leak_nothing",
        TEST_TIMEOUT,
        async {
            let mut o = limits(8, 8);
            // Every idle connection is validated, so cancellations also land in
            // pings; slow connects put them in connects too.
            o.validate_after_idle = Duration::ZERO;
            let (pool, manager) = pool(o);
            manager.set_connect_delay(Duration::from_micros(50));
            let completed = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for t in 0..64 {
                let (pool, completed) = (pool.clone(), completed.clone());
                tasks.push(tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(t);
                    for i in 0..157 {
                        if i % 2 == 0 {
                            let budget = Duration::from_micros(rng.u64(0..=200));
                            if let Ok(Ok(conn)) = tokio::time::timeout(budget, pool.get()).await {
                                completed.fetch_add(1, SeqCst);
                                tokio::task::yield_now().await;
                                drop(conn);
                            }
                        } else {
                            tokio::select! {
                                _ = std::future::ready(()) => {}
                                got = pool.get() => {
                                    if got.is_ok() {
                                        completed.fetch_add(1, SeqCst);
                                    }
                                }
                            }
                        }
                    }
                }));
            }
            let all = async {
                for task in tasks {
                    task.await.unwrap();
                }
            };
            tokio::time::timeout(Duration::from_secs(60), all)
                .await
                .expect("cancelled acquires deadlocked the pool");

            let stats = pool.stats();
            assert_eq!(stats.in_use, 0, "{stats:?}");
            assert_eq!(stats.waiting, 0, "{stats:?}");
            assert!(stats.open <= 8, "{stats:?}");
            // Give the pool a moment to finish closes it started in tasks.
            let settled = Instant::now() + Duration::from_secs(5);
            while manager.live() != stats.open && Instant::now() < settled {
                tokio::task::yield_now().await;
            }
            assert_eq!(
                manager.live(),
                pool.stats().open,
                "a connection leaked out of the pool"
            );
            assert!(completed.load(SeqCst) > 0, "no acquire ever completed");
            let conn = tokio::time::timeout(Duration::from_secs(5), pool.get()).await;
            assert!(matches!(conn, Ok(Ok(_))), "the pool no longer serves");
        },
    )
    .await;
}

#[tokio::test]
async fn connections_killed_while_idle_are_replaced_unseen() {
    bounded(
        "connections_killed_while_idle_are_replaced_unseen",
        TEST_TIMEOUT,
        async {
            let mut o = limits(10, 10);
            o.validate_after_idle = Duration::ZERO;
            let (pool, manager) = pool(o);
            let held: Vec<_> = futures_join(&pool, 10).await;
            drop(held);
            manager.kill_existing();

            let again = futures_join(&pool, 10).await;
            assert_eq!(again.len(), 10);
            let stats = pool.stats();
            assert_eq!(stats.validation_failed, 10, "{stats:?}");
            assert_eq!(stats.connections_created, 20, "{stats:?}");
            // The first failed ping proved the server closed it; the other
            // nine deaths were explained by that one event.
            assert_eq!(stats.suspect_events, 1, "{stats:?}");
        },
    )
    .await;
}

/// How long (on the paused clock) replacing 4 silent idle connections
/// takes with `validation_timeout` set to `fixed` (`None`: adaptive).
async fn burst_through_silent_connections(fixed: Option<Duration>) -> Duration {
    let mut o = limits(4, 4);
    o.validate_after_idle = Duration::ZERO;
    o.validation_timeout = fixed;
    let (pool, manager) = pool(o);
    drop(futures_join(&pool, 4).await);
    // Observed round trips so far are instant, so the adaptive bound sits
    // at its floor.
    manager.silence_existing();
    // Idle past validate_after_idle (0): the paused clock must move.
    tokio::time::sleep(Duration::from_millis(1)).await;

    let started = tokio::time::Instant::now();
    let again = futures_join(&pool, 4).await;
    let took = started.elapsed();
    assert_eq!(again.len(), 4);
    let stats = pool.stats();
    assert_eq!(stats.validation_failed, 4, "{stats:?}");
    assert_eq!(stats.connections_created, 8, "{stats:?}");
    took
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_costs_the_adaptive_timeout_not_seconds() {
    bounded(
        "a_silent_connection_costs_the_adaptive_timeout_not_seconds",
        TEST_TIMEOUT,
        async {
            // Same run, same clock: the adaptive bound against HikariCP's fixed 5 s.
            let adaptive = burst_through_silent_connections(None).await;
            let fixed = burst_through_silent_connections(Some(Duration::from_secs(5))).await;
            eprintln!(
                "4 silent connections replaced in {adaptive:?} (adaptive) vs {fixed:?} (fixed 5 s)"
            );
            // The pings run concurrently, each bounded by the 10 ms floor: the
            // burst costs one floor, not one per connection and not the fixed bound.
            assert!(
                adaptive >= Duration::from_millis(10) && adaptive < Duration::from_millis(20),
                "{adaptive:?}"
            );
            assert!(fixed >= Duration::from_secs(5), "{fixed:?}");
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_fixed_validation_timeout_is_honoured() {
    bounded(
        "a_fixed_validation_timeout_is_honoured",
        TEST_TIMEOUT,
        async {
            let mut o = limits(1, 1);
            o.validate_after_idle = Duration::ZERO;
            o.validation_timeout = Some(Duration::from_millis(150));
            let (pool, manager) = pool(o);
            drop(pool.get().await.unwrap());
            manager.silence_existing();
            // Idle past validate_after_idle (0): the paused clock must move.
            tokio::time::sleep(Duration::from_millis(1)).await;
            let started = tokio::time::Instant::now();
            drop(pool.get().await.unwrap());
            let took = started.elapsed();
            // A paused clock: exactly the fixed bound, not the adaptive 10 ms floor
            // nor its 5 s cap.
            assert!(
                took >= Duration::from_millis(150) && took < Duration::from_millis(160),
                "{took:?}"
            );
            assert_eq!(pool.stats().validation_failed, 1);
        },
    )
    .await;
}

async fn futures_join(
    pool: &GenericPool<MemoryManager>,
    n: usize,
) -> Vec<pool_runtime::pool::Pooled<MemoryManager>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.get().await.unwrap() })
        })
        .collect();
    let mut conns = Vec::new();
    for task in tasks {
        conns.push(task.await.unwrap());
    }
    conns
}

#[tokio::test]
async fn returns_beyond_max_idle_are_closed() {
    bounded("returns_beyond_max_idle_are_closed", TEST_TIMEOUT, async {
        let (pool, manager) = pool(limits(10, 2));
        let held = futures_join(&pool, 5).await;
        assert_eq!(manager.live(), 5);
        drop(held);
        let stats = pool.stats();
        assert_eq!(
            (stats.idle, stats.open, stats.max_idle_closed),
            (2, 2, 3),
            "{stats:?}"
        );
        // Surplus connections are closed politely in background tasks.
        until_live(&manager, 2).await;
    })
    .await;
}

#[tokio::test]
async fn a_broken_connection_is_dropped_on_return_and_a_dirty_one_reset() {
    bounded(
        "a_broken_connection_is_dropped_on_return_and_a_dirty_one_reset",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(2, 2));
            let mut conn = pool.get().await.unwrap();
            conn.break_it();
            drop(conn);
            assert_eq!((manager.live(), pool.stats().broken_closed), (0, 1));

            let mut conn = pool.get().await.unwrap();
            let id = conn.id();
            conn.make_dirty();
            drop(conn);
            // The reset runs off the caller's path, then the connection comes back.
            eventually("the reset connection back in the pool", STEP, || async {
                (pool.stats().idle >= 1).then_some(())
            })
            .await;
            let conn = pool.get().await.unwrap();
            assert_eq!(conn.id(), id, "a reset connection is reused, not replaced");
            assert_eq!(manager.resets(), 1);
            assert_eq!(pool.stats().resets, 1);
        },
    )
    .await;
}

#[tokio::test]
async fn a_failed_reset_retires_the_connection_and_the_next_user_gets_a_clean_one() {
    bounded(
        "a_failed_reset_retires_the_connection_and_the_next_user_gets_a_clean_one",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(patient(1, 1));
            let mut conn = pool.get().await.unwrap();
            let dirty = conn.id();
            conn.make_dirty();
            manager.fail_next_resets(1);
            drop(conn);
            // max_open = 1: this waits until the failed reset has freed the permit.
            let conn = within(pool.get()).await.unwrap();
            assert_ne!(
                conn.id(),
                dirty,
                "the connection whose reset failed was handed out"
            );
            assert!(!conn.is_dirty());
            assert_eq!(manager.resets(), 1, "the reset was attempted");
            let stats = pool.stats();
            assert_eq!(
                (stats.resets, stats.broken_closed, stats.connections_created),
                (0, 1, 2),
                "{stats:?}"
            );
            until_live(&manager, 1).await;
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_reset_that_hangs_is_abandoned_after_connect_timeout() {
    bounded(
        "a_reset_that_hangs_is_abandoned_after_connect_timeout",
        TEST_TIMEOUT,
        async {
            let mut o = patient(1, 1);
            o.connect_timeout = Duration::from_millis(300);
            let (pool, manager) = pool(o);
            let mut conn = pool.get().await.unwrap();
            let dirty = conn.id();
            conn.make_dirty();
            manager.hang_resets(true);
            let returned = tokio::time::Instant::now();
            drop(conn);
            // max_open = 1: this waits until the hung reset is given up.
            let conn = within(pool.get()).await.unwrap();
            let waited = returned.elapsed();
            assert_ne!(
                conn.id(),
                dirty,
                "the connection whose reset hung was handed out"
            );
            // Paused clock: exactly connect_timeout, the bound on a reset.
            assert!(
                waited >= Duration::from_millis(300) && waited < Duration::from_millis(310),
                "{waited:?}"
            );
            let stats = pool.stats();
            assert_eq!((stats.resets, stats.broken_closed), (0, 1), "{stats:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn reset_every_return_resets_clean_connections_too() {
    bounded(
        "reset_every_return_resets_clean_connections_too",
        TEST_TIMEOUT,
        async {
            let mut o = patient(1, 1);
            o.reset_every_return = true;
            let (pool, manager) = pool(o);
            let conn = pool.get().await.unwrap();
            let id = conn.id();
            assert!(!conn.is_dirty());
            drop(conn);
            let again = within(pool.get()).await.unwrap();
            assert_eq!(again.id(), id, "reset and reused, not replaced");
            assert_eq!((manager.resets(), pool.stats().resets), (1, 1));
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_idle_past_max_idle_time_is_never_handed_out() {
    bounded(
        "a_connection_idle_past_max_idle_time_is_never_handed_out",
        TEST_TIMEOUT,
        async {
            let mut o = limits(2, 2);
            o.max_idle_time = Some(Duration::from_millis(30));
            let (pool, _) = pool(o);
            let first = pool.get().await.unwrap().id();
            // The scenario: idle past max_idle_time (paused clock); no maintenance
            // runs, so the acquire itself must refuse it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let second = pool.get().await.unwrap().id();
            assert_ne!(first, second);
            let stats = pool.stats();
            assert_eq!(
                (stats.max_idle_time_closed, stats.connections_created),
                (1, 2),
                "{stats:?}"
            );
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_keepalive_is_counted_and_the_connection_replaced() {
    bounded(
        "a_failed_keepalive_is_counted_and_the_connection_replaced",
        TEST_TIMEOUT,
        async {
            let mut o = limits(2, 2);
            o.keepalive_interval = Some(Duration::from_millis(20));
            o.min_idle = 2;
            let (pool, manager) = pool(o);
            pool.run_maintenance().await;
            assert_eq!((pool.stats().idle, manager.live()), (2, 2));
            manager.kill_existing();
            // The scenario: idle past keepalive_interval (paused clock).
            tokio::time::sleep(Duration::from_millis(30)).await;
            pool.run_maintenance().await;
            let stats = pool.stats();
            assert_eq!(
                (
                    stats.keepalive_failed,
                    stats.keepalives,
                    stats.validation_failed
                ),
                (2, 0, 0),
                "{stats:?}"
            );
            assert_eq!((stats.idle, stats.open), (0, 0), "{stats:?}");
            // The next pass refills min_idle with new connections.
            pool.run_maintenance().await;
            let stats = pool.stats();
            assert_eq!((stats.idle, stats.connections_created), (2, 4), "{stats:?}");
            let conn = pool.get().await.unwrap();
            assert!(
                conn.id() >= 2,
                "a killed connection was handed out: {conn:?}"
            );
            drop(conn);
            until_live(&manager, 2).await;
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_pool_times_out_with_a_useful_error() {
    bounded(
        "an_exhausted_pool_times_out_with_a_useful_error",
        TEST_TIMEOUT,
        async {
            let mut o = limits(1, 1);
            o.acquire_timeout = Duration::from_millis(50);
            let (pool, _) = pool(o);
            let _held = pool.get().await.unwrap();
            let err = pool.get().await.unwrap_err();
            assert!(
                matches!(
                    err,
                    PoolError::Timeout {
                        in_use: 1,
                        max_open: 1,
                        ..
                    }
                ),
                "{err:?}"
            );
            let text = err.to_string();
            assert!(
                text.contains("acquire_timeout") && text.contains("max_open"),
                "{text}"
            );
            let stats = pool.stats();
            assert_eq!((stats.timeouts, stats.waiting), (1, 0), "{stats:?}");
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_connect_frees_its_permit_for_the_next_in_line() {
    bounded(
        "a_failed_connect_frees_its_permit_for_the_next_in_line",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(1, 1));
            manager.fail_next_connects(1);
            manager.set_connect_delay(Duration::from_millis(20));
            let first = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(drop) }
            });
            until_waiting_or_connecting(&manager, 1).await;
            let second = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(drop) }
            });
            let first = first.await.unwrap();
            assert!(matches!(first, Err(PoolError::Connect(_))), "{first:?}");
            second
                .await
                .unwrap()
                .expect("the freed permit went to the waiter");
            assert_eq!(pool.stats().connect_errors, 1);
            assert_eq!(pool.stats().open, 1);
        },
    )
    .await;
}

/// Waits until exactly `n` connections are alive: the pool closes surplus
/// ones in background tasks, so a count settles a moment after the move.
async fn until_live(manager: &MemoryManager, n: u64) {
    eventually(
        &format!("{n} connections alive (connections alive but unknown to the pool?)"),
        STEP,
        || async { (manager.live() == n).then_some(()) },
    )
    .await
}

async fn until_waiting_or_connecting(manager: &MemoryManager, connects: u64) {
    eventually("a connect under way", STEP, || async {
        (manager.connects() >= connects).then_some(())
    })
    .await
}

#[tokio::test]
async fn close_fails_waiters_closes_idle_and_waits_for_the_rest() {
    bounded(
        "close_fails_waiters_closes_idle_and_waits_for_the_rest",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(2, 2));
            let idle = pool.get().await.unwrap();
            let held = pool.get().await.unwrap();
            drop(idle);
            // Both permits taken: one idle would serve a waiter, so take it back first.
            let idle_again = pool.get().await.unwrap();
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(drop) }
            });
            until_waiting(&pool, 1).await;
            drop(idle_again);
            // The waiter got that one; hold the pool busy again and queue another.
            waiter.await.unwrap().unwrap();
            let busy = pool.get().await.unwrap();
            let blocked = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(drop) }
            });
            until_waiting(&pool, 1).await;

            let closing = tokio::spawn({
                let pool = pool.clone();
                async move { pool.close().await }
            });
            let blocked = blocked.await.unwrap();
            assert!(matches!(blocked, Err(PoolError::Closed)), "{blocked:?}");
            assert!(matches!(pool.get().await, Err(PoolError::Closed)));
            assert!(
                !closing.is_finished(),
                "close must wait for connections in use"
            );
            drop(held);
            drop(busy);
            closing.await.unwrap();
            assert_eq!(pool.stats().open, 0);
            assert_eq!(manager.live(), 0);
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn expired_connections_are_never_handed_out() {
    bounded(
        "expired_connections_are_never_handed_out",
        TEST_TIMEOUT,
        async {
            let mut o = limits(1, 1);
            o.max_lifetime = Some(Duration::from_millis(40));
            let (pool, _) = pool(o);
            let first = pool.get().await.unwrap().id();
            // The scenario: the connection outlives max_lifetime (paused clock).
            tokio::time::sleep(Duration::from_millis(60)).await;
            // No maintenance ran: the acquire itself refuses the expired one.
            let second = pool.get().await.unwrap().id();
            assert_ne!(first, second);
            assert_eq!(pool.stats().max_lifetime_closed, 1);
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn maintenance_retires_idle_connections_and_keeps_min_idle() {
    bounded(
        "maintenance_retires_idle_connections_and_keeps_min_idle",
        TEST_TIMEOUT,
        async {
            let mut o = limits(5, 5);
            o.max_idle_time = Some(Duration::from_millis(30));
            o.min_idle = 2;
            let (pool, manager) = pool(o);
            pool.run_maintenance().await;
            assert_eq!((pool.stats().idle, manager.live()), (2, 2));

            drop(futures_join(&pool, 4).await);
            assert_eq!(pool.stats().idle, 4);
            // The scenario: idle past max_idle_time (paused clock, so exactly 50 ms:
            // none of the four aged out before they were all back).
            tokio::time::sleep(Duration::from_millis(50)).await;
            pool.run_maintenance().await;
            let stats = pool.stats();
            // All four idled out. Their goodbyes, still in flight, hold four
            // of the five slots (max_open counts connections still closing),
            // so the refill opens one now...
            assert_eq!(stats.max_idle_time_closed, 4, "{stats:?}");
            assert_eq!((stats.idle, stats.open), (1, 1), "{stats:?}");
            // ...and, once the goodbyes are done, the next pass the other.
            until_live(&manager, 1).await;
            pool.run_maintenance().await;
            let stats = pool.stats();
            assert_eq!((stats.idle, stats.open), (2, 2), "{stats:?}");
            assert_eq!(stats.connections_created, 6, "{stats:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn maintenance_does_not_hammer_a_server_that_refuses() {
    bounded(
        "maintenance_does_not_hammer_a_server_that_refuses",
        TEST_TIMEOUT,
        async {
            let mut o = limits(5, 5);
            o.min_idle = 3;
            let (pool, manager) = pool(o);
            manager.refuse_all(true);
            pool.run_maintenance().await;
            assert_eq!(manager.connects(), 1, "one failed connect stops the refill");
            assert_eq!(pool.stats().open, 0);
            manager.refuse_all(false);
            pool.run_maintenance().await;
            assert_eq!(pool.stats().idle, 3);
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn keepalive_pings_idle_connections_without_resetting_idle_time() {
    bounded(
        "keepalive_pings_idle_connections_without_resetting_idle_time",
        TEST_TIMEOUT,
        async {
            let mut o = limits(2, 2);
            o.keepalive_interval = Some(Duration::from_millis(20));
            o.max_idle_time = Some(Duration::from_millis(200));
            let (pool, manager) = pool(o);
            drop(pool.get().await.unwrap());
            // The scenario: idle past keepalive_interval, then past max_idle_time
            // (paused clock).
            tokio::time::sleep(Duration::from_millis(30)).await;
            pool.run_maintenance().await;
            assert_eq!(pool.stats().keepalives, 1);
            assert_eq!(manager.validations(), 1);
            assert_eq!(pool.stats().idle, 1);
            tokio::time::sleep(Duration::from_millis(200)).await;
            pool.run_maintenance().await;
            assert_eq!(
                pool.stats().max_idle_time_closed,
                1,
                "keepalives must not keep a connection forever"
            );
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_connection_held_past_the_leak_threshold_is_reported_once() {
    bounded(
        "a_connection_held_past_the_leak_threshold_is_reported_once",
        TEST_TIMEOUT,
        async {
            let mut o = limits(2, 2);
            o.leak_threshold = Some(Duration::from_millis(20));
            let (pool, _) = pool(o);
            let held = pool.get().await.unwrap();
            // The scenario: held past leak_threshold (paused clock).
            tokio::time::sleep(Duration::from_millis(30)).await;
            pool.run_maintenance().await;
            pool.run_maintenance().await;
            assert_eq!(pool.stats().leaks_reported, 1);
            drop(held);
        },
    )
    .await;
}

#[tokio::test]
async fn detach_frees_the_permit_and_unlimited_means_unlimited() {
    bounded(
        "detach_frees_the_permit_and_unlimited_means_unlimited",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(0, 0));
            let held = futures_join(&pool, 100).await;
            assert_eq!(manager.live(), 100);
            let raw: Vec<_> = held.into_iter().map(|c| c.detach()).collect();
            assert_eq!(pool.stats().open, 0);
            assert_eq!(
                manager.live(),
                100,
                "detached connections belong to the caller"
            );
            drop(raw);
            assert_eq!(manager.live(), 0);
        },
    )
    .await;
}

#[test]
fn creating_a_pool_outside_a_runtime_is_an_error_not_a_panic() {
    let err = GenericPool::new(MemoryManager::new(), Limits::default()).unwrap_err();
    assert!(matches!(err, PoolError::NoRuntime), "{err:?}");
}

#[tokio::test]
async fn get_new_always_opens_a_new_connection() {
    bounded(
        "get_new_always_opens_a_new_connection",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(limits(2, 2));
            let idle = pool.get().await.unwrap().id();
            // Room in the pool: a new one is opened beside the idle one.
            let new = pool.get_new().await.unwrap();
            assert_ne!(new.id(), idle);
            assert_eq!(manager.connects(), 2);

            // Full, with one idle: the idle one is closed to make room.
            let newer = pool.get_new().await.unwrap();
            assert_ne!(newer.id(), idle);
            until_live(&manager, 2).await;
            assert_eq!(pool.stats().open, 2);

            // Full, all in use: the next one returned is replaced, not handed over.
            let waiting = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get_new().await.map(|c| c.id()) }
            });
            until_waiting(&pool, 1).await;
            let returned = new.id();
            drop(new);
            let got = waiting.await.unwrap().unwrap();
            assert_ne!(got, returned);
            assert_eq!(manager.connects(), 4);
            drop(newer);
            assert!(pool.stats().open <= 2);
        },
    )
    .await;
}

/// Longest any step that should finish may take before the test fails
/// instead of hanging.
const STEP: Duration = Duration::from_secs(30);

async fn within<T>(work: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(STEP, work)
        .await
        .expect("a step that should finish hung")
}

/// Limits whose `acquire_timeout` no test here outlasts: a call that returns
/// within `STEP` did not wait for it.
fn patient(max_open: u32, max_idle: u32) -> Limits {
    let mut o = limits(max_open, max_idle);
    o.acquire_timeout = Duration::from_secs(3600);
    o
}

#[tokio::test]
async fn try_get_takes_an_idle_connection() {
    bounded("try_get_takes_an_idle_connection", TEST_TIMEOUT, async {
        let (pool, manager) = pool(patient(2, 2));
        let id = pool.get().await.unwrap().id();
        let again = within(pool.try_get()).await.unwrap();
        assert_eq!(again.id(), id, "the idle one, not a new one");
        assert_eq!(manager.connects(), 1);
    })
    .await;
}

#[tokio::test]
async fn try_get_opens_a_new_connection_when_a_permit_is_free() {
    bounded(
        "try_get_opens_a_new_connection_when_a_permit_is_free",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(patient(2, 2));
            let held = within(pool.try_get()).await.unwrap();
            let second = within(pool.try_get()).await.unwrap();
            assert_ne!(held.id(), second.id());
            assert_eq!(manager.connects(), 2);
            assert_eq!(pool.stats().in_use, 2);
        },
    )
    .await;
}

#[tokio::test]
async fn try_get_validates_an_idle_connection_and_replaces_a_dead_one() {
    bounded(
        "try_get_validates_an_idle_connection_and_replaces_a_dead_one",
        TEST_TIMEOUT,
        async {
            let mut o = patient(1, 1);
            o.validate_after_idle = Duration::ZERO;
            let (pool, manager) = pool(o);
            drop(pool.get().await.unwrap());
            manager.kill_existing();
            let conn = within(pool.try_get()).await.unwrap();
            assert_eq!(conn.id(), 1, "the dead one was replaced unseen");
            assert_eq!(pool.stats().validation_failed, 1);
        },
    )
    .await;
}

#[tokio::test]
async fn try_get_on_an_exhausted_pool_fails_at_once_and_does_not_queue() {
    bounded(
        "try_get_on_an_exhausted_pool_fails_at_once_and_does_not_queue",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(patient(1, 1));
            let held = pool.get().await.unwrap();
            let err = within(pool.try_get()).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    PoolError::Exhausted {
                        max_open: 1,
                        in_use: 1,
                        waiting: 0,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("exhausted"), "{err}");
            let stats = pool.stats();
            assert_eq!((stats.exhausted, stats.waiting, stats.timeouts), (1, 0, 0));

            // With a waiter in line, a returned connection is the waiter's: a
            // try_get does not jump the line.
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.map(|c| c.id()) }
            });
            until_waiting(&pool, 1).await;
            assert!(matches!(
                within(pool.try_get()).await,
                Err(PoolError::Exhausted { waiting: 1, .. })
            ));
            let id = held.id();
            drop(held);
            assert_eq!(within(waiter).await.unwrap().unwrap(), id);
            assert_eq!(manager.connects(), 1);
        },
    )
    .await;
}

#[tokio::test]
async fn try_get_on_a_closed_pool_fails_with_closed() {
    bounded(
        "try_get_on_a_closed_pool_fails_with_closed",
        TEST_TIMEOUT,
        async {
            let (pool, _) = pool(patient(1, 1));
            drop(pool.get().await.unwrap());
            within(pool.close()).await;
            assert!(matches!(
                within(pool.try_get()).await,
                Err(PoolError::Closed)
            ));
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn get_timeout_times_out_with_its_own_bound_not_acquire_timeout() {
    bounded(
        "get_timeout_times_out_with_its_own_bound_not_acquire_timeout",
        TEST_TIMEOUT,
        async {
            let (pool, _) = pool(patient(1, 1));
            let _held = pool.get().await.unwrap();
            let bound = Duration::from_millis(200);
            let err = within(pool.get_timeout(bound)).await.unwrap_err();
            assert!(
                matches!(
                    err,
                    PoolError::Timeout {
                        waited,
                        per_call: true,
                        in_use: 1,
                        ..
                    } if waited == bound
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains("get_timeout"), "{err}");
            let stats = pool.stats();
            assert_eq!((stats.timeouts, stats.waiting), (1, 0), "{stats:?}");
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn get_timeout_may_wait_longer_than_acquire_timeout() {
    bounded(
        "get_timeout_may_wait_longer_than_acquire_timeout",
        TEST_TIMEOUT,
        async {
            let mut o = limits(1, 1);
            o.acquire_timeout = Duration::from_millis(50);
            let (pool, _) = pool(o);
            let held = pool.get().await.unwrap();
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get_timeout(STEP).await.map(|c| c.id()) }
            });
            until_waiting(&pool, 1).await;
            // Time passing, not a stand-in for an event: acquire_timeout runs out
            // (paused clock).
            tokio::time::sleep(Duration::from_millis(200)).await;
            assert_eq!(
                pool.stats().waiting,
                1,
                "still waiting past acquire_timeout"
            );
            let id = held.id();
            drop(held);
            assert_eq!(within(waiter).await.unwrap().unwrap(), id);
            assert_eq!(pool.stats().timeouts, 0);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_try_gets_and_get_timeouts_leak_nothing() {
    bounded(
        "cancelled_try_gets_and_get_timeouts_leak_nothing",
        TEST_TIMEOUT,
        async {
            let mut o = patient(4, 4);
            o.validate_after_idle = Duration::ZERO;
            let (pool, manager) = pool(o);
            manager.set_connect_delay(Duration::from_micros(50));
            let mut tasks = Vec::new();
            for t in 0..32 {
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    let mut rng = fastrand::Rng::with_seed(t);
                    for i in 0..100 {
                        let budget = Duration::from_micros(rng.u64(0..=200));
                        let conn = if i % 2 == 0 {
                            tokio::time::timeout(budget, pool.try_get()).await
                        } else {
                            let bound = Duration::from_micros(rng.u64(0..=200));
                            tokio::time::timeout(budget, pool.get_timeout(bound)).await
                        };
                        if let Ok(Ok(conn)) = conn {
                            tokio::task::yield_now().await;
                            drop(conn);
                        }
                    }
                }));
            }
            within(async {
                for task in tasks {
                    task.await.unwrap();
                }
            })
            .await;
            let stats = pool.stats();
            assert_eq!((stats.in_use, stats.waiting), (0, 0), "{stats:?}");
            assert!(stats.open <= 4, "{stats:?}");
            within(until_live(&manager, stats.open)).await;
            assert!(
                within(pool.try_get()).await.is_ok(),
                "the pool no longer serves"
            );
        },
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn close_abandons_goodbyes_that_hang_and_counts_them() {
    bounded(
        "close_abandons_goodbyes_that_hang_and_counts_them",
        TEST_TIMEOUT,
        async {
            let mut o = limits(3, 3);
            o.connect_timeout = Duration::from_millis(300);
            let (pool, manager) = pool(o);
            let held = futures_join(&pool, 3).await;
            let mut held = held.into_iter();
            let last = held.next().unwrap();
            drop(held); // two idle
            manager.hang_goodbyes(true);

            let closing = tokio::spawn({
                let pool = pool.clone();
                async move { pool.close().await }
            });
            while !pool.is_closed() {
                tokio::task::yield_now().await;
            }
            // Returned after close began: closed on return, its goodbye hangs too.
            drop(last);
            let abandoned = within(closing).await.unwrap();
            assert_eq!(abandoned, 3);
            assert_eq!(manager.goodbyes(), 3);
            assert_eq!(manager.live(), 0, "abandoned connections are dropped");
            let stats = pool.stats();
            assert_eq!((stats.goodbyes_abandoned, stats.open), (3, 0), "{stats:?}");
        },
    )
    .await;
}

// Suspect siblings: a death that proves the peer closed a connection makes
// every connection last known alive before it validated on its next
// acquire, even one used a moment ago.

/// Limits under which no connection is ever stale: any ping is suspicion's.
fn never_stale(max_open: u32) -> Limits {
    let mut o = patient(max_open, max_open);
    o.validate_after_idle = Duration::from_secs(3600);
    o
}

#[tokio::test]
async fn without_any_death_the_fast_path_sends_no_ping() {
    bounded(
        "without_any_death_the_fast_path_sends_no_ping",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(never_stale(4));
            drop(futures_join(&pool, 4).await);
            for _ in 0..1000 {
                drop(within(pool.get()).await.unwrap());
            }
            // Deaths that prove nothing about the server: no suspicion either.
            within(pool.get()).await.unwrap().discard();
            let conn = within(pool.get()).await.unwrap();
            conn.discard_after(&pool_runtime::testkit::MemoryError::Refused);
            for _ in 0..100 {
                drop(within(pool.get()).await.unwrap());
            }
            let stats = pool.stats();
            assert_eq!(manager.validations(), 0, "{stats:?}");
            assert_eq!(stats.suspect_events, 0, "{stats:?}");
            assert_eq!(stats.suspect_validations, 0, "{stats:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn a_peer_closed_death_gets_older_idle_siblings_validated_though_recently_used() {
    bounded(
        "a_peer_closed_death_gets_older_idle_siblings_validated_though_recently_used",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(never_stale(4));
            drop(futures_join(&pool, 4).await);
            // The server kills every session; the pool does not know yet.
            manager.kill_existing();
            let first = within(pool.get()).await.unwrap();
            assert_eq!(manager.validations(), 0, "used a moment ago: no ping");
            let dead_id = first.id();
            first.discard_after(&pool_runtime::testkit::MemoryError::Killed(dead_id));
            assert_eq!(pool.stats().suspect_events, 1);

            // The three older siblings are pinged, found dead and replaced
            // before anyone sees them.
            let again = futures_join(&pool, 3).await;
            let stats = pool.stats();
            assert_eq!(manager.validations(), 3, "{stats:?}");
            assert_eq!(stats.suspect_validations, 3, "{stats:?}");
            assert_eq!(stats.suspect_found_dead, 3, "{stats:?}");
            assert_eq!(stats.validation_failed, 3, "{stats:?}");
            assert!(again.iter().all(|c| c.id() >= 4), "all new connections");

            // Those, opened after the death, are not suspect.
            drop(again);
            for _ in 0..100 {
                drop(within(pool.get()).await.unwrap());
            }
            let stats = pool.stats();
            assert_eq!(manager.validations(), 3, "{stats:?}");
            assert_eq!(stats.suspect_events, 1, "{stats:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn live_suspects_are_pinged_once_and_trusted_again() {
    bounded(
        "live_suspects_are_pinged_once_and_trusted_again",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(never_stale(3));
            let mut held = futures_join(&pool, 3).await;
            let dead = held.pop().unwrap();
            let dead_id = dead.id();
            // Killed alone (the server restarted one session): its siblings live.
            dead.discard_after(&pool_runtime::testkit::MemoryError::Killed(dead_id));
            drop(held);
            let ids: Vec<u64> = futures_join(&pool, 2)
                .await
                .iter()
                .map(|c| c.id())
                .collect();
            for _ in 0..100 {
                drop(within(pool.get()).await.unwrap());
            }
            let stats = pool.stats();
            assert_eq!(manager.validations(), 2, "one ping each: {stats:?}");
            assert_eq!(stats.suspect_validations, 2, "{stats:?}");
            assert_eq!(stats.suspect_found_dead, 0, "{stats:?}");
            assert!(
                ids.iter().all(|id| *id < 2),
                "the same connections: {ids:?}"
            );
            assert_eq!(stats.connections_created, 3, "{stats:?}");
        },
    )
    .await;
}

#[tokio::test]
async fn deaths_one_event_explains_mark_it_once() {
    bounded(
        "deaths_one_event_explains_mark_it_once",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(never_stale(4));
            let held = futures_join(&pool, 4).await;
            manager.kill_existing();
            // Every in-flight statement fails at once, as after a mass kill.
            for conn in held {
                let id = conn.id();
                conn.discard_after(&pool_runtime::testkit::MemoryError::Killed(id));
            }
            assert_eq!(pool.stats().suspect_events, 1);
            // A later death of a connection opened since is a new event.
            let young = within(pool.get()).await.unwrap();
            let id = young.id();
            young.discard_after(&pool_runtime::testkit::MemoryError::Killed(id));
            assert_eq!(pool.stats().suspect_events, 2);
        },
    )
    .await;
}

#[tokio::test]
async fn a_suspect_returned_to_a_waiter_is_checked_before_the_waiter_gets_it() {
    bounded(
        "a_suspect_returned_to_a_waiter_is_checked_before_the_waiter_gets_it",
        TEST_TIMEOUT,
        async {
            let (pool, manager) = pool(never_stale(2));
            let mut held = futures_join(&pool, 2).await;
            let kept = held.pop().unwrap();
            let kept_id = kept.id();
            let dead = held.pop().unwrap();
            manager.kill_existing();
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.unwrap() }
            });
            until_waiting(&pool, 1).await;
            let dead_id = dead.id();
            dead.discard_after(&pool_runtime::testkit::MemoryError::Killed(dead_id));
            // The freed permit opens a new connection for the first waiter.
            let first = within(waiter).await.unwrap();
            let second = tokio::spawn({
                let pool = pool.clone();
                async move { pool.get().await.unwrap() }
            });
            until_waiting(&pool, 1).await;
            // Returned straight to the waiter: pinged first, found dead.
            drop(kept);
            let got = within(second).await.unwrap();
            assert_ne!(got.id(), kept_id, "the dead connection was not handed out");
            let stats = pool.stats();
            assert_eq!(stats.suspect_found_dead, 1, "{stats:?}");
            drop((first, got));
        },
    )
    .await;
}
