//! TLS to a real throwaway server with a CA made at test time: verified
//! connects, each way verification fails, `preferred`, secure transport
//! required by the server, the incident over TLS and the exec path's
//! classification over TLS.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{TEST_TIMEOUT, bounded};
use pool_runtime::boot::{Code, Severity};
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::testkit::{Fault, FaultProxy, TestServer};
use pool_runtime::{BootError, ErrorKind, Pool, PoolOptions, SslMode, TlsErrorKind};

/// The password of the account the tests connect with: never in an error.
const PASSWORD: &str = "tls-pw-5f4d3c2b1a";

async fn tls_server() -> TestServer {
    TestServer::builder()
        .tls()
        .start()
        .await
        .expect("TLS test server")
}

/// A URL for `addr` with an account that has a password.
async fn url_with_password(server: &TestServer, addr: std::net::SocketAddr) -> String {
    let mut admin = server.conn().await.expect("admin session");
    admin
        .query_drop(format!(
            "CREATE USER IF NOT EXISTS 'tlsuser'@'%' IDENTIFIED BY '{PASSWORD}'"
        ))
        .await
        .unwrap();
    admin
        .query_drop("GRANT ALL ON *.* TO 'tlsuser'@'%'")
        .await
        .unwrap();
    format!(
        "mysql://tlsuser:{PASSWORD}@{}:{}/test?prefer_socket=false",
        addr.ip(),
        addr.port()
    )
}

fn verified(url: &str, ca: &std::path::Path) -> PoolOptions {
    let mut o = PoolOptions::from_url(url).unwrap();
    o.ssl_mode = SslMode::VerifyIdentity;
    o.ssl_ca = Some(ca.to_path_buf());
    o
}

async fn session_cipher(pool: &Pool) -> String {
    let mut conn = pool.get().await.expect("acquire");
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .expect("Ssl_cipher");
    row.expect("an Ssl_cipher row").1
}

/// The failed connect's error, with the password nowhere in it.
fn refused(result: Result<Pool, BootError>) -> BootError {
    let error = match result {
        Ok(_) => panic!("connect() should have failed"),
        Err(e) => e,
    };
    let mut text = format!("{error} {error:?}");
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        text.push_str(&format!(" {s}"));
        source = s.source();
    }
    assert!(!text.contains(PASSWORD), "the password shows: {text}");
    error
}

/// The kind of a TLS connect error; any other error fails the test.
fn tls_kind(error: &BootError) -> TlsErrorKind {
    match error {
        BootError::Tls(tls_error) => tls_error.kind,
        other => panic!("not a TLS error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_identity_with_the_test_ca_connects_over_tls_and_the_report_says_so() {
    bounded("verify_identity connects", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let pool = Pool::builder(verified(&url, tls.ca_path()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let cipher = session_cipher(&pool).await;
        assert!(!cipher.is_empty(), "a pooled connection without TLS");
        let report = pool.boot_report();
        let facts = &report.facts.tls;
        assert!(
            facts
                .version
                .as_deref()
                .is_some_and(|v| v.starts_with("TLSv1.")),
            "{facts:?}"
        );
        assert_eq!(facts.cipher.as_deref(), Some(cipher.as_str()));
        let shown = report.to_string();
        assert!(shown.contains(&cipher), "{shown}");
        assert!(shown.contains(facts.version.as_deref().unwrap()), "{shown}");
        pool.close().await;

        // The same through the URL, as sqlx and the mysql client write it.
        let url = format!(
            "{url}&ssl-mode=VERIFY_IDENTITY&ssl-ca={}",
            tls.ca_path().display()
        );
        let pool = Pool::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(!session_cipher(&pool).await.is_empty());
        pool.close().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_that_did_not_sign_the_certificate_is_refused_naming_the_ca_file() {
    bounded("untrusted CA", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let error = refused(
            Pool::builder(verified(&url, tls.other_ca_path()))
                .connect()
                .await,
        );
        assert_eq!(tls_kind(&error), TlsErrorKind::Untrusted, "{error}");
        let text = error.to_string();
        assert!(text.contains("ssl_ca"), "{text}");
        assert!(
            text.contains(&tls.other_ca_path().display().to_string()),
            "{text}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_tls_server_name_is_refused_naming_the_name_checked() {
    bounded("wrong server name", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let mut o = verified(&url, tls.ca_path());
        o.tls_server_name = Some("db.wrong.example".into());
        let error = refused(Pool::builder(o).connect().await);
        assert_eq!(tls_kind(&error), TlsErrorKind::NameMismatch, "{error}");
        let text = error.to_string();
        assert!(text.contains("db.wrong.example"), "{text}");
        assert!(text.contains("tls_server_name"), "{text}");

        // The name the certificate does carry, given by tls_server_name while
        // connecting by IP, verifies.
        let mut o = verified(&url, tls.ca_path());
        o.tls_server_name = Some(tls.server_name().to_owned());
        let pool = Pool::builder(o)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!session_cipher(&pool).await.is_empty());
        pool.close().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_against_a_server_without_tls_is_refused_never_downgraded() {
    bounded("required without TLS", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let mut o = PoolOptions::from_url(&url).unwrap();
        o.ssl_mode = SslMode::Required;
        let error = refused(Pool::builder(o).connect().await);
        assert_eq!(tls_kind(&error), TlsErrorKind::NotOffered, "{error}");
        let text = error.to_string();
        assert!(text.contains("ssl_mode"), "{text}");
        assert!(text.contains("does not offer"), "{text}");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preferred_uses_tls_where_offered_and_plaintext_where_not_and_says_which() {
    bounded("preferred", TEST_TIMEOUT, async {
        let plain = TestServer::start().await.unwrap();
        let o = PoolOptions::from_url(plain.url()).unwrap();
        assert_eq!(o.ssl_mode, SslMode::Preferred, "the default");
        let pool = Pool::builder(o)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(session_cipher(&pool).await, "");
        let report = pool.boot_report();
        assert!(!report.facts.tls.encrypted());
        assert!(report.to_string().contains("plaintext"), "{report}");
        pool.close().await;

        let server = tls_server().await;
        let url = url_with_password(&server, server.addr()).await;
        let pool = Pool::builder(PoolOptions::from_url(&url).unwrap())
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!session_cipher(&pool).await.is_empty());
        assert!(pool.boot_report().facts.tls.encrypted());
        pool.close().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_transport_required_with_tls_disabled_is_refused_with_the_rules_code() {
    bounded("require_secure_transport", TEST_TIMEOUT, async {
        let server = TestServer::builder()
            .tls()
            .require_secure_transport()
            .start()
            .await
            .expect("TLS test server requiring secure transport");
        let url = url_with_password(&server, server.addr()).await;
        let mut o = PoolOptions::from_url(&url).unwrap();
        o.ssl_mode = SslMode::Disabled;
        let error = refused(Pool::builder(o).connect().await);
        assert_eq!(
            error.code(),
            Some(Code::TlsDisabledButRequired),
            "{error:?}"
        );
        assert!(error.to_string().contains("ssl_mode"), "{error}");

        // With TLS it connects, and the fact is read.
        let tls = server.tls().unwrap();
        let pool = Pool::builder(verified(&url, tls.ca_path()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            pool.boot_report().facts.tls.require_secure_transport,
            Some(true)
        );
        pool.close().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_expiring_within_two_weeks_is_a_warning() {
    bounded("certificate expiry", TEST_TIMEOUT, async {
        let server = TestServer::builder()
            .tls()
            .tls_valid_for(Duration::from_secs(3 * 86_400))
            .start()
            .await
            .expect("TLS test server");
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let pool = Pool::builder(verified(&url, tls.ca_path()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let report = pool.boot_report().clone();
        pool.close().await;
        let finding = report
            .findings
            .iter()
            .find(|f| f.code == Code::TlsCertExpiresSoon)
            .unwrap_or_else(|| panic!("no expiry warning in\n{report}"));
        assert_eq!(finding.severity, Severity::Warning);
        assert!(finding.why.contains("day"), "{}", finding.why);
        assert!(
            report.facts.tls.server_not_after.is_some(),
            "{:?}",
            report.facts.tls
        );

        // A certificate good for longer gives no such warning.
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let pool = Pool::builder(verified(&url, tls.ca_path()))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let report = pool.boot_report().clone();
        pool.close().await;
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.code != Code::TlsCertExpiresSoon),
            "{report}"
        );
    })
    .await
}

/// How a pool's connections die in the incident scenario.
#[derive(Debug, Clone, Copy)]
enum Death {
    ServerKill,
    Proxy(Fault),
}

/// Ten TLS connections, all killed one way, then ten concurrent reads after
/// the validation window: every read succeeds, on a new connection.
async fn burst_over_tls_after(death: Death) {
    let server = tls_server().await;
    let tls = server.tls().unwrap();
    let proxy = FaultProxy::start(server.addr()).await.expect("fault proxy");
    let url = url_with_password(&server, proxy.addr()).await;
    let mut o = verified(&url, tls.ca_path());
    o.max_open = 10;
    o.max_idle = 10;
    let pool = Pool::builder(o)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let mut held = Vec::new();
    for _ in 0..10 {
        held.push(pool.get().await.expect("acquire"));
    }
    let dead: BTreeSet<u32> = held.iter().map(|c| c.id()).collect();
    drop(held);
    match death {
        Death::ServerKill => {
            server.kill_all_client_connections().await.unwrap();
        }
        Death::Proxy(fault) => {
            proxy.inject(fault);
            assert_eq!(proxy.faulted(), 10, "{death:?}");
        }
    }
    // The scenario: idle past the validation bypass window, so that the pool
    // pings before handing a connection out.
    tokio::time::sleep(pool.options().validate_after_idle + Duration::from_millis(100)).await;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.map_err(|e| format!("get: {e}"))?;
            let one: Option<i64> = conn
                .query_first("SELECT 1")
                .await
                .map_err(|e| format!("SELECT 1: {e}"))?;
            let cipher: Option<(String, String)> = conn
                .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
                .await
                .map_err(|e| format!("Ssl_cipher: {e}"))?;
            Ok::<_, String>((one, cipher.map(|c| c.1), conn.id(), conn))
        }));
    }
    let mut ids = BTreeSet::new();
    let mut held = Vec::new();
    for task in tasks {
        let (one, cipher, id, conn) = task
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{death:?}: {e}"));
        assert_eq!(one, Some(1));
        assert!(
            cipher.is_some_and(|c| !c.is_empty()),
            "{death:?}: a replacement without TLS"
        );
        ids.insert(id);
        held.push(conn);
    }
    eprintln!("TLS burst of 10 after {death:?}: {:?}", started.elapsed());
    assert_eq!(ids.len(), 10, "{death:?}: 10 of 10 on distinct connections");
    assert!(
        ids.is_disjoint(&dead),
        "{death:?}: a dead connection was handed out"
    );
    drop(held);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_incident_over_tls_ten_of_ten_succeed_after_every_death() {
    bounded("the incident over TLS", TEST_TIMEOUT, async {
        for death in [
            Death::ServerKill,
            Death::Proxy(Fault::Fin),
            Death::Proxy(Fault::Reset),
            Death::Proxy(Fault::Blackhole),
        ] {
            burst_over_tls_after(death).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_cut_off_after_it_reached_the_server_is_maybe_executed_and_never_resent() {
    bounded("exec classification over TLS", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let proxy = FaultProxy::start(server.addr()).await.expect("fault proxy");
        let url = url_with_password(&server, proxy.addr()).await;
        let mut admin = server.conn().await.unwrap();
        admin
            .query_drop("CREATE TABLE test.t (k INT, conn BIGINT)")
            .await
            .unwrap();
        for (key, fault) in [(1, Fault::ResetBeforeReply), (2, Fault::FinBeforeReply)] {
            let mut o = verified(&url, tls.ca_path());
            o.max_open = 1;
            o.max_idle = 1;
            o.validate_after_idle = Duration::from_secs(3600);
            let pool = Pool::builder(o)
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            {
                let mut conn = pool.get().await.unwrap();
                let _: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
            }
            let conns = proxy.connections();
            let last = *conns.last().expect("a proxied connection");
            assert!(proxy.inject_on(last, fault), "{fault:?}");
            let before = proxy.opened();
            let result = pool
                .exec(
                    &format!("INSERT INTO test.t VALUES ({key}, CONNECTION_ID())"),
                    (),
                )
                .await;
            let rows: Option<i64> = admin
                .query_first(format!("SELECT COUNT(*) FROM test.t WHERE k = {key}"))
                .await
                .unwrap();
            let stats = pool.stats();
            // The write reached the server, then the connection broke
            // (a reset, or a close without TLS close_notify) before the
            // reply: it may have run, so it is reported, never re-sent.
            let error = result.expect_err("a cut-off write cannot succeed");
            assert!(
                matches!(error.kind(), ErrorKind::MaybeExecuted { .. }),
                "{fault:?}: {error:?}"
            );
            assert_eq!(rows, Some(1), "{fault:?}: the write ran once");
            assert_eq!(proxy.opened(), before, "{fault:?}: never re-sent");
            assert_eq!(stats.maybe_executed, 1, "{fault:?}: {stats:?}");
            pool.close().await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_identity_connects_and_a_key_that_is_not_the_certificates_is_refused_unshown() {
    bounded("client identity", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let mut o = verified(&url, tls.ca_path());
        o.ssl_cert = Some(tls.client_cert_path().to_path_buf());
        o.ssl_key = Some(tls.client_key_path().to_path_buf());
        let pool = Pool::builder(o.clone())
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!session_cipher(&pool).await.is_empty());
        pool.close().await;

        // The server's certificate with the client's key: refused before any
        // connect, naming ssl_key, showing nothing of the key.
        o.ssl_cert = Some(tls.server_cert_path().to_path_buf());
        let error = refused(Pool::builder(o).connect().await);
        let BootError::TlsConfig(config) = &error else {
            panic!("not a TLS config error: {error:?}");
        };
        assert_eq!(config.key, "ssl_key", "{error}");
        let text = format!("{error} {error:?} {config}");
        assert!(text.contains("is not the key of the certificate"), "{text}");
        let key = std::fs::read_to_string(tls.client_key_path()).unwrap();
        for line in key.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!text.contains(line), "the key's contents show: {text}");
        }

        // A certificate without its key.
        let mut o = verified(&url, tls.ca_path());
        o.ssl_cert = Some(tls.client_cert_path().to_path_buf());
        let error = refused(Pool::builder(o).connect().await);
        assert!(
            matches!(&error, BootError::TlsConfig(c) if c.key == "ssl_cert"),
            "{error:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_ca_connects_with_the_ca_and_refuses_another() {
    bounded("verify_ca", TEST_TIMEOUT, async {
        let server = tls_server().await;
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let mut o = verified(&url, tls.ca_path());
        o.ssl_mode = SslMode::VerifyCa;
        // Not asserted: that a wrong name passes. mysql_async 0.37.1 skips
        // the name check by matching "NotValidForName" in rustls' message,
        // which rustls 0.23.46 no longer writes: verify_ca checks the name
        // too (stricter, never weaker). See the NameMismatch explanation.
        let pool = Pool::builder(o.clone())
            .connect()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!session_cipher(&pool).await.is_empty());
        pool.close().await;

        o.ssl_ca = Some(tls.other_ca_path().to_path_buf());
        let error = refused(Pool::builder(o).connect().await);
        assert!(
            matches!(&error, BootError::Tls(t) if t.kind == TlsErrorKind::Untrusted),
            "{error:?}"
        );
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_server_certificate_is_refused_as_expired() {
    bounded("expired certificate", TEST_TIMEOUT, async {
        // A certificate whose lifetime ended a second after the server
        // started: the server still serves it, a verifying client must not
        // accept it.
        let server = TestServer::builder()
            .tls_valid_for(Duration::ZERO)
            .start()
            .await
            .expect("TLS test server with an expired certificate");
        let tls = server.tls().unwrap();
        let url = url_with_password(&server, server.addr()).await;
        let expired_at = tls.not_after();
        common::eventually("the certificate expires", TEST_TIMEOUT, || async {
            (std::time::SystemTime::now() > expired_at + Duration::from_secs(1)).then_some(())
        })
        .await;
        let error = refused(Pool::builder(verified(&url, tls.ca_path())).connect().await);
        assert_eq!(tls_kind(&error), TlsErrorKind::Expired, "{error}");
    })
    .await
}
