//! The throwaway server of the test kit: start, control, restart, cleanup.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{self, Conn, Opts};
use pool_runtime::testkit::{TestServer, TestkitError};

async fn connect(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).await.unwrap()
}

fn io_kind(err: &mysql_async::Error) -> Option<ErrorKind> {
    match err {
        mysql_async::Error::Io(mysql_async::IoError::Io(e)) => Some(e.kind()),
        _ => None,
    }
}

fn process_exists(pid: u32) -> bool {
    PathBuf::from(format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn a_fresh_server_serves_database_test_as_root_without_password() {
    bounded(
        "a_fresh_server_serves_database_test_as_root_without_password",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            eprintln!("test server started in {:?}", server.started_in().unwrap());
            assert!(server.is_owned());
            assert!(server.url().starts_with("mysql://root@127.0.0.1:"));

            let mut conn = connect(server.url()).await;
            let (db, version): (String, String) = conn
                .query_first("SELECT DATABASE(), VERSION()")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(db, "test");
            assert!(!version.is_empty());
            conn.disconnect().await.unwrap();
        },
    )
    .await
}

#[tokio::test]
async fn set_global_reaches_new_sessions_and_the_server_enforces_it() {
    bounded(
        "set_global_reaches_new_sessions_and_the_server_enforces_it",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("wait_timeout", 1).await.unwrap();

            let mut conn = connect(server.url()).await;
            let timeout: Option<u64> = conn
                .query_first("SELECT @@session.wait_timeout")
                .await
                .unwrap();
            assert_eq!(timeout, Some(1));

            // Idle past the server's limit: the server closes the session (seen on
            // the server, not slept for), and the next statement finds a dead socket.
            assert_eq!(server.client_connections().await.unwrap(), 1);
            eventually("the server ends the idle session", TEST_TIMEOUT, || async {
                (server.client_connections().await.unwrap() == 0).then_some(())
            })
            .await;
            let err = conn.query_drop("SELECT 1").await.unwrap_err();
            let kind = io_kind(&err);
            assert!(
                matches!(
                    kind,
                    Some(
                        ErrorKind::BrokenPipe
                            | ErrorKind::ConnectionReset
                            | ErrorKind::UnexpectedEof
                    )
                ),
                "unexpected error after the idle kill: {err:?}"
            );
        },
    )
    .await
}

#[tokio::test]
async fn set_global_refuses_a_name_that_is_not_an_identifier() {
    bounded(
        "set_global_refuses_a_name_that_is_not_an_identifier",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            let err = server
                .set_global("wait_timeout = 1; DROP DATABASE test; --", 1)
                .await
                .unwrap_err();
            assert!(
                matches!(err, TestkitError::BadVariableName { .. }),
                "{err:?}"
            );
        },
    )
    .await
}

#[tokio::test]
async fn kill_all_client_connections_breaks_every_open_session() {
    bounded(
        "kill_all_client_connections_breaks_every_open_session",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            let mut conns = Vec::new();
            for _ in 0..3 {
                conns.push(connect(server.url()).await);
            }
            assert_eq!(server.client_connections().await.unwrap(), 3);

            assert_eq!(server.kill_all_client_connections().await.unwrap(), 3);
            for conn in &mut conns {
                let err = conn.query_drop("SELECT 1").await.unwrap_err();
                assert!(
                    err.is_fatal(),
                    "a killed session must fail fatally: {err:?}"
                );
            }
            assert_eq!(server.client_connections().await.unwrap(), 0);
        },
    )
    .await
}

#[tokio::test]
async fn a_stopped_server_refuses_connections_and_restarts_with_its_data_and_port() {
    bounded(
        "a_stopped_server_refuses_connections_and_restarts_with_its_data_and_port",
        TEST_TIMEOUT,
        async {
            let mut server = TestServer::start().await.unwrap();
            let url = server.url().to_owned();
            let mut conn = connect(&url).await;
            conn.query_drop("CREATE TABLE t (v INT) ENGINE=InnoDB")
                .await
                .unwrap();
            conn.query_drop("INSERT INTO t VALUES (7)").await.unwrap();
            conn.disconnect().await.unwrap();

            server.stop().await.unwrap();
            assert_eq!(server.pid(), None);
            let tcp = server.url_at(server.addr()).unwrap();
            let err = Conn::new(Opts::from_url(&tcp).unwrap()).await.unwrap_err();
            assert_eq!(io_kind(&err), Some(ErrorKind::ConnectionRefused), "{err:?}");
            let err = server.set_global("wait_timeout", 5).await.unwrap_err();
            assert!(matches!(err, TestkitError::Stopped { .. }), "{err:?}");

            server.start_again().await.unwrap();
            assert_eq!(server.url(), url, "restart keeps the port");
            let mut conn = connect(&url).await;
            let v: Option<i32> = conn.query_first("SELECT v FROM t").await.unwrap();
            assert_eq!(v, Some(7));
            conn.disconnect().await.unwrap();
        },
    )
    .await
}

#[tokio::test]
async fn two_servers_run_at_once_independently() {
    bounded(
        "two_servers_run_at_once_independently",
        TEST_TIMEOUT,
        async {
            let (a, b) = tokio::join!(TestServer::start(), TestServer::start());
            let (a, b) = (a.unwrap(), b.unwrap());
            assert_ne!(a.addr(), b.addr());

            a.set_global("max_connections", 33).await.unwrap();
            let mut on_a = connect(a.url()).await;
            let mut on_b = connect(b.url()).await;
            let max_a: Option<u32> = on_a.query_first("SELECT @@max_connections").await.unwrap();
            let max_b: Option<u32> = on_b.query_first("SELECT @@max_connections").await.unwrap();
            assert_eq!(max_a, Some(33));
            assert_ne!(max_b, Some(33));
        },
    )
    .await
}

#[tokio::test]
async fn url_at_forces_tcp_to_the_given_address() {
    bounded(
        "url_at_forces_tcp_to_the_given_address",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            let url = server.url_at(server.addr()).unwrap();
            assert!(url.contains("prefer_socket=false"), "{url}");
            assert!(
                url.contains(&format!(":{}/test", server.addr().port())),
                "{url}"
            );

            let mut conn = connect(&url).await;
            // Over TCP the server sees a peer address; over the socket it sees `localhost`.
            let host: Option<String> = conn
                .query_first(
                    "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()",
                )
                .await
                .unwrap();
            assert!(host.unwrap().starts_with("127.0.0.1:"));
        },
    )
    .await
}

/// Longest a server start may take in these tests before they fail instead
/// of hanging (the kit's own deadlines are longer).
const START: Duration = Duration::from_secs(120);

/// Starts a server in `runtime`, drops it there, then drops the runtime, and
/// returns the server's pid and directory.
fn start_and_drop_in(runtime: tokio::runtime::Runtime) -> (u32, PathBuf) {
    let gone = runtime.block_on(async {
        let server = tokio::time::timeout(START, TestServer::start())
            .await
            .expect("the server starts in time")
            .unwrap();
        let pid = server.pid().unwrap();
        let dir = server.dir().unwrap().to_path_buf();
        assert!(process_exists(pid) && dir.exists());
        drop(server);
        (pid, dir)
    });
    drop(runtime);
    gone
}

#[track_caller]
fn assert_gone(pid: u32, dir: &std::path::Path) {
    assert!(
        !process_exists(pid),
        "server process {pid} outlived its TestServer"
    );
    assert!(!dir.exists(), "{} outlived its TestServer", dir.display());
}

/// Dropped inside a runtime, a server is gone by the time the runtime is:
/// reaping and removal ran on its blocking pool, not on the thread that
/// dropped it.
#[test]
fn a_server_dropped_in_a_runtime_is_gone_with_the_runtime() {
    let mut current = tokio::runtime::Builder::new_current_thread();
    let mut multi = tokio::runtime::Builder::new_multi_thread();
    multi.worker_threads(2);
    for builder in [&mut current, &mut multi] {
        let (pid, dir) = start_and_drop_in(builder.enable_all().build().unwrap());
        assert_gone(pid, &dir);
    }
}

/// Dropped outside any runtime, a server is gone when `drop` returns.
#[test]
fn a_server_dropped_outside_a_runtime_is_gone_at_once() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(async {
        tokio::time::timeout(START, TestServer::start())
            .await
            .expect("the server starts in time")
            .unwrap()
    });
    drop(runtime);
    let pid = server.pid().unwrap();
    let dir = server.dir().unwrap().to_path_buf();
    drop(server);
    assert_gone(pid, &dir);
}

#[test]
fn a_panicking_test_still_removes_its_server() {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let server = tokio::time::timeout(START, TestServer::start())
                .await
                .expect("the server starts in time")
                .unwrap();
            tx.send((server.pid().unwrap(), server.dir().unwrap().to_path_buf()))
                .unwrap();
            panic!("the test fails while its server runs");
        })
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");

    let (pid, dir) = rx.recv().unwrap();
    assert!(
        !process_exists(pid),
        "server process {pid} outlived the panic"
    );
    assert!(!dir.exists(), "{} outlived the panic", dir.display());
}
