//! The exec path against real servers and real faults: reads survive dead
//! connections, writes never run twice, transactions are never retried.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Captured, TEST_TIMEOUT, bounded, eventually};
use pool_runtime::boot::{BootPolicy, Policy};
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{self, IoError};
use pool_runtime::pool::PoolError;
use pool_runtime::testkit::{Fault, FaultProxy, TestServer};
use pool_runtime::{Error, ErrorKind, Pool, PoolOptions};

/// Every test is bounded: a hang fails it by name instead of stalling CI.
async fn within<T>(test: impl Future<Output = T>) -> T {
    bounded("the test", TEST_TIMEOUT, test).await
}

/// How long a test waits for an event it polls: generous on a loaded
/// machine, and a failure names what never happened.
const EVENT: Duration = Duration::from_secs(30);

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
    // No key: a statement run twice stores its row twice, and counting
    // rows by `k` shows it (a primary key would turn the second run into a
    // duplicate-key error instead).
    admin
        .query_drop("CREATE TABLE t (k INT, v BIGINT)")
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
    /// Kills every idle connection of `pool` the way `death` says, once all
    /// of them are back in the pool.
    async fn kill(&self, pool: &Pool, death: Death) {
        let idle = eventually(
            "the warm-up's connections back in the pool",
            EVENT,
            || async {
                let stats = pool.stats();
                (stats.in_use == 0).then_some(stats.idle)
            },
        )
        .await;
        assert_eq!(idle, 10, "{death:?}: {:?}", pool.stats());
        if let Death::Proxy(fault) = death {
            let proxy = self.proxy.as_ref().unwrap();
            assert_eq!(proxy.connections().len(), 10, "{death:?}");
            proxy.inject(fault);
        }
        // The server's 2 s wait_timeout ends them, or the proxy, which
        // closes the upstream side once it has done its fault on the
        // client's side: wait until the server saw them all go.
        eventually("the death of every pooled connection", EVENT, || async {
            (self.server.client_connections().await.unwrap() == 0).then_some(())
        })
        .await;
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
    // Every idle connection is pinged before use: no test waits for a
    // connection to sit idle past the window.
    o.validate_after_idle = Duration::ZERO;
    // The incident's config is what the boot checks refuse; these tests
    // show the run-time path that catches it when it runs anyway.
    o.on_violation = BootPolicy::all(Policy::Warn);
    // These tests count the proxy's connections: `preferred`'s first TLS
    // attempt against this plaintext server would add one (tests/tls.rs
    // covers TLS).
    o.ssl_mode = pool_runtime::SslMode::Disabled;
    o
}

/// Opens all ten connections of the incident's pool at once, holding them,
/// then returns them: ten idle connections, whatever the machine's load.
async fn warm(pool: &Pool, n: usize) {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.unwrap());
    }
    drop(held);
}

async fn ten_reads(pool: &Pool) -> Vec<Result<Option<i64>, Error>> {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.query_first("SELECT 1", ()).await })
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
    within(async {
        for death in DEATHS {
            let setup = setup(death).await;
            let pool = Pool::builder(incident_options(&setup.url))
                .connect()
                .await
                .unwrap();

            warm(&pool, 10).await;
            let first = ten_reads(&pool).await;
            setup.kill(&pool, death).await;
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
    })
    .await;
}

/// The deaths the retry path alone must absorb. A silent flow (blackhole)
/// cannot be told from a slow query without a bound: the statement-timeout
/// test covers it.
const UNVALIDATED_DEATHS: [Death; 5] = [
    DEATHS[0],
    DEATHS[1],
    DEATHS[2],
    DEATHS[3],
    Death::Proxy(Fault::FinThenReset),
];

/// A pool that never validates (the bypass window is an hour, and no
/// death makes the others suspect), warmed with ten connections, all of
/// which then die the way `death` says.
async fn killed_without_validation(death: Death) -> (Setup, Pool) {
    let setup = setup(death).await;
    let mut options = incident_options(&setup.url);
    options.validate_after_idle = Duration::from_secs(3600);
    options.validate_suspects = false;
    let pool = Pool::builder(options).connect().await.unwrap();
    warm(&pool, 10).await;
    setup.kill(&pool, death).await;
    (setup, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_validation_the_retry_path_alone_saves_reads() {
    within(async {
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
    })
    .await;
}

/// What ten writes on ten dead idle connections must give, by how they
/// died (the table in the `exec` module docs).
fn expected_writes(death: Death) -> (bool, u64) {
    match death {
        // The client reads end-of-stream or a reset: it cannot tell whether
        // the statement got through, so it says so and sends nothing again.
        Death::ServerIdleKill | Death::Proxy(Fault::Fin) | Death::Proxy(Fault::Reset) => (false, 0),
        // Proof that nothing was delivered: each write is re-sent once.
        Death::Proxy(Fault::MySql8IdleKill) | Death::Proxy(Fault::FinThenReset) => (true, 10),
        other => unreachable!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_validation_writes_are_resent_only_on_proof_and_run_exactly_once() {
    within(async {
        for death in UNVALIDATED_DEATHS {
            let (setup, pool) = killed_without_validation(death).await;
            let (resent, retries) = expected_writes(death);

            let tasks: Vec<_> = (0..10)
                .map(|k| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        (k, pool.exec("INSERT INTO t VALUES (?, 1)", (k,)).await)
                    })
                })
                .collect();
            for task in tasks {
                let (k, result) = task.await.unwrap();
                let rows = setup.rows(k).await;
                if resent {
                    let done = result.unwrap_or_else(|e| panic!("{death:?}: key {k}: {e:?}"));
                    assert_eq!(done.affected_rows, 1);
                    assert_eq!(rows, 1, "{death:?}: key {k} stored {rows} times");
                } else {
                    let e = result.expect_err("a write on a dead connection cannot succeed");
                    assert!(
                        matches!(e.kind(), ErrorKind::MaybeExecuted { .. }),
                        "{death:?}: key {k}: {e:?}"
                    );
                    assert!(e.may_have_run());
                    assert!(e.to_string().contains("may or may not have run"), "{e}");
                    // It never reached the server (the connection was dead
                    // before), and it was not re-sent.
                    assert_eq!(rows, 0, "{death:?}: key {k} stored {rows} times");
                }
            }
            let stats = pool.stats();
            assert_eq!(stats.bad_conn_retries, retries, "{death:?}: {stats:?}");
            assert_eq!(stats.maybe_executed, 10 - retries, "{death:?}: {stats:?}");
            assert_eq!(stats.read_retries, 0, "{death:?}: {stats:?}");
            pool.close().await;
        }
    })
    .await;
}

/// The I/O error kind under a [`ErrorKind::MaybeExecuted`].
fn io_kind(e: &Error) -> Option<std::io::ErrorKind> {
    match e.kind() {
        ErrorKind::MaybeExecuted {
            source: mysql_async::Error::Io(IoError::Io(io)),
        } => Some(io.kind()),
        _ => None,
    }
}

/// How a faulted statement must end (the table in the `exec` module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    /// Re-sent once on another connection after an error that proved it
    /// had not run: `bad_conn_retries` + 1.
    Resent,
    /// Re-sent once, as a read after a loss: `read_retries` + 1.
    ResentAsRead,
    /// Not re-sent, reported as maybe executed with this I/O error kind.
    Maybe(std::io::ErrorKind),
}

/// One row per way a connection can fail a statement, with when the fault
/// strikes: on the idle connection before the statement is sent, or armed
/// to strike after the server has run it.
struct Row {
    fault: Fault,
    /// The server ran the statement before the client saw the failure.
    ran: bool,
    write: Then,
    read: Then,
    read_without_retry_reads: Then,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_way_a_connection_fails_a_statement_is_resent_or_reported_as_documented() {
    use Then::*;
    use std::io::ErrorKind as K;
    let rows = [
        // Positive half: proof that nothing was delivered.
        Row {
            // A FIN then a reset on the idle connection: the write gets a
            // broken pipe and nothing leaves the client.
            fault: Fault::FinThenReset,
            ran: false,
            write: Resent,
            read: Resent,
            read_without_retry_reads: Resent,
        },
        Row {
            // MySQL 8's idle-timeout goodbye (4031), read out of sequence.
            fault: Fault::MySql8IdleKill,
            ran: false,
            write: Resent,
            read: Resent,
            read_without_retry_reads: Resent,
        },
        // No proof: the connection was dead before, but the client reads a
        // reset or end-of-stream, as it would after the statement ran.
        Row {
            fault: Fault::Reset,
            ran: false,
            write: Maybe(K::ConnectionReset),
            read: ResentAsRead,
            read_without_retry_reads: Maybe(K::ConnectionReset),
        },
        Row {
            fault: Fault::Fin,
            ran: false,
            write: Maybe(K::UnexpectedEof),
            read: ResentAsRead,
            read_without_retry_reads: Maybe(K::UnexpectedEof),
        },
        // Negative half: the statement reached the server and ran.
        Row {
            fault: Fault::ResetBeforeReply,
            ran: true,
            write: Maybe(K::ConnectionReset),
            read: ResentAsRead,
            read_without_retry_reads: Maybe(K::ConnectionReset),
        },
        Row {
            fault: Fault::FinBeforeReply,
            ran: true,
            write: Maybe(K::UnexpectedEof),
            read: ResentAsRead,
            read_without_retry_reads: Maybe(K::UnexpectedEof),
        },
        Row {
            // The stream ends inside a packet: the codec's "bytes remaining
            // on stream".
            fault: Fault::FinMidReply,
            ran: true,
            write: Maybe(K::Other),
            read: ResentAsRead,
            read_without_retry_reads: Maybe(K::Other),
        },
    ];
    within(async {
        let setup = setup(Death::Proxy(Fault::Fin)).await;
        let proxy = setup.proxy.as_ref().unwrap();
        let mut key = 0;
        for row in &rows {
            for (what, is_read, retry_reads, then) in [
                ("write", false, true, row.write),
                ("read", true, true, row.read),
                (
                    "read, retry_reads off",
                    true,
                    false,
                    row.read_without_retry_reads,
                ),
            ] {
                key += 1;
                let case = format!("{:?}, {what}", row.fault);
                let mut options = incident_options(&setup.url);
                options.max_open = 1;
                options.max_idle = 1;
                options.validate_after_idle = Duration::from_secs(3600);
                options.retry_reads = retry_reads;
                let pool = Pool::builder(options).connect().await.unwrap();
                let session = {
                    let mut conn = pool.get().await.unwrap();
                    let id: Option<u64> = conn.query_first("SELECT CONNECTION_ID()").await.unwrap();
                    id.unwrap()
                };
                let before = proxy.opened();
                let conns = proxy.connections();
                assert_eq!(conns.len(), 1, "{case}: {conns:?}");
                assert!(proxy.inject_on(conns[0], row.fault), "{case}");
                if !row.ran {
                    // The proxy closes the upstream side once it has done
                    // its fault on the client's side: the server's session
                    // ending is the sign that the fault is complete.
                    eventually("the faulted session's end", EVENT, || async {
                        let mut admin = setup.server.conn().await.ok()?;
                        let left: Option<u64> = admin
                            .exec_first(
                                "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                                 WHERE ID = ?",
                                (session,),
                            )
                            .await
                            .ok()?;
                        (left == Some(0)).then_some(())
                    })
                    .await;
                }

                // A re-sent statement goes out on a new connection: the
                // proxy's count of connections shows every re-send. Text
                // protocol (no parameters), so that the statement is the
                // first thing sent, not a PREPARE.
                let result = if is_read {
                    let sql = format!("SELECT COUNT(*) FROM t WHERE k = {key}");
                    pool.query_first::<i64>(&sql, ()).await.map(|_| ())
                } else {
                    let sql = format!("INSERT INTO t VALUES ({key}, CONNECTION_ID())");
                    pool.exec(&sql, ()).await.map(|_| ())
                };
                let stats = pool.stats();
                match then {
                    Resent => {
                        result.unwrap_or_else(|e| panic!("{case}: {e:?}"));
                        assert_eq!(
                            (
                                stats.bad_conn_retries,
                                stats.read_retries,
                                stats.maybe_executed
                            ),
                            (1, 0, 0),
                            "{case}: {stats:?}"
                        );
                        assert_eq!(proxy.opened(), before + 1, "{case}: one new connection");
                    }
                    ResentAsRead => {
                        result.unwrap_or_else(|e| panic!("{case}: {e:?}"));
                        assert_eq!(
                            (
                                stats.bad_conn_retries,
                                stats.read_retries,
                                stats.maybe_executed
                            ),
                            (0, 1, 0),
                            "{case}: {stats:?}"
                        );
                        assert_eq!(proxy.opened(), before + 1, "{case}: one new connection");
                    }
                    Maybe(kind) => {
                        let e = result.expect_err(&case);
                        assert!(
                            matches!(e.kind(), ErrorKind::MaybeExecuted { .. }),
                            "{case}: {e:?}"
                        );
                        assert!(e.may_have_run(), "{case}");
                        assert_eq!(io_kind(&e), Some(kind), "{case}: {e:?}");
                        assert_eq!(
                            (
                                stats.bad_conn_retries,
                                stats.read_retries,
                                stats.maybe_executed
                            ),
                            (0, 0, 1),
                            "{case}: {stats:?}"
                        );
                        assert_eq!(proxy.opened(), before, "{case}: nothing re-sent");
                    }
                }
                if !is_read {
                    // Exactly once when it ran or was re-sent; never twice.
                    let stored = setup.rows(key).await;
                    let expected = i64::from(row.ran || matches!(then, Resent));
                    assert_eq!(stored, expected, "{case}: stored {stored} times");
                }
                pool.close().await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn the_schedule_is_two_attempts_on_pooled_connections_then_one_on_a_new_one() {
    within(async {
        let setup = setup(Death::Proxy(Fault::MySql8IdleKill)).await;
        let proxy = setup.proxy.as_ref().unwrap();
        let mut options = incident_options(&setup.url);
        options.max_open = 3;
        options.max_idle = 3;
        options.validate_after_idle = Duration::from_secs(3600);
        // The first death would get the other two pinged and replaced
        // before the second attempt: this test is about the schedule.
        options.validate_suspects = false;
        let pool = Pool::builder(options).connect().await.unwrap();

        // Three idle connections, and the server's session id of each.
        let mut held = Vec::new();
        let mut warm_sessions = Vec::new();
        for _ in 0..3 {
            let mut conn = pool.get().await.unwrap();
            let id: Option<u64> = conn.query_first("SELECT CONNECTION_ID()").await.unwrap();
            warm_sessions.push(id.unwrap());
            held.push(conn);
        }
        drop(held);
        eventually("three idle connections", EVENT, || async {
            (pool.stats().idle == 3).then_some(())
        })
        .await;
        // All three die, with proof that a statement sent on them is not run.
        proxy.inject(Fault::MySql8IdleKill);
        assert_eq!(proxy.opened(), 3);

        let log = Captured::default();
        let guard = log.install();
        pool.exec("INSERT INTO t VALUES (1, CONNECTION_ID())", ())
            .await
            .unwrap();
        drop(guard);

        let stats = pool.stats();
        assert_eq!(
            (
                stats.bad_conn_retries,
                stats.new_conn_attempts,
                stats.maybe_executed
            ),
            (2, 1, 0),
            "two dead pooled connections, then a new one: {stats:?}"
        );
        // The last attempt opened a connection although a third idle one
        // was there to take: it is still idle (and dead).
        assert_eq!(proxy.opened(), 4, "exactly one connection opened");
        let idle = eventually("the new connection back in the pool", EVENT, || async {
            let stats = pool.stats();
            (stats.in_use == 0).then_some(stats.idle)
        })
        .await;
        assert_eq!(
            idle,
            2,
            "the new one returned, the dead one left: {:?}",
            pool.stats()
        );
        let mut admin = setup.server.conn().await.unwrap();
        let stored: Vec<(i32, u64)> = admin.query("SELECT k, v FROM t").await.unwrap();
        assert_eq!(stored.len(), 1, "exactly once: {stored:?}");
        assert!(
            !warm_sessions.contains(&stored[0].1),
            "it ran on a new session, not {warm_sessions:?}: {stored:?}"
        );
        // In that order: attempt 1 and 2 on pooled connections, 3 on a new one.
        let text = log.text();
        let retries: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("retrying statement on another connection"))
            .collect();
        assert_eq!(retries.len(), 2, "{text}");
        assert!(retries[0].contains("attempt=1"), "{}", retries[0]);
        assert!(
            retries[0].contains("next=\"pooled connection\""),
            "{}",
            retries[0]
        );
        assert!(retries[1].contains("attempt=2"), "{}", retries[1]);
        assert!(
            retries[1].contains("next=\"new connection\""),
            "{}",
            retries[1]
        );
        for line in &retries {
            assert!(line.contains("reason="), "logged with its reason: {line}");
        }
    })
    .await;
}

/// Kills (`KILL <how>`) sessions running a statement containing `marker`
/// until it has killed `times` of them, running `before_kill` (if any)
/// before each kill, and returns the session ids it killed.
async fn killer(
    server: &TestServer,
    marker: &'static str,
    how: &'static str,
    times: usize,
    before_kill: Option<&'static str>,
) -> Vec<u64> {
    let mut admin = server.conn().await.unwrap();
    let mut killed = Vec::new();
    while killed.len() < times {
        let running = sessions_running(&mut admin, marker).await.unwrap();
        for id in running {
            if !killed.contains(&id) && killed.len() < times {
                if let Some(sql) = before_kill {
                    admin.query_drop(sql).await.unwrap();
                }
                admin.query_drop(format!("KILL {how} {id}")).await.unwrap();
                killed.push(id);
            }
        }
        // Polling the server for the statement: nothing to await instead.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed
}

/// The ids of the server's sessions running a statement containing
/// `marker` (not the asking one's processlist query).
async fn sessions_running(
    admin: &mut mysql_async::Conn,
    marker: &str,
) -> Result<Vec<u64>, mysql_async::Error> {
    admin
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE CONCAT('%', ?, '%') AND INFO NOT LIKE '%PROCESSLIST%'",
            (marker,),
        )
        .await
}

/// The server's count of statements of a kind it was sent (`Com_*`).
async fn statements_seen(server: &TestServer, counter: &str) -> u64 {
    let mut admin = server.conn().await.unwrap();
    let row: Option<(String, u64)> = admin
        .exec_first("SHOW GLOBAL STATUS WHERE Variable_name = ?", (counter,))
        .await
        .unwrap();
    row.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_killed_on_every_attempt_says_it_may_have_run_not_that_it_did_not() {
    within(async {
        let setup = setup(Death::ServerIdleKill).await;
        setup.server.set_global("wait_timeout", 600).await.unwrap();
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();
        let killing = killer(&setup.server, "read-killed-thrice", "CONNECTION", 3, None);
        let read = pool.query_first::<i64>("SELECT SLEEP(60) AS `read-killed-thrice`", ());
        let (killed, result) = tokio::join!(killing, read);
        let err = result.unwrap_err();
        eprintln!("killed sessions {killed:?}: {err:?}");
        assert!(
            matches!(err.kind(), ErrorKind::MaybeExecuted { .. }),
            "each attempt reached the server: not BadConnection: {err:?}"
        );
        assert!(err.may_have_run());
        let stats = pool.stats();
        assert_eq!(
            (
                stats.read_retries,
                stats.new_conn_attempts,
                stats.bad_conn_retries
            ),
            (2, 1, 0),
            "{stats:?}"
        );
        assert_eq!(stats.maybe_executed, 1, "{stats:?}");
        let mut unique = killed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 3, "three sessions: {killed:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_killed_by_the_server_is_never_sent_again() {
    within(async {
        let setup = setup(Death::ServerIdleKill).await;
        setup.server.set_global("wait_timeout", 600).await.unwrap();
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();
        // KILL QUERY: error 1317 on a session that lives on. KILL
        // CONNECTION: the session ends mid-statement (1927 on MariaDB).
        for (k, how) in [(1, "QUERY"), (2, "CONNECTION")] {
            let marker: &'static str = if k == 1 {
                "write-kill-query"
            } else {
                "write-kill-conn"
            };
            let before = statements_seen(&setup.server, "Com_insert_select").await;
            let maybe_before = pool.stats().maybe_executed;
            let sql = format!("INSERT INTO t SELECT {k}, SLEEP(60) AS `{marker}`");
            let (killed, result) = tokio::join!(
                killer(&setup.server, marker, how, 1, None),
                pool.exec(&sql, ())
            );
            let err = result.unwrap_err();
            eprintln!("KILL {how} {killed:?}: {err:?}");
            assert!(
                matches!(err.kind(), ErrorKind::MaybeExecuted { .. }),
                "KILL {how}: {err:?}"
            );
            assert!(err.may_have_run());
            if how == "QUERY" {
                match err.kind() {
                    ErrorKind::MaybeExecuted {
                        source: mysql_async::Error::Server(e),
                    } => assert_eq!(e.code, 1317, "{e:?}"),
                    other => panic!("KILL QUERY: {other:?}"),
                }
            }
            let after = statements_seen(&setup.server, "Com_insert_select").await;
            assert_eq!(after - before, 1, "KILL {how}: sent once, not re-sent");
            let stats = pool.stats();
            assert_eq!(stats.maybe_executed, maybe_before + 1, "{stats:?}");
            assert_eq!(stats.bad_conn_retries + stats.read_retries, 0, "{stats:?}");
        }

        // A read killed by KILL QUERY is re-sent, and its second run
        // answers: the gate that made the first one sleep is gone by then.
        let mut admin = setup.server.conn().await.unwrap();
        admin
            .query_drop("CREATE TABLE gate (g INT); INSERT INTO gate VALUES (1)")
            .await
            .unwrap();
        let killing = killer(
            &setup.server,
            "read-kill-query",
            "QUERY",
            1,
            Some("DELETE FROM gate"),
        );
        let read = pool.query_first::<i64>(
            "SELECT 7 + SLEEP(60 * (SELECT COUNT(*) FROM gate)) AS `read-kill-query`",
            (),
        );
        let (_, result) = tokio::join!(killing, read);
        assert_eq!(result.unwrap(), Some(7));
        let stats = pool.stats();
        assert_eq!(
            (stats.read_retries, stats.bad_conn_retries),
            (1, 0),
            "{stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_interrupted_by_a_server_shutdown_is_reported_as_maybe_executed() {
    within(async {
        let mut setup = setup(Death::ServerIdleKill).await;
        setup.server.set_global("wait_timeout", 600).await.unwrap();
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();
        let write = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.exec("INSERT INTO t SELECT 1, SLEEP(60) AS `shutdown-write`", ())
                    .await
            })
        };
        eventually("the write running on the server", EVENT, || async {
            let mut admin = setup.server.conn().await.ok()?;
            let running = sessions_running(&mut admin, "shutdown-write").await.ok()?;
            (running.len() == 1).then_some(())
        })
        .await;
        setup.server.stop().await.unwrap();
        let err = write.await.unwrap().unwrap_err();
        eprintln!("a write during SHUTDOWN: {err:?}");
        assert!(
            matches!(err.kind(), ErrorKind::MaybeExecuted { .. }),
            "{err:?}"
        );
        assert!(err.may_have_run());
        let stats = pool.stats();
        assert_eq!(
            (stats.maybe_executed, stats.bad_conn_retries),
            (1, 0),
            "{stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_bounded_by_the_statement_timeout() {
    within(async {
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
            (stats.bad_conn_retries, stats.read_retries),
            (0, 0),
            "a timed-out statement is not re-sent: {stats:?}"
        );
        assert_eq!(
            stats.open, 0,
            "the timed-out connection is closed, not reused: {stats:?}"
        );
        // A new connection through the proxy works.
        let n: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(n, Some(1));
    })
    .await;
}

#[tokio::test]
async fn server_errors_come_back_as_they_are_and_are_not_retried() {
    within(async {
        let setup = setup(Death::ServerIdleKill).await;
        let pool = Pool::builder(incident_options(&setup.url))
            .connect()
            .await
            .unwrap();
        pool.exec("CREATE TABLE u (k INT PRIMARY KEY)", ())
            .await
            .unwrap();
        pool.exec("INSERT INTO u VALUES (1)", ()).await.unwrap();
        let err = pool.exec("INSERT INTO u VALUES (1)", ()).await.unwrap_err();
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
    })
    .await;
}

#[tokio::test]
async fn the_statement_api_reads_and_writes() {
    within(async {
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
    })
    .await;
}

#[tokio::test]
async fn transactions_commit_roll_back_and_roll_back_on_drop() {
    within(async {
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_transaction_is_never_retried_and_says_what_happened() {
    within(async {
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
        assert!(err.may_have_run());
        assert!(err.to_string().contains("may or may not"), "{err}");

        // The server rolls back (1, 2) with the lost connection; (3) committed.
        eventually(
            "the server's rollback of the lost transaction",
            EVENT,
            || async { (setup.rows(1).await == 0).then_some(()) },
        )
        .await;
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
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_connections_is_a_clear_error_not_a_retry_loop() {
    within(async {
        let server = TestServer::start().await.unwrap();
        // MariaDB's minimum; root may open one more.
        server.set_global("max_connections", 10).await.unwrap();
        let mut options = PoolOptions::from_url(server.url()).unwrap();
        options.max_open = 30;
        options.max_idle = 30;
        // A loop of reconnects would go on until this deadline.
        options.acquire_timeout = Duration::from_secs(30);
        let acquire_timeout = options.acquire_timeout;
        // At boot this is refused (30 > max_connections); here the point is
        // what happens at run time when it is let through.
        options.on_violation = BootPolicy::all(Policy::Warn);
        let pool = Pool::builder(options).connect().await.unwrap();

        // The sessions that get in hold their connection until the gate
        // opens, so that the others meet a full server.
        let mut admin = server.conn().await.unwrap();
        admin
            .query_drop("SELECT GET_LOCK('gate', 0)")
            .await
            .unwrap();
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let result: Result<Option<i64>, _> = pool
                        .query_first("SELECT GET_LOCK('gate', 60) + RELEASE_LOCK('gate')", ())
                        .await;
                    (result, started.elapsed())
                })
            })
            .collect();
        // Every task has either failed or is waiting on the gate.
        eventually("every task refused or at the gate", EVENT, || async {
            let stats = pool.stats();
            (stats.connect_errors + stats.in_use as u64 >= 30).then_some(())
        })
        .await;
        admin
            .query_drop("SELECT RELEASE_LOCK('gate')")
            .await
            .unwrap();
        let mut refused = 0;
        for task in tasks {
            let (result, took) = task.await.unwrap();
            match result.map_err(Error::into_kind) {
                Ok(_) => {}
                Err(ErrorKind::Acquire(PoolError::Connect(e))) => {
                    refused += 1;
                    assert!(e.to_string().contains("Too many connections"), "{e}");
                    // Refused at once: not after a loop of reconnects until
                    // the acquire deadline.
                    eprintln!("refused after {took:?}");
                    assert!(took < acquire_timeout / 2, "took {took:?}");
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!(refused > 0, "the server allowed more than it should");
        assert_eq!(pool.stats().connect_errors, refused as u64);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_under_load_heals_with_every_request_after_it_succeeding() {
    within(async {
        let mut server = TestServer::start().await.unwrap();
        let mut options = PoolOptions::from_url(server.url()).unwrap();
        options.max_open = 8;
        options.max_idle = 8;
        options.acquire_timeout = Duration::from_secs(10);
        options.connect_timeout = Duration::from_secs(5);
        let pool = Pool::builder(options).connect().await.unwrap();

        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        // Outcomes: (when it started, how long it took, succeeded).
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (pool, log, stop) = (pool.clone(), log.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let began = Instant::now();
                        let ok = pool.query_first::<i64>("SELECT 1", ()).await.is_ok();
                        log.lock()
                            .unwrap()
                            .push((began - start, began.elapsed(), ok));
                        if !ok {
                            // Pacing, not waiting for an event: a failing
                            // server answers at once; do not spin.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        let served_since = |at: Duration| {
            let log = log.clone();
            move || {
                let n = log
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|(b, _, _)| *b >= at)
                    .count();
                std::future::ready((n >= 200).then_some(()))
            }
        };

        eventually(
            "200 requests before the restart",
            EVENT,
            served_since(Duration::ZERO),
        )
        .await;
        let down_at = start.elapsed();
        server.stop().await.unwrap();
        server.start_again().await.unwrap();
        let back_at = start.elapsed();
        eventually(
            "200 requests after the restart",
            EVENT,
            served_since(back_at),
        )
        .await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }

        let log = std::mem::take(&mut *log.lock().unwrap());
        for (began, took, ok) in log.iter() {
            let ended = *began + *took;
            if !ok {
                assert!(
                    ended >= down_at && *began <= back_at,
                    "a failure outside the outage: began {began:?}, down {down_at:?}..{back_at:?}"
                );
            }
        }
        let slowest = log.iter().map(|(_, took, _)| *took).max().unwrap();
        let failures = log.iter().filter(|(_, _, ok)| !ok).count();
        eprintln!(
            "{} requests, {failures} failed during the outage {down_at:?}..{back_at:?}; \
             slowest {slowest:?}",
            log.len()
        );

        pool.close().await;
        // close() returns once every goodbye is sent; the server ends the
        // sessions right after.
        eventually(
            "the server sees no connection of the pool",
            EVENT,
            || async { (server.client_connections().await.unwrap() == 0).then_some(()) },
        )
        .await;
    })
    .await;
}

/// Within the bypass window (recently used connections, not pinged), the
/// first write on a dead connection cannot know: it reports "may have run".
/// But its death proves the server closed connections, so the nine dead
/// siblings are pinged before the next writes get them: one error, not ten
/// (without `validate_suspects`, the test above: ten).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_death_gets_the_dead_siblings_pinged_so_one_write_fails_not_ten() {
    within(async {
        for death in [
            Death::ServerIdleKill,
            Death::Proxy(Fault::Fin),
            Death::Proxy(Fault::Reset),
        ] {
            let setup = setup(death).await;
            let mut options = incident_options(&setup.url);
            options.validate_after_idle = Duration::from_secs(3600);
            let pool = Pool::builder(options).connect().await.unwrap();
            warm(&pool, 10).await;
            setup.kill(&pool, death).await;

            let log = Captured::default();
            let guard = log.install();
            let mut failed = Vec::new();
            for k in 0..10 {
                match pool.exec("INSERT INTO t VALUES (?, 1)", (k,)).await {
                    Ok(done) => assert_eq!(done.affected_rows, 1),
                    Err(e) => {
                        assert!(e.may_have_run(), "{death:?}: key {k}: {e:?}");
                        failed.push(k);
                    }
                }
                let expected = if failed.contains(&k) { 0 } else { 1 };
                assert_eq!(setup.rows(k).await, expected, "{death:?}: key {k}");
            }
            drop(guard);
            assert_eq!(failed, vec![0], "{death:?}: only the first write fails");
            let stats = pool.stats();
            assert_eq!(stats.maybe_executed, 1, "{death:?}: {stats:?}");
            assert_eq!(stats.suspect_events, 1, "{death:?}: {stats:?}");
            assert_eq!(stats.suspect_validations, 9, "{death:?}: {stats:?}");
            assert_eq!(stats.suspect_found_dead, 9, "{death:?}: {stats:?}");
            let text = log.text();
            let events: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("closed by the server side"))
                .collect();
            assert_eq!(events.len(), 1, "one line per event: {text}");
            assert!(events[0].contains("WARN"), "{}", events[0]);
            assert!(
                !events[0].contains("mysql://"),
                "no URL in the log: {}",
                events[0]
            );
            pool.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_validation_every_write_after_every_death_runs_exactly_once() {
    within(async {
        for death in DEATHS {
            let setup = setup(death).await;
            let pool = Pool::builder(incident_options(&setup.url))
                .connect()
                .await
                .unwrap();
            warm(&pool, 10).await;
            setup.kill(&pool, death).await;

            let tasks: Vec<_> = (0..10)
                .map(|k| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        (k, pool.exec("INSERT INTO t VALUES (?, 1)", (k,)).await)
                    })
                })
                .collect();
            for task in tasks {
                let (k, result) = task.await.unwrap();
                assert!(result.is_ok(), "{death:?}: key {k}: {result:?}");
                assert_eq!(setup.rows(k).await, 1, "{death:?}: key {k}");
            }
            let stats = pool.stats();
            assert_eq!(stats.maybe_executed, 0, "{death:?}: {stats:?}");
            assert_eq!(stats.validation_failed, 10, "{death:?}: {stats:?}");
            pool.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn init_sql_runs_in_order_on_every_connection_and_after_a_full_reset() {
    within(async {
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
        eventually("the reset after the SET", EVENT, || async {
            (pool.stats().resets >= 2).then_some(())
        })
        .await;
        let greeting: Option<String> = pool.query_first("SELECT @greeting", ()).await.unwrap();
        assert_eq!(greeting.as_deref(), Some("hello, world"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_sent_with_exec_is_treated_as_a_write() {
    within(async {
        let setup = setup(Death::Proxy(Fault::ResetBeforeReply)).await;
        let proxy = setup.proxy.as_ref().unwrap();
        let mut options = incident_options(&setup.url);
        options.validate_after_idle = Duration::from_secs(3600);
        let pool = Pool::builder(options).connect().await.unwrap();
        warm(&pool, 1).await;
        let opened = proxy.opened();
        proxy.inject(Fault::ResetBeforeReply);
        let err = pool.exec("SELECT 1", ()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::MaybeExecuted { .. }),
            "{err:?}"
        );
        let stats = pool.stats();
        assert_eq!(
            (stats.read_retries, stats.maybe_executed),
            (0, 1),
            "{stats:?}"
        );
        assert_eq!(proxy.opened(), opened, "not re-sent");
    })
    .await;
}
