//! The fault proxy in front of a real server, observed the way a user
//! observes it: through a raw `mysql_async::Conn`.
//!
//! Each fault's test pins the exact error the driver reports, because that is
//! what the pool's bad-connection classification is built on.

mod common;

use std::io;
use std::time::{Duration, Instant};

use pool_runtime::mysql_async::{self, Conn, prelude::*};
use pool_runtime::testkit::{Fault, FaultProxy, TestServer};

use common::{TEST_TIMEOUT, bounded, eventually};

/// Longest a query that should answer (or fail) may take before the test
/// fails instead of hanging.
const ANSWER: Duration = Duration::from_secs(10);

/// A fresh server and a proxy in front of it.
async fn server_and_proxy() -> (TestServer, FaultProxy) {
    let server = TestServer::start().await.expect("test server");
    let proxy = FaultProxy::start(server.addr()).await.expect("fault proxy");
    (server, proxy)
}

/// A connection through the proxy (TCP only, so it cannot bypass it).
async fn connect(server: &TestServer, proxy: &FaultProxy) -> Result<Conn, mysql_async::Error> {
    Conn::from_url(server.url_at(proxy.addr()).expect("proxy URL")).await
}

async fn select_one(conn: &mut Conn) -> Result<Option<i64>, mysql_async::Error> {
    tokio::time::timeout(ANSWER, conn.query_first("SELECT 1"))
        .await
        .expect("the query neither answered nor failed")
}

/// The I/O error inside a driver error; fails the test on any other error.
fn io_error(result: Result<Option<i64>, mysql_async::Error>) -> io::Error {
    match result {
        Err(mysql_async::Error::Io(mysql_async::IoError::Io(error))) => error,
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[tokio::test]
async fn passes_queries_through() {
    bounded("passes_queries_through", TEST_TIMEOUT, async {
        let (server, proxy) = server_and_proxy().await;
        let mut conn = connect(&server, &proxy).await.unwrap();
        assert_eq!(select_one(&mut conn).await.unwrap(), Some(1));
        assert_eq!(proxy.opened(), 1);
        assert_eq!(proxy.faulted(), 0);
        assert_eq!(proxy.connections().len(), 1);
    })
    .await
}

#[tokio::test]
async fn fin_fails_the_next_query_with_unexpected_eof() {
    bounded(
        "fin_fails_the_next_query_with_unexpected_eof",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut conn = connect(&server, &proxy).await.unwrap();
            select_one(&mut conn).await.unwrap();

            proxy.inject(Fault::Fin);
            let error = io_error(select_one(&mut conn).await);
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");
            assert!(proxy.connections().is_empty());
            assert_eq!(proxy.faulted(), 1);
        },
    )
    .await
}

#[tokio::test]
async fn reset_fails_the_next_query_with_connection_reset() {
    bounded(
        "reset_fails_the_next_query_with_connection_reset",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut conn = connect(&server, &proxy).await.unwrap();
            select_one(&mut conn).await.unwrap();

            proxy.inject(Fault::Reset);
            let error = io_error(select_one(&mut conn).await);
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
        },
    )
    .await
}

#[tokio::test]
async fn mysql8_idle_kill_fails_the_next_query_with_packets_out_of_sync() {
    bounded(
        "mysql8_idle_kill_fails_the_next_query_with_packets_out_of_sync",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut conn = connect(&server, &proxy).await.unwrap();
            select_one(&mut conn).await.unwrap();

            proxy.inject(Fault::MySql8IdleKill);
            // The ERR packet has sequence id 0 where the reply to COM_QUERY has 1:
            // mysql_async 0.37 fails in its codec (mysql_common's
            // `PacketCodecError::PacketsOutOfSync`, wrapped as `io::ErrorKind::Other`),
            // neither as `DriverError::PacketOutOfOrder` nor as server error 4031.
            let error = io_error(select_one(&mut conn).await);
            assert_eq!(error.kind(), io::ErrorKind::Other, "{error:?}");
            assert_eq!(error.to_string(), "Packets out of sync");
            // The connection is finished for good.
            let error = io_error(select_one(&mut conn).await);
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");
        },
    )
    .await
}

#[tokio::test]
async fn blackhole_makes_the_next_query_hang() {
    bounded("blackhole_makes_the_next_query_hang", TEST_TIMEOUT, async {
        let (server, proxy) = server_and_proxy().await;
        let mut admin = server.conn().await.unwrap();
        admin.query_drop("CREATE TABLE t (v INT)").await.unwrap();
        let mut conn = connect(&server, &proxy).await.unwrap();
        let mut other = connect(&server, &proxy).await.unwrap();
        select_one(&mut conn).await.unwrap();
        let id = proxy.connections()[0];

        proxy.inject_on(id, Fault::Blackhole);
        let blackholed = tokio::spawn(async move {
            let outcome = conn.query_drop("INSERT INTO t VALUES (1)").await;
            (outcome, conn)
        });
        // A hang is shown against what did happen meanwhile: the other
        // connection through the same proxy gets ten answers.
        for _ in 0..10 {
            assert_eq!(select_one(&mut other).await.unwrap(), Some(1));
        }
        assert!(!blackholed.is_finished(), "a blackholed query completed");
        let rows: Option<i64> = admin.query_first("SELECT COUNT(*) FROM t").await.unwrap();
        assert_eq!(rows, Some(0), "the blackholed statement reached the server");
        assert_eq!(proxy.connections().len(), 2, "blackholed, not closed");
        blackholed.abort();
    })
    .await
}

#[tokio::test]
async fn latency_slows_every_query() {
    bounded("latency_slows_every_query", TEST_TIMEOUT, async {
        let (server, proxy) = server_and_proxy().await;
        let mut conn = connect(&server, &proxy).await.unwrap();
        let delay = Duration::from_millis(100);

        proxy.inject(Fault::Latency(delay));
        // A lower bound from the injected delay: load can only add to it.
        let started = Instant::now();
        assert_eq!(select_one(&mut conn).await.unwrap(), Some(1));
        // The query and its reply are each held for `delay`.
        let took = started.elapsed();
        assert!(took >= 2 * delay, "SELECT 1 took {took:?}");
    })
    .await
}

#[tokio::test]
async fn refuse_new_refuses_connections_until_cleared() {
    bounded(
        "refuse_new_refuses_connections_until_cleared",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut open = connect(&server, &proxy).await.unwrap();

            proxy.on_new_connections(Some(Fault::RefuseNew));
            let refused = connect(&server, &proxy).await.map(|_| None);
            let error = io_error(refused);
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error:?}");
            assert_eq!(
                select_one(&mut open).await.unwrap(),
                Some(1),
                "open ones unaffected"
            );

            proxy.clear();
            let mut again = connect(&server, &proxy).await.unwrap();
            assert_eq!(select_one(&mut again).await.unwrap(), Some(1));
            assert_eq!(select_one(&mut open).await.unwrap(), Some(1));
            assert_eq!(proxy.opened(), 2);
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_rule_faults_idle_connections_and_spares_busy_ones() {
    bounded(
        "idle_rule_faults_idle_connections_and_spares_busy_ones",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut idle = connect(&server, &proxy).await.unwrap();
            let mut busy = connect(&server, &proxy).await.unwrap();
            let [idle_id, busy_id] = proxy.connections()[..] else {
                panic!("expected two connections, got {:?}", proxy.connections());
            };
            // Long against the busy side's pauses (a tenth of it), so that a
            // loaded scheduler cannot make the busy connection look idle.
            let idle_for = Duration::from_secs(1);
            let started = Instant::now();
            proxy.after_idle(idle_for, Fault::Fin);

            let keep_busy = tokio::spawn(async move {
                while started.elapsed() < 2 * idle_for {
                    select_one(&mut busy).await.unwrap();
                    // The busy side's think time: the scenario, not a wait.
                    tokio::time::sleep(idle_for / 10).await;
                }
                busy
            });
            // The fault is applied by the proxy's own timer: wait for it rather
            // than race it, so the query cannot slip through first.
            eventually("the idle connection faulted", ANSWER, || {
                let faulted = !proxy.connections().contains(&idle_id);
                async move { faulted.then_some(()) }
            })
            .await;
            let faulted_after = started.elapsed();
            eprintln!("the idle connection was faulted after {faulted_after:?}");
            assert!(faulted_after >= idle_for, "faulted after {faulted_after:?}");
            let error = io_error(select_one(&mut idle).await);
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");

            let mut busy = keep_busy.await.unwrap();
            assert_eq!(select_one(&mut busy).await.unwrap(), Some(1));
            assert_eq!(proxy.connections(), [busy_id]);
            assert_eq!(proxy.faulted(), 1);
        },
    )
    .await
}

#[tokio::test]
async fn inject_on_breaks_only_that_connection() {
    bounded(
        "inject_on_breaks_only_that_connection",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut conns = Vec::new();
            for _ in 0..3 {
                conns.push(connect(&server, &proxy).await.unwrap());
            }
            let ids = proxy.connections();
            assert_eq!(ids.len(), 3);
            assert!(ids.is_sorted(), "accept order: {ids:?}");

            assert!(proxy.inject_on(ids[1], Fault::Reset));
            assert!(!proxy.inject_on(ids[1], Fault::Fin), "closing already");
            let error = io_error(select_one(&mut conns[1]).await);
            assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
            assert_eq!(select_one(&mut conns[0]).await.unwrap(), Some(1));
            assert_eq!(select_one(&mut conns[2]).await.unwrap(), Some(1));
            assert_eq!(proxy.connections(), [ids[0], ids[2]]);
            assert_eq!((proxy.opened(), proxy.faulted()), (3, 1));
        },
    )
    .await
}

#[tokio::test]
async fn dropping_the_proxy_closes_client_connections() {
    bounded(
        "dropping_the_proxy_closes_client_connections",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut conn = connect(&server, &proxy).await.unwrap();
            select_one(&mut conn).await.unwrap();

            drop(proxy);
            let error = io_error(select_one(&mut conn).await);
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");
        },
    )
    .await
}

#[tokio::test]
async fn new_connection_rule_fails_the_handshake() {
    bounded(
        "new_connection_rule_fails_the_handshake",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;

            proxy.on_new_connections(Some(Fault::Fin));
            let error = io_error(connect(&server, &proxy).await.map(|_| None));
            assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");

            // Read as the server's greeting, the ERR packet is a server error.
            proxy.on_new_connections(Some(Fault::MySql8IdleKill));
            match connect(&server, &proxy).await {
                Err(mysql_async::Error::Server(error)) => assert_eq!(error.code, 4031, "{error:?}"),
                other => panic!("expected server error 4031, got {other:?}"),
            }
            assert_eq!((proxy.opened(), proxy.faulted()), (2, 2));
            assert!(proxy.connections().is_empty());
        },
    )
    .await
}

#[tokio::test]
async fn reset_before_reply_runs_the_statement_once_and_hides_the_answer() {
    bounded(
        "reset_before_reply_runs_the_statement_once_and_hides_the_answer",
        TEST_TIMEOUT,
        async {
            let (server, proxy) = server_and_proxy().await;
            let mut admin = server.conn().await.unwrap();
            admin.query_drop("CREATE TABLE t (v INT)").await.unwrap();
            let mut conn = connect(&server, &proxy).await.unwrap();

            proxy.inject(Fault::ResetBeforeReply);
            let result = tokio::time::timeout(ANSWER, conn.query_drop("INSERT INTO t VALUES (1)"))
                .await
                .expect("the insert neither answered nor failed");
            match result {
                Err(mysql_async::Error::Io(mysql_async::IoError::Io(e))) => {
                    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
                }
                other => panic!("expected a reset, got {other:?}"),
            }
            let rows: Option<i64> = admin.query_first("SELECT COUNT(*) FROM t").await.unwrap();
            assert_eq!(rows, Some(1), "the statement must have run exactly once");
            assert_eq!(proxy.faulted(), 1);
        },
    )
    .await
}
