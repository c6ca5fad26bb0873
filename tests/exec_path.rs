//! The exec path against real servers and real faults: reads survive dead
//! connections, writes never run twice, transactions are never retried.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pool_runtime::boot::{BootPolicy, Policy};
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::pool::PoolError;
use pool_runtime::testkit::{Fault, FaultProxy, TestServer};
use pool_runtime::{Error, ErrorKind, Pool, PoolOptions};

/// How connections die in a scenario: killed by the server's own idle
/// timeout, or broken by the proxy in one of its ways.
#[derive(Debug, Clone, Copy)]
enum Death {
    ServerIdleKill,
    Proxy(Fault),
}

const DEATHS: [Death; 5] = [
    Death::ServerIdleKill,
    Death::Proxy(Fault::Fin),
    Death::Proxy(Fault::Reset),
    Death::Proxy(Fault::MySql8IdleKill),
    Death::Proxy(Fault::Blackhole),
];

struct Setup {
    server: TestServer,
    proxy: Option<FaultProxy>,
    url: String,
}

async fn setup(death: Death) -> Setup {
    let server = TestServer::start().await.unwrap();
    server.set_global("wait_timeout", 2).await.unwrap();
    let mut admin = server.conn().await.unwrap();
    admin
        .query_drop("CREATE TABLE t (k INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    match death {
        Death::ServerIdleKill => {
            let url = server.url().to_owned();
            Setup {
                server,
                proxy: None,
                url,
            }
        }
        Death::Proxy(_) => {
            let proxy = FaultProxy::start(server.addr()).await.unwrap();
            let url = server.url_at(proxy.addr()).unwrap();
            Setup {
                server,
                proxy: Some(proxy),
                url,
            }
        }
    }
}

impl Setup {
    /// Kills every pooled connection the way `death` says, and lets the
    /// connections sit idle past the validation bypass window.
    async fn kill(&self, death: Death) {
        match death {
            // Idle past the server's 2 s wait_timeout.
            Death::ServerIdleKill => tokio::time::sleep(Duration::from_secs(3)).await,
            Death::Proxy(fault) => {
                tokio::time::sleep(Duration::from_millis(700)).await;
                if let Some(proxy) = &self.proxy {
                    proxy.inject(fault);
                }
            }
        }
    }

    async fn rows(&self, k: i32) -> i64 {
        let mut admin = self.server.conn().await.unwrap();
        admin
            .exec_first("SELECT COUNT(*) FROM t WHERE k = ?", (k,))
            .await
            .unwrap()
            .unwrap()
    }
}

/// The incident's pool: up to 10 idle connections kept for 600 s.
fn incident_options(url: &str) -> PoolOptions {
    let mut o = PoolOptions::from_url(url).unwrap();
    o.max_open = 10;
    o.max_idle = 10;
    o.max_lifetime = Some(Duration::from_secs(600));
    o.max_idle_time = Some(Duration::from_secs(600));
    o.maintenance_interval = Duration::from_secs(600);
    o.acquire_timeout = Duration::from_secs(10);
    // The incident's config is what the boot checks refuse; these tests
    // show the run-time path that catches it when it runs anyway.
    o.on_violation = BootPolicy::all(Policy::Warn);
    o
}

async fn ten_reads(pool: &Pool) -> Vec<Result<Option<i64>, Error>> {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            // SLEEP keeps all ten connections busy at once.
            tokio::spawn(async move { pool.query_first("SELECT 1 + SLEEP(0.05)", ()).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_twenty_of_twenty_reads_succeed_under_every_death() {
    for death in DEATHS {
        let setup = setup(death).await;
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();

        let first = ten_reads(&pool).await;
        setup.kill(death).await;
        let started = Instant::now();
        let second = ten_reads(&pool).await;
        let took = started.elapsed();

        let ok = first
            .iter()
            .chain(&second)
            .filter(|r| matches!(r, Ok(Some(1))))
            .count();
        assert_eq!(ok, 20, "{death:?}: {first:?} {second:?}");
        let stats = pool.stats();
        assert_eq!(stats.validation_failed, 10, "{death:?}: {stats:?}");
        eprintln!("{death:?}: second burst of 10 took {took:?}");
        pool.close().await;
    }
}

/// The deaths the retry path alone must absorb. A silent flow (blackhole)
/// cannot be told from a slow query without a bound: the statement-timeout
/// test covers it.
const UNVALIDATED_DEATHS: [Death; 4] = [DEATHS[0], DEATHS[1], DEATHS[2], DEATHS[3]];

/// A pool that never validates (the bypass window is an hour), warmed with
/// ten connections, all of which then die the way `death` says.
async fn killed_without_validation(death: Death) -> (Setup, Pool) {
    let setup = setup(death).await;
    let mut options = incident_options(&setup.url);
    options.validate_after_idle = Duration::from_secs(3600);
    let pool = Pool::builder(options).connect().await.unwrap();
    ten_reads(&pool).await;
    setup.kill(death).await;
    (setup, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_validation_the_retry_path_alone_saves_reads() {
    for death in UNVALIDATED_DEATHS {
        let (_setup, pool) = killed_without_validation(death).await;
        let second = ten_reads(&pool).await;
        assert!(
            second.iter().all(|r| matches!(r, Ok(Some(1)))),
            "{death:?}: {second:?}"
        );
        let stats = pool.stats();
        assert_eq!(stats.validation_failed, 0, "{death:?}: {stats:?}");
        assert!(
            stats.read_retries + stats.bad_conn_retries >= 10,
            "{death:?}: every dead connection costs one retry: {stats:?}"
        );
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_validation_writes_run_once_or_say_they_may_have() {
    for death in UNVALIDATED_DEATHS {
        let (setup, pool) = killed_without_validation(death).await;

        let tasks: Vec<_> = (0..10)
            .map(|k| {
                let pool = pool.clone();
                tokio::spawn(
                    async move { (k, pool.exec("INSERT INTO t VALUES (?, 1)", (k,)).await) },
                )
            })
            .collect();
        for task in tasks {
            let (k, result) = task.await.unwrap();
            let rows = setup.rows(k).await;
            match result {
                Ok(done) => {
                    assert_eq!(done.affected_rows, 1);
                    assert_eq!(
                        rows, 1,
                        "{death:?}: key {k} acknowledged but stored {rows} times"
                    );
                }
                Err(e) if e.may_have_run() => {
                    assert!(rows <= 1, "{death:?}: key {k} stored {rows} times");
                    assert!(e.to_string().contains("may or may not have run"), "{e}");
                }
                Err(e) => panic!("{death:?}: key {k}: unexpected {e:?}"),
            }
        }
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_that_reached_the_server_is_never_sent_again() {
    let setup = setup(Death::Proxy(Fault::ResetBeforeReply)).await;
    let pool = Pool::builder(incident_options(&setup.url))
        .connect()
        .await
        .unwrap();
    let proxy = setup.proxy.as_ref().unwrap();

    proxy.inject(Fault::ResetBeforeReply);
    let err = pool
        .exec("INSERT INTO t VALUES (1, 1)", ())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::MaybeExecuted { .. }),
        "{err:?}"
    );
    assert!(err.may_have_run());
    assert_eq!(setup.rows(1).await, 1, "it ran once, and only once");
    let stats = pool.stats();
    assert_eq!(
        (stats.maybe_executed, stats.bad_conn_retries),
        (1, 0),
        "{stats:?}"
    );

    // The same cut on a read: re-sending it is harmless, so it is re-sent.
    // (The failed insert's connection is gone: warm up a new one to cut.)
    let _: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
    for id in proxy.connections() {
        proxy.inject_on(id, Fault::ResetBeforeReply);
    }
    let n: Option<i64> = pool
        .query_first("SELECT COUNT(*) FROM t", ())
        .await
        .unwrap();
    assert_eq!(n, Some(1));
    assert_eq!(pool.stats().read_retries, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_bounded_by_the_statement_timeout() {
    let setup = setup(Death::Proxy(Fault::Blackhole)).await;
    let mut options = incident_options(&setup.url);
    options.validate_after_idle = Duration::from_secs(3600);
    options.statement_timeout = Some(Duration::from_millis(300));
    let pool = Pool::builder(options).connect().await.unwrap();
    setup.proxy.as_ref().unwrap().inject(Fault::Blackhole);

    let err = pool
        .exec("INSERT INTO t VALUES (1, 1)", ())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::StatementTimeout { .. }),
        "{err:?}"
    );
    assert!(err.may_have_run());
    let stats = pool.stats();
    assert_eq!(stats.statement_timeouts, 1);
    assert_eq!(
        stats.open, 0,
        "the timed-out connection is closed, not reused: {stats:?}"
    );
    // A new connection through the proxy works.
    let n: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
    assert_eq!(n, Some(1));
}

#[tokio::test]
async fn server_errors_come_back_as_they_are_and_are_not_retried() {
    let setup = setup(Death::ServerIdleKill).await;
    let pool = Pool::builder(incident_options(&setup.url))
        .connect()
        .await
        .unwrap();
    pool.exec("INSERT INTO t VALUES (1, 1)", ()).await.unwrap();
    let err = pool
        .exec("INSERT INTO t VALUES (1, 2)", ())
        .await
        .unwrap_err();
    assert_eq!(err.server_code(), Some(1062), "{err:?}");
    assert!(!err.may_have_run());
    // The message names the pool (so a primary is told from a replica) and
    // carries the server's own words, once.
    let shown = err.to_string();
    assert_eq!(err.pool(), &**pool.name());
    assert!(
        shown.starts_with(&format!("pool {}: ", pool.name())),
        "{shown}"
    );
    assert_eq!(shown.matches("Duplicate entry").count(), 1, "{shown}");
    let stats = pool.stats();
    assert_eq!(
        stats.bad_conn_retries + stats.read_retries + stats.maybe_executed,
        0
    );
}

#[tokio::test]
async fn the_statement_api_reads_and_writes() {
    let setup = setup(Death::ServerIdleKill).await;
    let pool = Pool::builder(incident_options(&setup.url))
        .connect()
        .await
        .unwrap();
    let done = pool
        .exec("INSERT INTO t VALUES (?, ?)", (1, 10))
        .await
        .unwrap();
    assert_eq!(done.affected_rows, 1);
    pool.exec_batch("INSERT INTO t VALUES (?, ?)", [(2, 20), (3, 30)])
        .await
        .unwrap();
    let rows: Vec<(i32, i32)> = pool
        .query("SELECT k, v FROM t ORDER BY k", ())
        .await
        .unwrap();
    assert_eq!(rows, vec![(1, 10), (2, 20), (3, 30)]);
    let v: Option<i32> = pool
        .query_first("SELECT v FROM t WHERE k = ?", (2,))
        .await
        .unwrap();
    assert_eq!(v, Some(20));
    let doubled = pool
        .query_map("SELECT v FROM t ORDER BY k", (), |v: i32| v * 2)
        .await
        .unwrap();
    assert_eq!(doubled, vec![20, 40, 60]);
    let err = pool
        .query_first::<(i32, i32)>("SELECT 1", ())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Conversion { columns: 1, .. }),
        "a row that does not convert is an error, not a panic: {err:?}"
    );
    assert!(err.to_string().contains("(i32, i32)"), "{err}");
}

#[tokio::test]
async fn transactions_commit_roll_back_and_roll_back_on_drop() {
    let setup = setup(Death::ServerIdleKill).await;
    let mut options = incident_options(&setup.url);
    options.max_open = 1;
    let pool = Pool::builder(options).connect().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    tx.exec("INSERT INTO t VALUES (1, 1)", ()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    tx.exec("INSERT INTO t VALUES (2, 1)", ()).await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    tx.exec("INSERT INTO t VALUES (3, 1)", ()).await.unwrap();
    drop(tx);

    // One connection: the next user gets the one the dropped Tx used.
    let in_tx: Option<i32> = pool
        .query_first("SELECT @@in_transaction", ())
        .await
        .unwrap();
    assert_eq!(in_tx, Some(0));
    assert_eq!(
        (
            setup.rows(1).await,
            setup.rows(2).await,
            setup.rows(3).await
        ),
        (1, 0, 0)
    );
    assert_eq!(pool.stats().resets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_transaction_is_never_retried_and_says_what_happened() {
    let setup = setup(Death::Proxy(Fault::Reset)).await;
    let pool = Pool::builder(incident_options(&setup.url))
        .connect()
        .await
        .unwrap();
    let proxy = setup.proxy.as_ref().unwrap();

    // Lost before COMMIT: nothing applied.
    let mut tx = pool.begin().await.unwrap();
    tx.exec("INSERT INTO t VALUES (1, 1)", ()).await.unwrap();
    proxy.inject(Fault::Reset);
    let err = tx
        .exec("INSERT INTO t VALUES (2, 1)", ())
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::TransactionLost { .. }),
        "{err:?}"
    );
    assert!(!err.may_have_run());
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::TransactionClosed),
        "{err:?}"
    );

    // Lost during COMMIT, after the server committed: outcome unknown.
    let mut tx = pool.begin().await.unwrap();
    tx.exec("INSERT INTO t VALUES (3, 1)", ()).await.unwrap();
    proxy.inject(Fault::ResetBeforeReply);
    let err = tx.commit().await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::CommitOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("may or may not"), "{err}");

    // The server rolls back (1, 2) with the lost connection; (3) committed.
    let wait_for_rollback = Instant::now() + Duration::from_secs(5);
    while setup.rows(1).await != 0 && Instant::now() < wait_for_rollback {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        (
            setup.rows(1).await,
            setup.rows(2).await,
            setup.rows(3).await
        ),
        (0, 0, 1)
    );
    let stats = pool.stats();
    assert_eq!(stats.bad_conn_retries + stats.read_retries, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_is_a_clear_error_not_a_retry_loop() {
    let server = TestServer::start().await.unwrap();
    // MariaDB's minimum; root may open one more.
    server.set_global("max_connections", 10).await.unwrap();
    let mut options = PoolOptions::from_url(server.url()).unwrap();
    options.max_open = 30;
    options.max_idle = 30;
    // At boot this is refused (30 > max_connections); here the point is
    // what happens at run time when it is let through.
    options.on_violation = BootPolicy::all(Policy::Warn);
    let pool = Pool::builder(options).connect().await.unwrap();

    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result: Result<Option<i64>, _> = pool.query_first("SELECT SLEEP(1)", ()).await;
                (result, started.elapsed())
            })
        })
        .collect();
    let mut refused = 0;
    for task in tasks {
        let (result, took) = task.await.unwrap();
        match result.map_err(Error::into_kind) {
            Ok(_) => {}
            Err(ErrorKind::Acquire(PoolError::Connect(e))) => {
                refused += 1;
                assert!(e.to_string().contains("Too many connections"), "{e}");
                // Refused at once: no loop of reconnects until a deadline.
                assert!(took < Duration::from_secs(1), "took {took:?}");
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(refused > 0, "the server allowed more than it should");
    assert_eq!(pool.stats().connect_errors, refused as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_under_load_heals_within_a_second() {
    let mut server = TestServer::start().await.unwrap();
    let mut options = PoolOptions::from_url(server.url()).unwrap();
    options.max_open = 8;
    options.max_idle = 8;
    options.acquire_timeout = Duration::from_secs(3);
    options.connect_timeout = Duration::from_secs(1);
    let acquire_timeout = options.acquire_timeout;
    let pool = Pool::builder(options).connect().await.unwrap();

    let start = Instant::now();
    let run_for = Duration::from_secs(30);
    // Outcomes: (when it started, how long it took, succeeded).
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (pool, log) = (pool.clone(), log.clone());
            tokio::spawn(async move {
                while start.elapsed() < run_for {
                    let began = Instant::now();
                    let ok = pool.query_first::<i64>("SELECT 1", ()).await.is_ok();
                    log.lock()
                        .unwrap()
                        .push((began - start, began.elapsed(), ok));
                    if !ok {
                        // A failing server answers at once; do not spin.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(10)).await;
    let down_at = start.elapsed();
    server.stop().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.start_again().await.unwrap();
    let back_at = start.elapsed();
    for task in tasks {
        task.await.unwrap();
    }

    let log = std::mem::take(&mut *log.lock().unwrap());
    let slowest = log.iter().map(|(_, took, _)| *took).max().unwrap();
    assert!(
        slowest <= acquire_timeout + Duration::from_secs(1),
        "a request hung for {slowest:?}"
    );
    for (began, took, ok) in log.iter() {
        let ended = *began + *took;
        if !ok {
            assert!(
                ended >= down_at && *began <= back_at,
                "a failure outside the outage: began {began:?}, down {down_at:?}..{back_at:?}"
            );
        }
        if *began >= back_at + Duration::from_secs(1) {
            assert!(
                ok,
                "a request failed {began:?} after the restart at {back_at:?}"
            );
        }
    }
    let failures = log.iter().filter(|(_, _, ok)| !ok).count();
    eprintln!(
        "{} requests, {failures} failed during the outage {down_at:?}..{back_at:?}",
        log.len()
    );

    pool.close().await;
    // close() returns once every goodbye is sent; the server ends the
    // sessions right after.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = server.client_connections().await.unwrap();
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        left = server.client_connections().await.unwrap();
    }
    assert_eq!(left, 0, "leaked connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_validation_every_write_after_every_death_runs_exactly_once() {
    for death in DEATHS {
        let setup = setup(death).await;
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();
        ten_reads(&pool).await;
        setup.kill(death).await;

        let tasks: Vec<_> = (0..10)
            .map(|k| {
                let pool = pool.clone();
                tokio::spawn(
                    async move { (k, pool.exec("INSERT INTO t VALUES (?, 1)", (k,)).await) },
                )
            })
            .collect();
        for task in tasks {
            let (k, result) = task.await.unwrap();
            assert!(result.is_ok(), "{death:?}: key {k}: {result:?}");
            assert_eq!(setup.rows(k).await, 1, "{death:?}: key {k}");
        }
        let stats = pool.stats();
        assert_eq!(stats.maybe_executed, 0, "{death:?}: {stats:?}");
        pool.close().await;
    }
}

#[tokio::test]
async fn init_sql_runs_in_order_on_every_connection_and_after_a_full_reset() {
    let server = TestServer::start().await.unwrap();
    let mut options = PoolOptions::from_url(server.url()).unwrap();
    options.max_open = 1;
    options.init_sql = vec![
        "SET @greeting = 'hello'".to_owned(),
        "SET @greeting = CONCAT(@greeting, ', world')".to_owned(),
    ];
    options.reset_on_return = pool_runtime::ResetPolicy::Always;
    let pool = Pool::builder(options).connect().await.unwrap();

    let greeting: Option<String> = pool.query_first("SELECT @greeting", ()).await.unwrap();
    assert_eq!(greeting.as_deref(), Some("hello, world"));
    // Session state set by a user is gone after the reset on return, but
    // the init statements ran again.
    pool.exec("SET @greeting = 'changed'", ()).await.unwrap();
    let mut stats = pool.stats();
    while stats.resets < 2 {
        tokio::task::yield_now().await;
        stats = pool.stats();
    }
    let greeting: Option<String> = pool.query_first("SELECT @greeting", ()).await.unwrap();
    assert_eq!(greeting.as_deref(), Some("hello, world"));
}
