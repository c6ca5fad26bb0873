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

            // Without `builder().tls()`: no TLS material, and the server offers none.
            assert!(server.tls().is_none());
            let mut admin = server.conn().await.unwrap();
            assert_ne!(global(&mut admin, "have_ssl").await, "YES");
            let handshake = handshake_refused_by_plain_server(server.addr().port()).await;
            assert!(!handshake.ok, "{}", handshake.output);
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

/// A server on a template works as a fresh one: root, database `test`.
async fn assert_serves(server: &TestServer) {
    let mut conn = connect(server.url()).await;
    conn.query_drop("CREATE TABLE mine (v INT) ENGINE=InnoDB")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO mine VALUES (1)")
        .await
        .unwrap();
    let db: Option<String> = conn.query_first("SELECT DATABASE()").await.unwrap();
    assert_eq!(db.as_deref(), Some("test"));
    conn.disconnect().await.unwrap();
}

const MARKER: &str = "TEMPLATE-COMPLETE";

/// Whether this run was started with `POOL_TESTKIT_NO_TEMPLATE` set, which
/// turns templates off for every server: the tests of templates then have
/// nothing to test (the variable itself is tested in a child process).
fn templates_turned_off(test: &str) -> bool {
    let off = std::env::var("POOL_TESTKIT_NO_TEMPLATE").is_ok_and(|v| !v.is_empty() && v != "0");
    if off {
        eprintln!("{test}: skipped, POOL_TESTKIT_NO_TEMPLATE is set");
    }
    off
}

#[tokio::test]
async fn a_template_is_installed_once_and_copied_for_the_next_server() {
    if templates_turned_off("a_template_is_installed_once_and_copied_for_the_next_server") {
        return;
    }
    bounded(
        "a_template_is_installed_once_and_copied_for_the_next_server",
        TEST_TIMEOUT,
        async {
            let cache = tempfile::tempdir().unwrap();
            let first = TestServer::builder()
                .template_cache(cache.path())
                .start()
                .await
                .unwrap();
            let template = first.template().expect("a template was used").clone();
            eprintln!(
                "cold start (installs the template): {:?}",
                first.started_in().unwrap()
            );
            assert!(template.built_by_this_start());
            assert_eq!(template.path().parent(), Some(cache.path()));
            assert!(template.path().join(MARKER).is_file());

            let second = TestServer::builder()
                .template_cache(cache.path())
                .start()
                .await
                .unwrap();
            eprintln!(
                "warm start (copies the template): {:?}",
                second.started_in().unwrap()
            );
            let reused = second.template().expect("the template was reused");
            assert_eq!(reused.path(), template.path());
            assert!(!reused.built_by_this_start());

            // Each server has its own copy: what they write stays theirs.
            assert_serves(&first).await;
            assert_serves(&second).await;
            assert_ne!(first.dir(), second.dir());
            assert!(!template.path().join("data/test").exists());
        },
    )
    .await
}

#[tokio::test]
async fn servers_racing_to_install_a_template_share_one() {
    if templates_turned_off("servers_racing_to_install_a_template_share_one") {
        return;
    }
    bounded(
        "servers_racing_to_install_a_template_share_one",
        TEST_TIMEOUT,
        async {
            let cache = tempfile::tempdir().unwrap();
            let start = || TestServer::builder().template_cache(cache.path()).start();
            let (a, b, c) = tokio::join!(start(), start(), start());
            let servers = [a.unwrap(), b.unwrap(), c.unwrap()];
            let templates: Vec<_> = servers
                .iter()
                .map(|s| s.template().expect("a template was used").clone())
                .collect();
            assert!(templates.iter().all(|t| t.path() == templates[0].path()));
            let built = templates.iter().filter(|t| t.built_by_this_start()).count();
            assert_eq!(built, 1, "{templates:?}");
            // The losers' staging copies are gone: one template, nothing else.
            let left: Vec<_> = std::fs::read_dir(cache.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(left.len(), 1, "{left:?}");
            for server in &servers {
                assert_serves(server).await;
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_template_without_its_marker_is_ignored_and_rebuilt() {
    if templates_turned_off("a_template_without_its_marker_is_ignored_and_rebuilt") {
        return;
    }
    bounded(
        "a_template_without_its_marker_is_ignored_and_rebuilt",
        TEST_TIMEOUT,
        async {
            let cache = tempfile::tempdir().unwrap();
            let first = TestServer::builder()
                .template_cache(cache.path())
                .start()
                .await
                .unwrap();
            let path = first.template().unwrap().path().to_path_buf();
            drop(first);
            // An install cut short: no marker, and half the system tables missing.
            std::fs::remove_file(path.join(MARKER)).unwrap();
            std::fs::remove_dir_all(path.join("data/mysql")).unwrap();

            let second = TestServer::builder()
                .template_cache(cache.path())
                .start()
                .await
                .unwrap();
            let rebuilt = second.template().expect("a template was used");
            assert_eq!(rebuilt.path(), path);
            assert!(rebuilt.built_by_this_start());
            assert!(path.join(MARKER).is_file());
            assert!(path.join("data/mysql").is_dir());
            assert_serves(&second).await;
        },
    )
    .await
}

#[tokio::test]
async fn fresh_install_uses_no_template() {
    bounded("fresh_install_uses_no_template", TEST_TIMEOUT, async {
        let cache = tempfile::tempdir().unwrap();
        let server = TestServer::builder()
            .template_cache(cache.path())
            .fresh_install()
            .start()
            .await
            .unwrap();
        assert_eq!(server.template(), None);
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
        assert_serves(&server).await;
    })
    .await
}

/// Where [`the_variable_turns_templates_off_in_a_child`] tells its child
/// to keep templates; unset, the child test does nothing.
const CHILD_CACHE_VAR: &str = "POOL_TESTKIT_TEST_CHILD_CACHE";

/// `POOL_TESTKIT_NO_TEMPLATE=1` is read from the environment at every
/// start; the environment of this process is left alone (other tests run
/// in it at the same time), so a child of this test binary gets it.
#[tokio::test]
async fn the_variable_turns_templates_off_in_a_child() {
    bounded(
        "the_variable_turns_templates_off_in_a_child",
        TEST_TIMEOUT,
        async {
            let cache = tempfile::tempdir().unwrap();
            let output = tokio::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "child_started_with_no_template", "--ignored"])
                .env("POOL_TESTKIT_NO_TEMPLATE", "1")
                .env(CHILD_CACHE_VAR, cache.path())
                .kill_on_drop(true)
                .output()
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&output.stdout);
            assert!(output.status.success(), "{text}");
            assert!(text.contains("1 passed"), "{text}");
            assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
        },
    )
    .await
}

/// Run by [`the_variable_turns_templates_off_in_a_child`] only.
#[tokio::test]
#[ignore = "run by the_variable_turns_templates_off_in_a_child"]
async fn child_started_with_no_template() {
    let Some(cache) = std::env::var_os(CHILD_CACHE_VAR) else {
        return;
    };
    bounded("child_started_with_no_template", TEST_TIMEOUT, async {
        let server = TestServer::builder()
            .template_cache(cache)
            .start()
            .await
            .unwrap();
        assert_eq!(server.template(), None);
        assert_serves(&server).await;
    })
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

// ---- TLS ---------------------------------------------------------------

/// How long one `openssl` run may take before the test fails instead of
/// hanging (it takes milliseconds).
const OPENSSL: Duration = Duration::from_secs(30);

/// What `openssl` said and whether it succeeded.
struct OpensslRun {
    ok: bool,
    output: String,
}

/// Runs `openssl args…` with `stdin` as its input, bounded by [`OPENSSL`].
async fn openssl(args: &[&str], stdin: &[u8]) -> OpensslRun {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl runs (apt-get install -y openssl)");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).await.unwrap();
    drop(input); // EOF: s_client closes the session and exits.
    let out = tokio::time::timeout(OPENSSL, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("openssl {args:?} did not finish within {OPENSSL:?}"))
        .unwrap();
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    OpensslRun {
        ok: out.status.success(),
        output,
    }
}

/// A MySQL STARTTLS handshake with `port` on loopback, verifying the
/// certificate against `ca` and the name `name`, as a verifying client does.
async fn handshake(port: u16, ca: &std::path::Path, name: &str) -> OpensslRun {
    let connect = format!("127.0.0.1:{port}");
    let ca = ca.to_str().unwrap();
    openssl(
        &[
            "s_client",
            "-starttls",
            "mysql",
            "-connect",
            &connect,
            "-CAfile",
            ca,
            "-verify_return_error",
            "-verify_hostname",
            name,
        ],
        b"",
    )
    .await
}

/// A STARTTLS handshake with a server that offers no TLS (trusting nothing
/// in particular): it must fail.
async fn handshake_refused_by_plain_server(port: u16) -> OpensslRun {
    let connect = format!("127.0.0.1:{port}");
    openssl(
        &["s_client", "-starttls", "mysql", "-connect", &connect],
        b"",
    )
    .await
}

/// The certificate (PEM) a handshake printed: the one the server presented.
fn presented_cert(run: &OpensslRun) -> String {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = run
        .output
        .find(BEGIN)
        .expect("the handshake printed the certificate");
    let len = run.output[start..].find(END).unwrap() + END.len();
    format!("{}\n", &run.output[start..start + len])
}

async fn global(conn: &mut Conn, name: &str) -> String {
    // `SHOW` takes no placeholders; the names are the tests' own literals.
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW GLOBAL VARIABLES LIKE '{name}'"))
        .await
        .unwrap();
    row.unwrap_or_else(|| panic!("no variable {name}")).1
}

#[tokio::test]
async fn a_tls_server_is_verified_by_its_ca_and_refused_by_another() {
    bounded(
        "a_tls_server_is_verified_by_its_ca_and_refused_by_another",
        TEST_TIMEOUT,
        async {
            let server = TestServer::builder().tls().start().await.unwrap();
            eprintln!(
                "TLS test server started in {:?}",
                server.started_in().unwrap()
            );
            let tls = server.tls().expect("started with TLS");
            assert_eq!(tls.server_name(), "localhost");
            assert!(tls.ca_path().starts_with(server.dir().unwrap()));
            let port = server.addr().port();

            let mut admin = server.conn().await.unwrap();
            assert_eq!(global(&mut admin, "have_ssl").await, "YES");
            // Plaintext TCP is still accepted without require_secure_transport.
            assert_eq!(global(&mut admin, "require_secure_transport").await, "OFF");
            let mut plain = connect(server.url()).await;
            plain.query_drop("SELECT 1").await.unwrap();

            let trusted = handshake(port, tls.ca_path(), "localhost").await;
            assert!(trusted.ok, "{}", trusted.output);
            assert!(
                trusted.output.contains("Verify return code: 0 (ok)"),
                "{}",
                trusted.output
            );
            assert_eq!(
                presented_cert(&trusted),
                std::fs::read_to_string(tls.server_cert_path()).unwrap()
            );

            let untrusted = handshake(port, tls.other_ca_path(), "localhost").await;
            assert!(!untrusted.ok, "{}", untrusted.output);
            // The server sends its CA along; a client that does not trust
            // it sees an untrusted self-signed CA in the chain.
            assert!(
                untrusted.output.contains("certificate verify failed")
                    && !untrusted.output.contains("Verify return code: 0 (ok)"),
                "{}",
                untrusted.output
            );

            let wrong_name = handshake(port, tls.ca_path(), "db.example.com").await;
            assert!(!wrong_name.ok, "{}", wrong_name.output);
            assert!(
                wrong_name.output.contains("hostname mismatch"),
                "{}",
                wrong_name.output
            );

            // By IP too: the certificate names 127.0.0.1.
            let connect = format!("127.0.0.1:{port}");
            let by_ip = openssl(
                &[
                    "s_client",
                    "-starttls",
                    "mysql",
                    "-connect",
                    &connect,
                    "-CAfile",
                    tls.ca_path().to_str().unwrap(),
                    "-verify_return_error",
                    "-verify_ip",
                    "127.0.0.1",
                ],
                b"",
            )
            .await;
            assert!(by_ip.ok, "{}", by_ip.output);
        },
    )
    .await
}

#[tokio::test]
async fn the_client_identity_is_signed_by_the_ca_for_client_auth() {
    bounded(
        "the_client_identity_is_signed_by_the_ca_for_client_auth",
        TEST_TIMEOUT,
        async {
            let server = TestServer::builder().tls().start().await.unwrap();
            let tls = server.tls().unwrap();
            let (ca, other, cert) = (
                tls.ca_path().to_str().unwrap(),
                tls.other_ca_path().to_str().unwrap(),
                tls.client_cert_path().to_str().unwrap(),
            );
            let signed = openssl(
                &["verify", "-CAfile", ca, "-purpose", "sslclient", cert],
                b"",
            )
            .await;
            assert!(signed.ok, "{}", signed.output);
            let unrelated = openssl(&["verify", "-CAfile", other, cert], b"").await;
            assert!(!unrelated.ok, "{}", unrelated.output);
            // The key is the certificate's: both hold the same public key.
            let from_cert = openssl(&["x509", "-in", cert, "-noout", "-pubkey"], b"").await;
            let key = tls.client_key_path().to_str().unwrap();
            let from_key = openssl(&["pkey", "-in", key, "-pubout"], b"").await;
            assert!(
                from_cert.ok && from_key.ok,
                "{}{}",
                from_cert.output,
                from_key.output
            );
            assert_eq!(from_cert.output, from_key.output);
        },
    )
    .await
}

#[tokio::test]
async fn require_secure_transport_refuses_plain_tcp_while_the_kit_keeps_working() {
    bounded(
        "require_secure_transport_refuses_plain_tcp_while_the_kit_keeps_working",
        TEST_TIMEOUT,
        async {
            let mut server = TestServer::builder()
                .require_secure_transport()
                .start()
                .await
                .unwrap();
            assert!(
                server.tls().is_some(),
                "require_secure_transport implies tls"
            );

            let refused = Conn::new(Opts::from_url(server.url()).unwrap()).await;
            let err = refused.expect_err("a plaintext TCP login is refused");
            eprintln!("plaintext TCP login: {err}");
            // MariaDB 10.11 refuses it as a failed login (1045, "Access
            // denied"), with no error of its own for the transport.
            let mysql_async::Error::Server(e) = &err else {
                panic!("not the server's refusal: {err:?}");
            };
            assert_eq!(e.code, 1045, "{e:?}");

            // The kit's own sessions go over the Unix socket, which the
            // server counts as secure.
            let mut admin = server.conn().await.unwrap();
            assert_eq!(global(&mut admin, "require_secure_transport").await, "ON");
            server.set_global("wait_timeout", 7).await.unwrap();
            assert_eq!(global(&mut admin, "wait_timeout").await, "7");
            // The refused login may linger for a moment; then only `admin`.
            eventually("only admin is connected", TEST_TIMEOUT, || async {
                (server.client_connections().await.unwrap() == 1).then_some(())
            })
            .await;
            assert_eq!(server.kill_all_client_connections().await.unwrap(), 1);
            assert!(admin.query_drop("SELECT 1").await.is_err());

            // The refusal is the setting's: without it the same login works.
            let mut admin = server.conn().await.unwrap();
            server
                .set_global("require_secure_transport", "OFF")
                .await
                .unwrap();
            connect(server.url())
                .await
                .query_drop("SELECT 1")
                .await
                .unwrap();
            server
                .set_global("require_secure_transport", "ON")
                .await
                .unwrap();
            assert!(
                Conn::new(Opts::from_url(server.url()).unwrap())
                    .await
                    .is_err()
            );
            admin.query_drop("SELECT 1").await.unwrap();

            // A restart keeps TLS and the requirement.
            server.restart().await.unwrap();
            let mut again = server.conn().await.unwrap();
            assert_eq!(global(&mut again, "have_ssl").await, "YES");
            assert_eq!(global(&mut again, "require_secure_transport").await, "ON");
            let tls = server.tls().unwrap();
            let verified = handshake(server.addr().port(), tls.ca_path(), "localhost").await;
            assert!(verified.ok, "{}", verified.output);
            assert!(
                Conn::new(Opts::from_url(server.url()).unwrap())
                    .await
                    .is_err()
            );
        },
    )
    .await
}

#[tokio::test]
async fn tls_valid_for_sets_the_expiry_of_the_certificate_the_server_presents() {
    bounded(
        "tls_valid_for_sets_the_expiry_of_the_certificate_the_server_presents",
        TEST_TIMEOUT,
        async {
            const DAY: u64 = 86400;
            let valid_for = Duration::from_secs(3 * DAY);
            let before = std::time::SystemTime::now();
            let server = TestServer::builder()
                .tls_valid_for(valid_for)
                .start()
                .await
                .unwrap();
            let after = std::time::SystemTime::now();
            let tls = server.tls().expect("tls_valid_for implies tls");
            // Whole seconds: up to one below `before + valid_for`.
            assert!(tls.not_after() + Duration::from_secs(1) > before + valid_for);
            assert!(tls.not_after() <= after + valid_for);

            let run = handshake(server.addr().port(), tls.ca_path(), "localhost").await;
            assert!(run.ok, "{}", run.output);
            let served = presented_cert(&run);
            // `-checkend N` fails when the certificate expires within N seconds.
            let left = tls
                .not_after()
                .duration_since(std::time::SystemTime::now())
                .unwrap()
                .as_secs();
            let within = |secs: u64| {
                let secs = secs.to_string();
                let served = served.clone();
                async move {
                    let run =
                        openssl(&["x509", "-noout", "-checkend", &secs], served.as_bytes()).await;
                    !run.ok
                }
            };
            assert!(!within(left - 60).await, "expires more than a minute early");
            assert!(within(left + 60).await, "expires more than a minute late");
            assert!(!within(2 * DAY).await && within(4 * DAY).await);
        },
    )
    .await
}

#[tokio::test]
async fn a_zero_lifetime_makes_a_certificate_clients_see_as_expired() {
    bounded(
        "a_zero_lifetime_makes_a_certificate_clients_see_as_expired",
        TEST_TIMEOUT,
        async {
            let server = TestServer::builder()
                .tls_valid_for(Duration::ZERO)
                .start()
                .await
                .unwrap();
            let tls = server.tls().unwrap();
            assert!(tls.not_after() <= std::time::SystemTime::now());
            let port = server.addr().port();
            // Expired once the clock is past its last second.
            let expired = eventually("the certificate is expired", TEST_TIMEOUT, || async {
                let run = handshake(port, tls.ca_path(), "localhost").await;
                (!run.ok).then_some(run)
            })
            .await;
            assert!(
                expired.output.contains("certificate has expired"),
                "{}",
                expired.output
            );
        },
    )
    .await
}

#[tokio::test]
async fn the_fault_proxy_forwards_the_tls_handshake() {
    bounded(
        "the_fault_proxy_forwards_the_tls_handshake",
        TEST_TIMEOUT,
        async {
            let server = TestServer::builder().tls().start().await.unwrap();
            let tls = server.tls().unwrap();
            let proxy = pool_runtime::testkit::FaultProxy::start(server.addr())
                .await
                .unwrap();
            let url = server.url_at(proxy.addr()).unwrap();
            let port: u16 = url
                .split_once("127.0.0.1:")
                .and_then(|(_, rest)| rest.split_once('/'))
                .and_then(|(port, _)| port.parse().ok())
                .unwrap_or_else(|| panic!("no loopback port in {url}"));
            assert_eq!(port, proxy.addr().port());
            assert_ne!(port, server.addr().port());

            let through = handshake(port, tls.ca_path(), "localhost").await;
            assert!(through.ok, "{}", through.output);
            assert_eq!(
                presented_cert(&through),
                std::fs::read_to_string(tls.server_cert_path()).unwrap()
            );
            let untrusted = handshake(port, tls.other_ca_path(), "localhost").await;
            assert!(!untrusted.ok, "{}", untrusted.output);
        },
    )
    .await
}

/// `t` as OpenSSL prints a certificate time (`Dec  5 00:32:33 2026 GMT`),
/// which is how MariaDB reports `Ssl_server_not_after`.
fn openssl_time(t: std::time::SystemTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (days, rest) = (secs / 86400, secs % 86400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {day:>2} {:02}:{:02}:{:02} {year} GMT",
        MONTHS[(month - 1) as usize],
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[test]
fn openssl_time_formats_as_openssl_does() {
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_796_430_753);
    assert_eq!(openssl_time(t), "Dec  5 00:32:33 2026 GMT");
    let leap = std::time::UNIX_EPOCH + Duration::from_secs(951_782_400);
    assert_eq!(openssl_time(leap), "Feb 29 00:00:00 2000 GMT");
}

#[tokio::test]
async fn the_server_reports_the_expiry_in_ssl_server_not_after_on_tls_sessions_only() {
    bounded(
        "the_server_reports_the_expiry_in_ssl_server_not_after_on_tls_sessions_only",
        TEST_TIMEOUT,
        async {
            let server = TestServer::builder()
                .tls_valid_for(Duration::from_secs(3 * 86400))
                .start()
                .await
                .unwrap();
            let tls = server.tls().unwrap();
            let port = server.addr().port().to_string();
            // A verifying TLS session by the mariadb client (the crate's own
            // driver is built without TLS).
            let query = "SHOW STATUS LIKE 'Ssl_server_not_after'";
            let client = tokio::process::Command::new("mariadb")
                .args([
                    "--no-defaults",
                    "-h127.0.0.1",
                    "-P",
                    &port,
                    "-uroot",
                    "-N",
                    "-B",
                ])
                .arg(format!("--ssl-ca={}", tls.ca_path().display()))
                .args(["--ssl-verify-server-cert", "-e", query])
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true)
                .output();
            let out = tokio::time::timeout(OPENSSL, client)
                .await
                .expect("the mariadb client finishes in time")
                .expect("the mariadb client runs (apt-get install -y mariadb-client)");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected = format!("Ssl_server_not_after\t{}", openssl_time(tls.not_after()));
            assert_eq!(text.trim_end(), expected);

            // Not on the kit's session (the Unix socket, no TLS), not even GLOBAL.
            let mut admin = server.conn().await.unwrap();
            for scope in ["", "GLOBAL "] {
                let row: Option<(String, String)> = admin
                    .query_first(format!("SHOW {scope}STATUS LIKE 'Ssl_server_not_after'"))
                    .await
                    .unwrap();
                assert_eq!(row.unwrap().1, "", "{scope}");
            }
        },
    )
    .await
}
