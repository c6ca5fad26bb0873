//! Operations against real throwaway servers: live reconfiguration under
//! load, readiness (`health`), drain with a deadline (and `KILL QUERY`),
//! warm-up at boot.
//!
//! Each test starts its own MariaDB, so it may stop it, change globals and
//! create accounts. Pools connect over TCP (`url_at`), as in
//! `tests/pool_mysql.rs`, so that the server sees one session per pool
//! connection.

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use pool_runtime::boot::Code;
use pool_runtime::config::{Source, Yaml};
use pool_runtime::figment::providers::Format;
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::pool::PoolError;
use pool_runtime::testkit::TestServer;
use pool_runtime::{
    AcquireError, BootError, DownReason, HealthState, Pool, PoolConfig, PoolOptions,
    ReconfigureError,
};

/// Longest a step that should finish may take.
const STEP: Duration = Duration::from_secs(20);

async fn start_server() -> TestServer {
    TestServer::start()
        .await
        .expect("start a throwaway MariaDB")
}

fn tcp_url(server: &TestServer) -> String {
    server.url_at(server.addr()).expect("TCP URL")
}

fn options(url: &str, max_open: u32) -> PoolOptions {
    let mut o = PoolOptions::from_url(url).expect("pool URL");
    o.max_open = max_open;
    o.max_idle = max_open;
    // A plaintext test server: `preferred`'s first TLS try would add a session.
    o.ssl_mode = pool_runtime::SslMode::Disabled;
    o
}

async fn open_pool(o: PoolOptions) -> Pool {
    bounded("the pool connects", STEP, Pool::builder(o).connect())
        .await
        .expect("pool connects")
}

/// The pool's sessions as the server lists them (not the kit's own).
async fn sessions(server: &TestServer) -> usize {
    server.client_connections().await.expect("processlist")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_open_follows_reconfigure_under_load_and_a_refused_change_changes_nothing() {
    bounded(
        "max_open_follows_reconfigure_under_load_and_a_refused_change_changes_nothing",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            server.set_global("wait_timeout", 120).await.unwrap();
            let mut o = options(&tcp_url(&server), 8);
            o.max_idle_time = Some(Duration::from_secs(30));
            let pool = open_pool(o).await;

            let stop = Arc::new(AtomicBool::new(false));
            let served = Arc::new(AtomicU64::new(0));
            let mut tasks = Vec::new();
            for _ in 0..64 {
                let (pool, stop, served) = (pool.clone(), stop.clone(), served.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(SeqCst) {
                        let one: Option<i64> = pool.query_first("SELECT 1", ()).await?;
                        assert_eq!(one, Some(1));
                        served.fetch_add(1, SeqCst);
                    }
                    Ok::<(), pool_runtime::Error>(())
                }));
            }
            for max_open in [2u32, 12, 3, 16, 4] {
                let mut next = (*pool.options()).clone();
                next.max_open = max_open;
                next.max_idle = max_open;
                let done = bounded("reconfigure", STEP, pool.reconfigure(next))
                    .await
                    .expect("a change that fits the server");
                let keys: Vec<&str> = done.changes.iter().map(|c| c.key).collect();
                assert_eq!(keys, ["max_open", "max_idle"], "{done}");
                assert_eq!(done.changes[0].new, max_open.to_string());
                let seen = served.load(SeqCst);
                // Settled: the surplus came back and was closed.
                eventually("the server sees at most max_open", STEP, || async {
                    (sessions(&server).await <= max_open as usize).then_some(())
                })
                .await;
                // And it stays there while the load goes on.
                for _ in 0..5 {
                    let now = sessions(&server).await;
                    assert!(
                        now <= max_open as usize,
                        "{now} sessions over max_open {max_open}"
                    );
                    assert!(pool.stats().open <= u64::from(max_open));
                }
                eventually("queries go on", STEP, || async {
                    (served.load(SeqCst) > seen + 200).then_some(())
                })
                .await;
            }
            assert_eq!(pool.stats().max_open, 4);

            // A change boot would refuse: an idle bound past wait_timeout.
            let before = (pool.options(), pool.stats().max_open);
            let mut too_idle = (*pool.options()).clone();
            too_idle.max_idle_time = Some(Duration::from_secs(600));
            let refused = bounded("refused reconfigure", STEP, pool.reconfigure(too_idle))
                .await
                .unwrap_err();
            let report = refused.report().expect("the boot report");
            assert!(
                report.findings.iter().any(|f| f.code == Code::IdleBound),
                "{report}"
            );
            assert_eq!((pool.options(), pool.stats().max_open), before);

            // A setting that cannot change live is named, and nothing changes.
            let mut other_init = (*pool.options()).clone();
            other_init.init_sql = vec!["SET SESSION sql_mode = ''".into()];
            other_init.max_open = 9;
            let refused = pool.reconfigure(other_init).await.unwrap_err();
            assert!(
                matches!(&refused, ReconfigureError::NotLive { keys } if keys == &["init_sql"]),
                "{refused}"
            );
            assert!(refused.to_string().contains("init_sql"));
            assert_eq!((pool.options(), pool.stats().max_open), before);

            stop.store(true, SeqCst);
            for task in tasks {
                task.await.unwrap().expect("no query fails");
            }
            assert!(served.load(SeqCst) > 1000);
            pool.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_tells_a_saturated_pool_from_a_stopped_server_and_sees_it_return() {
    bounded(
        "health_tells_a_saturated_pool_from_a_stopped_server_and_sees_it_return",
        TEST_TIMEOUT,
        async {
            let mut server = start_server().await;
            let mut o = options(&tcp_url(&server), 2);
            o.connect_timeout = Duration::from_secs(2);
            let bound = o.connect_timeout;
            let pool = open_pool(o).await;

            let up = pool.health().await;
            assert_eq!(up.state(), &HealthState::Up, "{up}");
            assert!(up.is_ready());
            assert!(up.to_string().starts_with("up: "), "{up}");

            let held = [pool.get().await.unwrap(), pool.get().await.unwrap()];
            let connects = pool.stats().connections_created;
            let busy = pool.health().await;
            assert_eq!(busy.state(), &HealthState::Saturated, "{busy}");
            assert!(busy.is_ready(), "a busy pool is still ready");
            assert_eq!(busy.stats().in_use, 2);
            assert_eq!(pool.stats().connections_created, connects);
            drop(held);

            server.stop().await.expect("stop the server");
            let started = Instant::now();
            let down = pool.health().await;
            assert!(started.elapsed() < bound + Duration::from_secs(1), "{down}");
            assert!(down.took() <= bound + Duration::from_millis(100), "{down}");
            let HealthState::Down { reason, error } = down.state() else {
                panic!("expected down, got {down}");
            };
            assert!(
                matches!(reason, DownReason::Unreachable | DownReason::TimedOut),
                "{down}"
            );
            assert!(error.contains(&server.addr().port().to_string()), "{error}");
            assert!(!down.is_ready());

            server.start_again().await.expect("start the server again");
            let back = eventually("health up again", STEP, || async {
                let h = pool.health().await;
                (h.state() == &HealthState::Up).then_some(h)
            })
            .await;
            assert!(back.is_ready());
            pool.close().await;
            assert_eq!(pool.health().await.state(), &HealthState::Closed);
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_access_denied_without_the_password() {
    bounded(
        "health_says_access_denied_without_the_password",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            server.create_user("app", "first-secret").await.unwrap();
            let port = server.addr().port();
            let o = options(
                &format!("mysql://app:first-secret@127.0.0.1:{port}/test?prefer_socket=false"),
                2,
            );
            let pool = open_pool(o).await;
            server.set_password("app", "second-secret").await.unwrap();
            server.kill_all_client_connections().await.unwrap();
            let down = eventually("health sees the refusal", STEP, || async {
                let h = pool.health().await;
                matches!(
                    h.state(),
                    HealthState::Down {
                        reason: DownReason::AccessDenied,
                        ..
                    }
                )
                .then_some(h)
            })
            .await;
            let shown = format!("{down} {down:?}");
            assert!(shown.contains("app@127.0.0.1"), "{shown}");
            assert!(!shown.contains("first-secret"), "{shown}");
            assert!(!shown.contains("second-secret"), "{shown}");
            pool.close().await;
        },
    )
    .await;
}

/// The statements running on the server, as `INFO` shows them.
async fn running(server: &TestServer, like: &str) -> usize {
    let mut conn = server.conn().await.unwrap();
    let n: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? \
             AND ID <> CONNECTION_ID()",
            (like,),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    n.unwrap_or(0) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_within_lets_work_finish_and_kills_the_statement_that_outlasts_it() {
    bounded(
        "close_within_lets_work_finish_and_kills_the_statement_that_outlasts_it",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            let pool = open_pool(options(&tcp_url(&server), 4)).await;
            let quick = tokio::spawn({
                let pool = pool.clone();
                async move { pool.query_first::<i64>("SELECT SLEEP(1)", ()).await }
            });
            let slow = tokio::spawn({
                let pool = pool.clone();
                async move {
                    let started = Instant::now();
                    let outcome = pool.query_first::<i64>("SELECT SLEEP(600)", ()).await;
                    (outcome, started.elapsed())
                }
            });
            eventually("both statements running", STEP, || async {
                (running(&server, "SELECT SLEEP(%").await == 2).then_some(())
            })
            .await;

            let report = pool
                .drain(Duration::from_secs(4))
                .kill_running_queries(true)
                .await;
            assert_eq!(report.in_use_at_start, 2, "{report}");
            assert_eq!(report.returned, 1, "{report}");
            assert_eq!(report.forced, 1, "{report}");
            assert_eq!(report.interrupted, 1, "{report}");
            assert_eq!(report.still_in_use, 0, "{report}");
            assert!(report.took < Duration::from_secs(60), "{report}");

            assert_eq!(quick.await.unwrap().expect("finished in time"), Some(0));
            let (outcome, took) = slow.await.unwrap();
            assert!(took < Duration::from_secs(60), "{outcome:?} after {took:?}");
            // MariaDB's SLEEP returns 1 when its query is killed.
            assert!(matches!(outcome, Ok(Some(1)) | Err(_)), "{outcome:?}");
            assert_eq!(running(&server, "SELECT SLEEP(600)%").await, 0);
            assert!(matches!(pool.get().await, Err(AcquireError::Closed)));
            eventually("every session closed", STEP, || async {
                (sessions(&server).await == 0).then_some(())
            })
            .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_within_without_kill_forces_and_returns_by_the_deadline() {
    bounded(
        "close_within_without_kill_forces_and_returns_by_the_deadline",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            let pool = open_pool(options(&tcp_url(&server), 2)).await;
            let held = pool.get().await.unwrap();
            let waiter = tokio::spawn({
                let pool = pool.clone();
                async move {
                    let _other = pool.get().await?;
                    pool.get().await.map(drop)
                }
            });
            eventually("an acquire in line", STEP, || async {
                (pool.stats().waiting == 1).then_some(())
            })
            .await;
            let started = Instant::now();
            let report = pool.close_within(Duration::from_secs(2)).await;
            let took = started.elapsed();
            assert!(took < Duration::from_secs(4), "{report}");
            assert!(matches!(waiter.await.unwrap(), Err(PoolError::Closed)));
            assert_eq!((report.in_use_at_start, report.forced), (2, 1), "{report}");
            assert_eq!(report.returned, 1, "{report}");
            assert_eq!(report.still_in_use, 1, "{report}");
            drop(held);
            eventually("the forced one closed on return", STEP, || async {
                (sessions(&server).await == 0).then_some(())
            })
            .await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_opens_min_idle_before_connect_returns() {
    bounded(
        "warm_up_opens_min_idle_before_connect_returns",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            let mut o = options(&tcp_url(&server), 6);
            o.min_idle = 5;
            let pool = bounded(
                "warm-up",
                STEP,
                Pool::builder(o).warm_up(Duration::from_secs(10)).connect(),
            )
            .await
            .expect("warmed up");
            let stats = pool.stats();
            assert_eq!((stats.open, stats.idle), (5, 5), "{stats:?}");
            eventually("five sessions on the server", STEP, || async {
                (sessions(&server).await == 5).then_some(())
            })
            .await;
            pool.close().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_fails_in_time_when_the_account_cannot_open_min_idle() {
    bounded(
        "warm_up_fails_in_time_when_the_account_cannot_open_min_idle",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            let mut admin = server.conn().await.unwrap();
            admin
                .query_drop(
                    "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'warm-secret' \
                     WITH MAX_USER_CONNECTIONS 3",
                )
                .await
                .unwrap();
            admin
                .query_drop("GRANT ALL ON test.* TO 'app'@'127.0.0.1'")
                .await
                .unwrap();
            admin.disconnect().await.unwrap();
            let port = server.addr().port();
            let url = format!("mysql://app:warm-secret@127.0.0.1:{port}/test?prefer_socket=false");
            // Another instance holds two of the account's three sessions.
            let mut others = Vec::new();
            for _ in 0..2 {
                others.push(
                    pool_runtime::mysql_async::Conn::from_url(url.as_str())
                        .await
                        .unwrap(),
                );
            }
            let mut o = options(&url, 3);
            o.min_idle = 3;
            o.warm_up = Some(Duration::from_secs(3));
            let started = Instant::now();
            let err = bounded("warm-up", STEP, Pool::builder(o).connect())
                .await
                .unwrap_err();
            let took = started.elapsed();
            assert!(took >= Duration::from_secs(3), "{took:?}");
            assert!(took < Duration::from_secs(3 + 10), "{took:?}");
            let BootError::WarmUp {
                min_idle,
                opened,
                within,
                last_error,
                ..
            } = &err
            else {
                panic!("expected a warm-up error, got {err}");
            };
            assert_eq!((*min_idle, *opened), (3, 1), "{err}");
            assert_eq!(*within, Duration::from_secs(3));
            assert!(
                matches!(
                    last_error.as_deref(),
                    Some(BootError::TooManyConnections { .. })
                ),
                "{err}"
            );
            let shown = format!("{err} {err:?}");
            assert!(shown.contains("min_idle 3"), "{shown}");
            assert!(!shown.contains("warm-secret"), "{shown}");
            // The failed pool closed its session.
            eventually("the failed pool's session closed", STEP, || async {
                (sessions(&server).await == 2).then_some(())
            })
            .await;
            drop(others);
        },
    )
    .await;
}

/// A service's config, from a YAML file it reloads.
#[derive(PoolConfig)]
struct ReloadConfig {
    url: String,
    max_open: u32,
    max_idle: u32,
    max_idle_time: Option<Duration>,
}

fn load(path: &std::path::Path) -> pool_runtime::Loaded<ReloadConfig> {
    let defaults = ReloadConfig::figment().unwrap();
    ReloadConfig::load_from(defaults.merge(Yaml::file_exact(path))).unwrap()
}

fn write_yaml(path: &std::path::Path, url: &str, max_open: u32) {
    let yaml =
        format!("url: {url}\nmax_open: {max_open}\nmax_idle: {max_open}\nmax_idle_time: 30s\n");
    std::fs::write(path, yaml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_config_reconfigures_the_pool_naming_the_file_of_each_change() {
    bounded(
        "a_reloaded_config_reconfigures_the_pool_naming_the_file_of_each_change",
        TEST_TIMEOUT,
        async {
            let server = start_server().await;
            server.create_user("app", "reload-secret").await.unwrap();
            let port = server.addr().port();
            let url = format!(
                "mysql://app:reload-secret@127.0.0.1:{port}/test?prefer_socket=false&ssl-mode=disabled"
            );
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("db.yaml");
            write_yaml(&path, &url, 4);
            let pool = bounded("connect", STEP, load(&path).connect())
                .await
                .expect("pool connects");
            assert_eq!(pool.stats().max_open, 4);

            write_yaml(&path, &url, 7);
            let done = bounded("reload", STEP, pool.reconfigure_from(&load(&path)))
                .await
                .expect("a reload that fits");
            assert_eq!(done.changes.len(), 2, "{done}");
            let change = &done.changes[0];
            assert_eq!((change.key, change.old.as_str(), change.new.as_str()), ("max_open", "4", "7"));
            assert!(matches!(change.source, Source::File { .. }), "{change}");
            assert!(change.to_string().contains("db.yaml"), "{change}");
            assert_eq!(pool.stats().max_open, 7);
            assert_eq!(pool.options().max_open, 7);

            // Unchanged: nothing to judge, nothing changes.
            let same = pool.reconfigure_from(&load(&path)).await.unwrap();
            assert!(same.changes.is_empty() && same.report.is_none(), "{same}");

            // A new password in the URL cannot apply live: named, never shown.
            write_yaml(&path, &url.replace("reload-secret", "other-secret"), 7);
            let refused = pool.reconfigure_from(&load(&path)).await.unwrap_err();
            assert!(
                matches!(&refused, ReconfigureError::NotLive { keys } if keys == &["url"]),
                "{refused}"
            );
            let shown = format!("{refused} {refused:?}");
            assert!(!shown.contains("reload-secret") && !shown.contains("other-secret"), "{shown}");
            assert_eq!(pool.stats().max_open, 7);
            pool.close().await;
        },
    )
    .await;
}
