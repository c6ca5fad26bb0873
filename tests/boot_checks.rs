//! Boot checks against throwaway servers set to each bad condition.

#![allow(clippy::result_large_err)]

mod common;
use common::{Captured, TEST_TIMEOUT, bounded, eventually};
use std::io::Write;

use std::time::{Duration, Instant};

use pool_runtime::boot::{Action, BootPolicy, Code, Policy, Report, Severity};
use pool_runtime::config::{Source, Yaml};
use pool_runtime::figment::providers::Format;
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::testkit::TestServer;
use pool_runtime::{BootError, Pool, PoolConfig, PoolOptions};

fn options(url: &str) -> PoolOptions {
    PoolOptions::from_url(url).unwrap()
}

fn rejected(result: Result<Pool, BootError>) -> Report {
    match result {
        Err(BootError::Rejected(report)) => *report,
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(pool) => panic!(
            "expected a rejection, the pool started: {:?}",
            pool.boot_report()
        ),
    }
}

fn finding(report: &Report, code: Code) -> &pool_runtime::boot::Finding {
    report
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code} finding in\n{report}"))
}

#[tokio::test]
async fn a_config_that_fits_passes_and_the_pool_works() {
    bounded(
        "a_config_that_fits_passes_and_the_pool_works",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            let pool = Pool::builder(options(server.url()))
                .connect()
                .await
                .unwrap();
            let report = pool.boot_report();
            assert!(report.findings.is_empty(), "{report}");
            assert_eq!(report.facts.session_wait_timeout, 28800);
            assert!(report.facts.version.contains("MariaDB"));
            let one: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
            assert_eq!(one, Some(1));
            // The boot connection joined the pool instead of being thrown away.
            assert_eq!(pool.stats().connections_created, 1);
        },
    )
    .await
}

#[tokio::test]
async fn wait_timeout_below_the_idle_bound_is_refused_with_key_source_fact_and_fix() {
    bounded(
        "wait_timeout_below_the_idle_bound_is_refused_with_key_source_fact_and_fix",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("wait_timeout", 30).await.unwrap();
            let mut o = options(server.url());
            o.max_idle_time = Some(Duration::from_secs(60));

            let report = rejected(Pool::builder(o).connect().await);
            let f = finding(&report, Code::IdleBound);
            assert_eq!((f.key, f.value.as_str()), ("max_idle_time", "60s"));
            assert_eq!(f.severity, Severity::Error);
            assert_eq!(f.source, Source::Code);
            assert_eq!(f.fact.as_deref(), Some("wait_timeout = 30 s (session)"));
            // 30 s, minus a 3 s margin, minus the 1 s maintenance tick.
            assert!(f.fix.contains("at most 26s"), "{}", f.fix);
            assert_eq!(f.action, Action::Denied);
            let table = report.to_string();
            assert!(table.starts_with("pool boot check against"), "{table}");
            assert!(table.contains("REJECTED"), "{table}");
        },
    )
    .await
}

/// The incident's config, from a YAML file.
#[derive(PoolConfig)]
struct IncidentConfig {
    url: String,
    max_open: u32,
    max_idle: u32,
    max_lifetime: Duration,
    max_idle_time: Option<Duration>,
    #[pool(default = "1s")]
    maintenance_interval: Duration,
    #[pool(default = "deny")]
    on_violation: BootPolicy,
}

fn incident_yaml(dir: &std::path::Path, url: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("db.yaml");
    let mut file = std::fs::File::create(&path).unwrap();
    write!(
        file,
        "url: {url}\nmax_open: 10\nmax_idle: 10\nmax_lifetime: 600s\nmax_idle_time: off\n{extra}"
    )
    .unwrap();
    path
}

fn load(path: &std::path::Path) -> pool_runtime::Loaded<IncidentConfig> {
    let defaults = IncidentConfig::figment().unwrap();
    IncidentConfig::load_from(defaults.merge(Yaml::file_exact(path))).unwrap()
}

#[tokio::test]
async fn the_incident_is_refused_at_boot_naming_the_yaml_key_the_server_value_and_a_safe_value() {
    bounded(
        "the_incident_is_refused_at_boot_naming_the_yaml_key_the_server_value_and_a_safe_value",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("wait_timeout", 500).await.unwrap();
            let dir = tempfile_dir();
            let path = incident_yaml(dir.path(), server.url(), "");

            let report = rejected(load(&path).connect().await);
            let f = finding(&report, Code::IdleBound);
            assert_eq!((f.key, f.value.as_str()), ("max_lifetime", "600s"));
            assert_eq!(
                f.source,
                Source::File {
                    path: path.clone(),
                    key: "max_lifetime".into()
                }
            );
            let table = report.to_string();
            for needle in [
                path.display().to_string().as_str(),
                "max_lifetime",
                "500",
                "449s",
            ] {
                assert!(table.contains(needle), "`{needle}` missing from:\n{table}");
            }
            eprintln!("{table}");

            let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
            assert_eq!(json["findings"][0]["code"], "idle_bound");
            assert_eq!(json["findings"][0]["action"], "denied");
            assert_eq!(json["facts"]["session_wait_timeout"], 500);
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_fix_policy_the_incident_pool_starts_clamped_and_survives_the_incident() {
    bounded(
        "with_the_fix_policy_the_incident_pool_starts_clamped_and_survives_the_incident",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("wait_timeout", 2).await.unwrap();
            let dir = tempfile_dir();
            let path = incident_yaml(
                dir.path(),
                server.url(),
                "maintenance_interval: 200ms\non_violation: fix\n",
            );

            let pool = load(&path).connect().await.unwrap();
            let f = finding(pool.boot_report(), Code::IdleBound);
            // 2 s, minus a 1 s margin, minus the 200 ms tick.
            assert_eq!(
                f.action,
                Action::Fixed {
                    to: "max_idle_time = 800ms".into()
                }
            );
            assert_eq!(
                pool.options().max_idle_time,
                Some(Duration::from_millis(800))
            );

            // The exec-path incident: 10 concurrent queries, the pool idle past
            // the server's wait_timeout, 10 more.
            let aborted_before = aborted_clients(&server).await;
            let mut ok = round_of_ten(&pool).await;
            // The pool retires its idle connections itself (no sleep: wait for
            // it), and the server ends none of them: it saw each one quit.
            eventually(
                "the pool retires its idle connections",
                TEST_TIMEOUT,
                || async { (pool.stats().max_idle_time_closed >= 10).then_some(()) },
            )
            .await;
            eventually(
                "the server sees the pool's connections gone",
                TEST_TIMEOUT,
                || async { (server.client_connections().await.unwrap() == 0).then_some(()) },
            )
            .await;
            assert_eq!(
                aborted_clients(&server).await,
                aborted_before,
                "the server ended idle connections before the pool retired them"
            );
            ok += round_of_ten(&pool).await;
            assert_eq!(ok, 20);
            let stats = pool.stats();
            // The second round ran on new connections: none needed rescuing.
            assert!(stats.max_idle_time_closed >= 10, "{stats:?}");
            assert_eq!(stats.validation_failed, 0, "{stats:?}");
        },
    )
    .await
}

/// The boot check's log line for `code` names the key, the value it had
/// and the value the pool runs with.
#[track_caller]
fn assert_fix_logged(log: &str, code: Code, key: &str, old: &str, new: &str) {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("code={code} ")))
        .unwrap_or_else(|| panic!("no log line for {code}:\n{log}"));
    for needle in [
        format!("key=\"{key}\""),
        format!("value={old} "),
        format!("Fixed {{ to: \"{new}\" }}"),
    ] {
        assert!(
            line.contains(needle.as_str()),
            "`{needle}` missing from the log line:\n{line}"
        );
    }
}

/// 10 concurrent queries; how many returned their row.
async fn round_of_ten(pool: &Pool) -> usize {
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.query_first::<i64>("SELECT 1 + SLEEP(0.05)", ()).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(matches!(task.await.unwrap(), Ok(Some(1))));
    }
    ok
}

/// The server's count of sessions it ended without the client quitting (a
/// `wait_timeout` kill among them), on a fresh session: an idle one would
/// itself be ended under a short `wait_timeout`.
async fn aborted_clients(server: &TestServer) -> u64 {
    let mut conn = server.conn().await.unwrap();
    let (_, n): (String, u64) = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")
        .await
        .unwrap()
        .unwrap();
    conn.disconnect().await.unwrap();
    n
}

#[tokio::test]
async fn max_connections_too_small_for_the_fleet_is_refused() {
    bounded(
        "max_connections_too_small_for_the_fleet_is_refused",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("max_connections", 10).await.unwrap();
            let mut o = options(server.url());
            o.max_open = 4;
            o.instances = 3;

            let report = rejected(Pool::builder(o).connect().await);
            let f = finding(&report, Code::FleetAboveMaxConnections);
            assert_eq!(f.fact.as_deref(), Some("max_connections = 10"));
            assert!(f.why.contains("4 × 3 instances = 12"), "{}", f.why);
            assert!(f.fix.contains("at most 3"), "{}", f.fix);
        },
    )
    .await
}

#[tokio::test]
async fn a_fleet_above_the_free_connections_is_a_warning_and_the_pool_starts() {
    bounded(
        "a_fleet_above_the_free_connections_is_a_warning_and_the_pool_starts",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            server.set_global("max_connections", 10).await.unwrap();
            let mut others = Vec::new();
            for _ in 0..6 {
                others.push(server.conn().await.unwrap());
            }
            let mut o = options(server.url());
            o.max_open = 8;

            let pool = Pool::builder(o).connect().await.unwrap();
            let f = finding(pool.boot_report(), Code::FleetAboveFreeConnections);
            assert_eq!(
                (f.severity, &f.action),
                (Severity::Warning, &Action::Warned)
            );
            assert!(
                f.fact
                    .as_deref()
                    .unwrap()
                    .contains("6 in use by other clients"),
                "{f:?}"
            );
        },
    )
    .await
}

#[tokio::test]
async fn an_account_with_its_own_connection_limit_is_refused() {
    bounded("an_account_with_its_own_connection_limit_is_refused", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        let mut admin = server.conn().await.unwrap();
        admin
            .query_drop(
                "CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pass' WITH MAX_USER_CONNECTIONS 3",
            )
            .await
            .unwrap();
        admin
            .query_drop("GRANT ALL ON test.* TO 'app'@'127.0.0.1'")
            .await
            .unwrap();
        let port = server.addr().port();
        let mut o = options(&format!(
            "mysql://app:app-pass@127.0.0.1:{port}/test?prefer_socket=false"
        ));
        o.max_open = 5;

        let report = rejected(Pool::builder(o.clone()).connect().await);
        let f = finding(&report, Code::FleetAboveAccountLimit);
        assert_eq!(
            f.fact.as_deref(),
            Some("max_user_connections = 3 (the account's own MAX_USER_CONNECTIONS)")
        );
        assert!(report.facts.account_has_own_limit);
        assert!(!report.to_string().contains("app-pass"));

        // Under `fix`, the pool starts within the account's limit.
        let captured = Captured::default();
        let guard = captured.install();
        let pool = Pool::builder(o)
            .on_violation(BootPolicy::all(Policy::Fix))
            .connect()
            .await
            .unwrap();
        drop(guard);
        assert_eq!(pool.options().max_open, 3);
        let log = captured.text();
        assert_fix_logged(&log, Code::FleetAboveAccountLimit, "max_open", "5", "max_open = 3");
        assert!(!log.contains("app-pass"), "{log}");
        pool.close().await;
    })
    .await
}

/// Runs only as the child of the open-file test, under a low `ulimit -n`.
#[tokio::test]
async fn child_boot_under_a_low_open_file_limit() {
    bounded(
        "child_boot_under_a_low_open_file_limit",
        TEST_TIMEOUT,
        async {
            let Ok(url) = std::env::var("POOL_BOOT_CHILD_URL") else {
                return;
            };
            let mut o = options(&url);
            o.max_open = 50;
            let result = Pool::builder(o.clone()).connect().await;
            let report = rejected(result);
            println!("CHILD-REPORT {}", report.to_json().replace('\n', " "));
            // Under `fix`, the pool starts with what the limit allows.
            let captured = Captured::default();
            let guard = captured.install();
            let pool = Pool::builder(o)
                .on_violation(BootPolicy::all(Policy::Fix))
                .connect()
                .await
                .unwrap();
            drop(guard);
            assert_fix_logged(
                &captured.text(),
                Code::MaxOpenAboveOpenFiles,
                "max_open",
                "50",
                "max_open = 36",
            );
            println!("CHILD-FIXED max_open={}", pool.options().max_open);
            pool.close().await;
        },
    )
    .await
}

#[tokio::test]
async fn a_low_open_file_limit_is_caught() {
    bounded("a_low_open_file_limit_is_caught", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        let me = std::env::current_exe().unwrap();
        // Killed if the test gives up on it (kill_on_drop): never a hang.
        let output = tokio::process::Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 100 && exec \"$0\" --exact child_boot_under_a_low_open_file_limit --nocapture --test-threads=1")
            .arg(&me)
            .env("POOL_BOOT_CHILD_URL", server.url())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("CHILD-REPORT ").map(|(_, json)| json))
            .unwrap_or_else(|| panic!("no report from the child:\n{stdout}"));
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        let f = json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "max_open_above_open_files")
            .unwrap_or_else(|| panic!("{json}"));
        assert_eq!(f["fact"], "open-file limit (RLIMIT_NOFILE) = 100");
        assert!(f["fix"].as_str().unwrap().contains("at most 36"), "{f}");
        assert!(stdout.contains("CHILD-FIXED max_open=36"), "{stdout}");
    })
    .await
}

#[tokio::test]
async fn a_wrong_password_names_host_and_user_but_never_the_password() {
    bounded(
        "a_wrong_password_names_host_and_user_but_never_the_password",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.unwrap();
            let mut admin = server.conn().await.unwrap();
            admin
                .query_drop("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'right-one'")
                .await
                .unwrap();
            let port = server.addr().port();
            let url = format!("mysql://app:Wr0ng-Pa55@127.0.0.1:{port}/test?prefer_socket=false");

            let err = Pool::builder(options(&url)).connect().await.unwrap_err();
            assert!(matches!(err, BootError::AccessDenied { .. }), "{err:?}");
            let text = format!("{err} {err:?}");
            assert!(
                text.contains(&format!("app@127.0.0.1:{port}/test")),
                "{text}"
            );
            assert!(text.contains("user `app`"), "{text}");
            assert!(!text.contains("Wr0ng-Pa55"), "{text}");
        },
    )
    .await
}

#[tokio::test]
async fn no_server_and_no_database_are_one_clear_error_each() {
    bounded("no_server_and_no_database_are_one_clear_error_each", TEST_TIMEOUT, async {
        let free_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("mysql://root:pw@127.0.0.1:{free_port}/test?prefer_socket=false");
        let started = Instant::now();
        let err = Pool::builder(options(&url)).connect().await.unwrap_err();
        // Unreachable, not ConnectTimeout: the refusal was reported as it
        // came, not after connect_timeout.
        assert!(matches!(err, BootError::Unreachable { .. }), "{err:?}");
        assert!(err.to_string().contains("connection refused"), "{err}");
        eprintln!("a refused connect failed after {:?}", started.elapsed());

        let mut o = options(&url);
        o.url = None;
        assert!(matches!(
            Pool::builder(o).connect().await,
            Err(BootError::MissingUrl)
        ));

        let server = TestServer::start().await.unwrap();
        let url = server.url().replace("/test?", "/nowhere?");
        let err = Pool::builder(options(&url)).connect().await.unwrap_err();
        assert!(
            matches!(err, BootError::UnknownDatabase { ref database, .. } if database == "nowhere"),
            "{err:?}"
        );
    })
    .await
}

#[tokio::test]
async fn a_connect_that_hangs_fails_within_connect_timeout() {
    bounded("a_connect_that_hangs_fails_within_connect_timeout", TEST_TIMEOUT, async {
        // A listener that never answers the MySQL greeting.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let mut o = options(&format!(
            "mysql://root@127.0.0.1:{port}/test?prefer_socket=false"
        ));
        o.connect_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let err = Pool::builder(o).connect().await.unwrap_err();
        let took = started.elapsed();
        eprintln!("a silent server failed the connect after {took:?}");
        assert!(
            matches!(err, BootError::ConnectTimeout { after, .. } if after == Duration::from_millis(300)),
            "{err:?}"
        );
        // The configured 300 ms governed, not the 10 s default: a bound
        // far below 10 s and far above 300 ms on a loaded machine.
        assert!(took < Duration::from_secs(5), "took {took:?}");
        drop(silent);
    })
    .await
}

#[tokio::test]
async fn per_code_policies_come_from_config() {
    bounded("per_code_policies_come_from_config", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        server.set_global("wait_timeout", 500).await.unwrap();
        let dir = tempfile_dir();
        let path = incident_yaml(
            dir.path(),
            server.url(),
            "on_violation: \"deny, idle_bound=warn\"\n",
        );
        let pool = load(&path).connect().await.unwrap();
        let f = finding(pool.boot_report(), Code::IdleBound);
        assert_eq!(f.action, Action::Warned);
        // From code, the builder's policy wins; the change is logged.
        let captured = Captured::default();
        let guard = captured.install();
        let pool = Pool::builder(load(&path).options())
            .on_violation(BootPolicy::all(Policy::Fix))
            .connect()
            .await
            .unwrap();
        drop(guard);
        assert_eq!(pool.options().max_idle_time, Some(Duration::from_secs(449)));
        assert_fix_logged(
            &captured.text(),
            Code::IdleBound,
            "max_lifetime",
            "600s",
            "max_idle_time = 449s",
        );
    })
    .await
}

/// The statements (`Query` rows of the general log) each session has sent,
/// read on `admin`: by session, so nothing another client sends can count.
async fn statements_by_session(
    admin: &mut pool_runtime::mysql_async::Conn,
) -> std::collections::BTreeMap<u64, Vec<String>> {
    let rows: Vec<(u64, String)> = admin
        .query(
            "SELECT thread_id, CONVERT(argument USING utf8mb4) FROM mysql.general_log \
             WHERE command_type = 'Query' ORDER BY event_time",
        )
        .await
        .unwrap();
    let mut by_session = std::collections::BTreeMap::<u64, Vec<String>>::new();
    for (session, statement) in rows {
        by_session.entry(session).or_default().push(statement);
    }
    by_session
}

/// The boot checks cost two statements (the limits with the read-only
/// variables, then `Threads_connected` with the TLS status; a primary-role
/// pool on a writable server does not ask for the replica status, a
/// replica-role pool does: one more) on the
/// connection the pool keeps: counted in the
/// server's general log for that session, against a plain driver connect
/// to the same server. Times are printed, not asserted.
#[tokio::test]
async fn boot_checks_send_two_statements_beyond_a_plain_connect() {
    bounded("boot_checks_send_two_statements", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        let url = server.url().to_owned();
        server.set_global("log_output", "TABLE").await.unwrap();
        server.set_global("general_log", 1).await.unwrap();

        let started = Instant::now();
        let conn = pool_runtime::mysql_async::Conn::from_url(&url)
            .await
            .unwrap();
        let plain_took = started.elapsed();
        let plain_session = u64::from(conn.id());
        conn.disconnect().await.unwrap();

        let started = Instant::now();
        let pool = Pool::builder(options(&url)).connect().await.unwrap();
        let pooled_took = started.elapsed();
        // Read before the pool is used: a checkout may validate.
        let mut admin = server.conn().await.unwrap();
        let log = statements_by_session(&mut admin).await;
        let pooled_session = u64::from(pool.get().await.unwrap().id());

        let count = |session| log.get(&session).map_or(0, Vec::len);
        let (plain, pooled) = (count(plain_session), count(pooled_session));
        eprintln!(
            "statements: plain connect {plain}, pool connect {pooled}; \
             time: plain {plain_took:?}, pool with boot checks {pooled_took:?}"
        );
        assert!(
            plain >= 1,
            "the plain connect's session is logged: {log:#?}"
        );
        assert_eq!(
            pooled,
            plain + 2,
            "the boot checks' statements, by session: {log:#?}"
        );
        // The boot connection is the pool's first: no second connect.
        assert_eq!(pool.stats().connections_created, 1);
        pool.close().await;

        // A replica-role pool asks one statement more: the replica status.
        let mut o = options(&url);
        o.role = pool_runtime::Role::Replica;
        let pool = Pool::builder(o).connect().await.unwrap();
        let log = statements_by_session(&mut admin).await;
        let session = u64::from(pool.get().await.unwrap().id());
        let sent = log.get(&session).cloned().unwrap_or_default();
        assert_eq!(sent.len(), plain + 3, "{sent:#?}");
        assert!(
            sent.last().is_some_and(|s| s.contains("REPLICA STATUS")),
            "{sent:#?}"
        );
        pool.close().await;
    })
    .await
}

#[tokio::test]
async fn facts_that_change_across_a_reconnect_are_logged() {
    bounded(
        "facts_that_change_across_a_reconnect_are_logged",
        TEST_TIMEOUT,
        async {
            let captured = Captured::default();
            let _guard = captured.install();

            let server = TestServer::start().await.unwrap();
            let mut o = options(server.url());
            o.max_idle_time = Some(Duration::from_secs(60));
            o.validate_after_idle = Duration::ZERO;
            let pool = Pool::builder(o).connect().await.unwrap();
            assert!(pool.boot_report().findings.is_empty());

            // What a restart with a new my.cnf does: sessions end, new ones get 30 s.
            server.set_global("wait_timeout", 30).await.unwrap();
            server.kill_all_client_connections().await.unwrap();
            let one: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
            assert_eq!(one, Some(1));

            let log = captured.text();
            assert!(log.contains("facts_changed"), "{log}");
            assert!(log.contains("rule=idle_bound"), "{log}");
            assert!(log.contains("wait_timeout = 30 s"), "{log}");
        },
    )
    .await
}

/// One finding the table expects: which code, on which key, how bad, the
/// value as the report shows it, and a piece of the fix.
struct Case {
    code: Code,
    key: &'static str,
    severity: Severity,
    value: &'static str,
    fix: &'static str,
    set: fn(&mut PoolOptions),
}

/// Codes whose trigger needs a setup of its own (an account, a low
/// `ulimit -n`, a server that changes), each proven by the test named.
const PROVEN_ELSEWHERE: &[(Code, &str)] = &[
    (
        Code::FleetAboveAccountLimit,
        "an_account_with_its_own_connection_limit_is_refused",
    ),
    (
        Code::MaxOpenAboveOpenFiles,
        "a_low_open_file_limit_is_caught",
    ),
    (
        Code::FactsChanged,
        "facts_that_change_across_a_reconnect_are_logged",
    ),
    // Credentials: tests/credentials.rs (refused before any connect).
    (
        Code::CleartextPasswordWithoutTls,
        "cleartext_auth_without_verified_tls_is_refused_at_boot_with_its_code",
    ),
    // TLS: tests/tls.rs, against a TLS test server.
    (
        Code::TlsDisabledButRequired,
        "secure_transport_required_with_tls_disabled_is_refused_with_the_rules_code",
    ),
    (
        Code::TlsCertExpiresSoon,
        "a_certificate_expiring_within_two_weeks_is_a_warning",
    ),
    // The role against read_only: tests/read_only.rs, on a server of its
    // own set read-only (the shared one must stay writable).
    (
        Code::PrimaryIsReadOnly,
        "a_primary_pool_on_a_read_only_server_is_refused_at_boot_and_a_replica_pool_on_a_writable_one_warned",
    ),
    (
        Code::ReplicaIsWritable,
        "a_primary_pool_on_a_read_only_server_is_refused_at_boot_and_a_replica_pool_on_a_writable_one_warned",
    ),
    // A writable replica: tests/replica_facts.rs, over real replication.
    (
        Code::PrimaryIsReplica,
        "a_primary_pool_on_a_writable_replica_is_warned_with_its_code",
    ),
    // Need a host that is not loopback, which the test kit cannot give:
    // the rule's unit tests in pool-runtime/src/boot/rules.rs.
    (
        Code::TlsPlaintextRemote,
        "plaintext_to_a_remote_host_warns_and_loopback_does_not",
    ),
    (
        Code::TlsUnverifiedRemote,
        "required_without_verification_to_a_remote_host_warns",
    ),
];

fn cases() -> Vec<Case> {
    vec![
        Case {
            code: Code::IdleBound,
            key: "max_idle_time",
            severity: Severity::Error,
            value: "30000s",
            fix: "at most 25919s",
            set: |o| {
                o.max_idle_time = Some(Duration::from_secs(30_000));
                o.max_lifetime = None;
            },
        },
        Case {
            code: Code::MaxIdleAboveMaxOpen,
            key: "max_idle",
            severity: Severity::Warning,
            value: "5",
            fix: "set max_idle to at most 2",
            set: |o| {
                o.max_open = 2;
                o.max_idle = 5;
            },
        },
        Case {
            code: Code::MinIdleAboveMaxIdle,
            key: "min_idle",
            severity: Severity::Error,
            value: "3",
            fix: "set min_idle to at most 2",
            set: |o| {
                o.max_idle = 2;
                o.min_idle = 3;
            },
        },
        Case {
            code: Code::DurationNotPositive,
            key: "max_lifetime",
            severity: Severity::Error,
            value: "0s",
            fix: "give max_lifetime a positive duration",
            set: |o| o.max_lifetime = Some(Duration::ZERO),
        },
        Case {
            code: Code::ConnectTimeoutAboveAcquireTimeout,
            key: "connect_timeout",
            severity: Severity::Warning,
            value: "20s",
            fix: "set connect_timeout below 5s",
            set: |o| {
                o.connect_timeout = Duration::from_secs(20);
                o.acquire_timeout = Duration::from_secs(5);
            },
        },
        Case {
            code: Code::AcquireTimeoutTooLong,
            key: "acquire_timeout",
            severity: Severity::Warning,
            value: "660s",
            fix: "set acquire_timeout to seconds",
            set: |o| o.acquire_timeout = Duration::from_secs(660),
        },
        Case {
            code: Code::KeepaliveNotBelowLifetime,
            key: "keepalive_interval",
            severity: Severity::Warning,
            value: "600s",
            fix: "below max_lifetime, e.g. 150s",
            set: |o| {
                o.keepalive_interval = Some(Duration::from_secs(600));
                o.max_lifetime = Some(Duration::from_secs(300));
            },
        },
        Case {
            code: Code::MaxOpenUnlimited,
            key: "max_open",
            severity: Severity::Warning,
            value: "0 (unlimited)",
            fix: "set max_open to the most connections",
            set: |o| o.max_open = 0,
        },
        Case {
            code: Code::FleetAboveMaxConnections,
            key: "max_open",
            severity: Severity::Error,
            value: "20",
            fix: "set max_open to at most 15",
            set: |o| o.max_open = 20,
        },
        Case {
            // 15 allowed, at least 2 held by others (see below): at most
            // 13 free.
            code: Code::FleetAboveFreeConnections,
            key: "max_open",
            severity: Severity::Warning,
            value: "14",
            fix: "or make room on the server",
            set: |o| o.max_open = 14,
        },
    ]
}

/// Every rule code is triggered at run time through `connect()` on a real
/// server: one server, one option set per code. Each finding names the
/// code, key, severity, value, source and fix, in the struct and in the
/// printed table; errors stop the pool, warnings let it start.
#[tokio::test]
async fn every_rule_code_is_reported_by_connect_with_key_value_source_and_fix() {
    bounded("every rule code", TEST_TIMEOUT, async {
        let cases = cases();
        let mut covered: Vec<Code> = cases.iter().map(|c| c.code).collect();
        covered.extend(PROVEN_ELSEWHERE.iter().map(|(code, _)| *code));
        covered.sort();
        covered.dedup();
        let mut all = Code::ALL.to_vec();
        all.sort();
        assert_eq!(covered, all, "a rule code without a run-time test");

        let server = TestServer::start().await.unwrap();
        server.set_global("max_connections", 15).await.unwrap();
        // Two other clients: the free-connections rule sees them.
        let _others = [server.conn().await.unwrap(), server.conn().await.unwrap()];
        for case in &cases {
            let mut o = options(server.url());
            (case.set)(&mut o);
            let result = Pool::builder(o).connect().await;
            let report = if case.severity == Severity::Error {
                rejected(result)
            } else {
                let pool = result.unwrap_or_else(|e| panic!("{}: {e}", case.code));
                let report = pool.boot_report().clone();
                pool.close().await;
                report
            };
            let f = finding(&report, case.code);
            let what = format!("{}:\n{report}", case.code);
            assert_eq!(f.key, case.key, "{what}");
            assert_eq!(f.severity, case.severity, "{what}");
            assert_eq!(f.value, case.value, "{what}");
            assert_eq!(f.source, Source::Code, "{what}");
            assert!(f.fix.contains(case.fix), "fix `{}` in {what}", case.fix);
            let action = match case.severity {
                Severity::Error => Action::Denied,
                Severity::Warning => Action::Warned,
            };
            assert_eq!(f.action, action, "{what}");
            let table = report.to_string();
            let row = table
                .lines()
                .find(|l| l.starts_with(case.code.as_str()) && l.contains(case.key))
                .unwrap_or_else(|| panic!("no table row in {what}"));
            for cell in [case.value, "code"] {
                assert!(row.contains(cell), "`{cell}` missing from the row `{row}`");
            }
            assert!(table.contains(&f.fix), "{what}");
        }
    })
    .await
}

/// A finding the `fix` policy repairs: the setting that is changed and how
/// the pool reads it back.
struct FixCase {
    code: Code,
    key: &'static str,
    old: &'static str,
    new: &'static str,
    set: fn(&mut PoolOptions),
    check: fn(&PoolOptions) -> bool,
}

fn fix_cases() -> Vec<FixCase> {
    vec![
        FixCase {
            code: Code::IdleBound,
            key: "max_idle_time",
            old: "30000s",
            new: "max_idle_time = 25919s",
            set: |o| {
                o.max_idle_time = Some(Duration::from_secs(30_000));
                o.max_lifetime = None;
            },
            check: |o| o.max_idle_time == Some(Duration::from_secs(25_919)),
        },
        FixCase {
            code: Code::MaxIdleAboveMaxOpen,
            key: "max_idle",
            old: "5",
            new: "max_idle = 2",
            set: |o| {
                o.max_open = 2;
                o.max_idle = 5;
            },
            check: |o| o.max_idle == 2,
        },
        FixCase {
            code: Code::MinIdleAboveMaxIdle,
            key: "min_idle",
            old: "3",
            new: "min_idle = 2",
            set: |o| {
                o.max_idle = 2;
                o.min_idle = 3;
            },
            check: |o| o.min_idle == 2,
        },
        FixCase {
            code: Code::KeepaliveNotBelowLifetime,
            key: "keepalive_interval",
            old: "600s",
            new: "keepalive_interval = 150s",
            set: |o| {
                o.keepalive_interval = Some(Duration::from_secs(600));
                o.max_lifetime = Some(Duration::from_secs(300));
            },
            check: |o| o.keepalive_interval == Some(Duration::from_secs(150)),
        },
        FixCase {
            code: Code::FleetAboveMaxConnections,
            key: "max_open",
            old: "20",
            new: "max_open = 15",
            set: |o| {
                o.max_open = 20;
                o.max_idle = 20;
            },
            // The idle cap follows the new max_open.
            check: |o| o.max_open == 15 && o.max_idle == 15,
        },
    ]
}

/// Under `fix`, every code that has a safe value starts the pool with that
/// value, and the log names the code, the key, the old value and the new.
/// (`fleet_above_account_limit` and `max_open_above_open_files` are fixed
/// in their own tests, which need an account and a low `ulimit -n`.)
#[tokio::test]
async fn the_fix_policy_starts_the_pool_with_the_safe_value_and_logs_the_change() {
    bounded("fix policy", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        server.set_global("max_connections", 15).await.unwrap();
        for case in fix_cases() {
            let captured = Captured::default();
            let guard = captured.install();
            let mut o = options(server.url());
            (case.set)(&mut o);
            let pool = Pool::builder(o)
                .on_violation(BootPolicy::all(Policy::Fix))
                .connect()
                .await
                .unwrap_or_else(|e| panic!("{}: the pool did not start: {e}", case.code));
            drop(guard);
            let f = finding(pool.boot_report(), case.code);
            assert_eq!(
                f.action,
                Action::Fixed {
                    to: case.new.into()
                },
                "{}",
                case.code
            );
            assert!(
                (case.check)(&pool.options()),
                "{}: the pool runs with {:?}",
                case.code,
                pool.options()
            );
            let one: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
            assert_eq!(one, Some(1));
            assert_fix_logged(&captured.text(), case.code, case.key, case.old, case.new);
            pool.close().await;
        }
    })
    .await
}

/// A server at its connection limit: `connect()` says so, naming the
/// server, instead of a generic refusal.
#[tokio::test]
async fn a_server_at_its_connection_limit_is_too_many_connections() {
    bounded("too many connections", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        let mut admin = server.conn().await.unwrap();
        // Not root: the server keeps one extra slot for SUPER accounts.
        admin
            .query_drop("CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY 'app-pass'")
            .await
            .unwrap();
        admin
            .query_drop("GRANT SELECT ON test.* TO 'app'@'127.0.0.1'")
            .await
            .unwrap();
        drop(admin);
        server.set_global("max_connections", 10).await.unwrap();
        let url = format!(
            "mysql://app:app-pass@127.0.0.1:{}/test?prefer_socket=false",
            server.addr().port()
        );
        // Hold every slot the server has.
        let mut held = Vec::new();
        let refusal = loop {
            assert!(held.len() <= 10, "max_connections = 10 was not enforced");
            match pool_runtime::mysql_async::Conn::from_url(&url).await {
                Ok(conn) => held.push(conn),
                Err(e) => break e,
            }
        };
        eprintln!("held {} connections, then: {refusal}", held.len());
        let err = Pool::builder(options(&url)).connect().await.unwrap_err();
        assert!(
            matches!(err, BootError::TooManyConnections { ref target, .. }
                if target == &format!("app@127.0.0.1:{}/test", server.addr().port())),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("too many connections"), "{text}");
        assert!(!format!("{err} {err:?}").contains("app-pass"), "{err:?}");

        // One slot free again (once the server has ended that session): the
        // same call starts the pool.
        held.pop().unwrap().disconnect().await.unwrap();
        let pool = eventually(
            "the pool starts in the freed slot",
            TEST_TIMEOUT,
            || async {
                match Pool::builder(options(&url)).connect().await {
                    Ok(pool) => Some(pool),
                    Err(BootError::TooManyConnections { .. }) => None,
                    Err(other) => panic!("{other:?}"),
                }
            },
        )
        .await;
        pool.close().await;
    })
    .await
}

/// `check()` judges a config as `connect()` would and hands back the
/// report, rejected or not, without keeping a pool or a connection.
#[tokio::test]
async fn check_returns_the_report_without_keeping_a_pool() {
    bounded("check", TEST_TIMEOUT, async {
        let server = TestServer::start().await.unwrap();
        server.set_global("wait_timeout", 500).await.unwrap();
        let dir = tempfile_dir();
        let path = incident_yaml(dir.path(), server.url(), "");

        let report = load(&path).check().await.unwrap();
        assert!(report.is_rejected(), "{report}");
        let f = finding(&report, Code::IdleBound);
        assert_eq!(
            f.source,
            Source::File {
                path: path.clone(),
                key: "max_lifetime".into()
            }
        );

        let mut fits = options(server.url());
        fits.max_idle_time = Some(Duration::from_secs(60));
        let report = Pool::builder(fits).check().await.unwrap();
        assert!(
            !report.is_rejected() && report.findings.is_empty(),
            "{report}"
        );

        eventually(
            "check() leaves no connection behind",
            TEST_TIMEOUT,
            || async { (server.client_connections().await.unwrap() == 0).then_some(()) },
        )
        .await;
    })
    .await
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
