//! Boot checks against throwaway servers set to each bad condition.

#![allow(clippy::result_large_err)]

mod common;
use common::Captured;
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
}

#[tokio::test]
async fn wait_timeout_below_the_idle_bound_is_refused_with_key_source_fact_and_fix() {
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_fix_policy_the_incident_pool_starts_clamped_and_survives_the_incident() {
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

    // The exec-path incident: 10 concurrent queries, 3 s idle, 10 more.
    let mut ok = 0;
    for round in 0..2 {
        if round == 1 {
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(
                    async move { pool.query_first::<i64>("SELECT 1 + SLEEP(0.05)", ()).await },
                )
            })
            .collect();
        for task in tasks {
            ok += usize::from(matches!(task.await.unwrap(), Ok(Some(1))));
        }
    }
    assert_eq!(ok, 20);
    let stats = pool.stats();
    // Retired before the server could kill them: none needed rescuing.
    assert!(stats.max_idle_time_closed >= 10, "{stats:?}");
    assert_eq!(stats.validation_failed, 0, "{stats:?}");
}

#[tokio::test]
async fn max_connections_too_small_for_the_fleet_is_refused() {
    let server = TestServer::start().await.unwrap();
    server.set_global("max_connections", 10).await.unwrap();
    let mut o = options(server.url());
    o.max_open = 4;
    o.replicas = 3;

    let report = rejected(Pool::builder(o).connect().await);
    let f = finding(&report, Code::FleetAboveMaxConnections);
    assert_eq!(f.fact.as_deref(), Some("max_connections = 10"));
    assert!(f.why.contains("4 × 3 replicas = 12"), "{}", f.why);
    assert!(f.fix.contains("at most 3"), "{}", f.fix);
}

#[tokio::test]
async fn a_fleet_above_the_free_connections_is_a_warning_and_the_pool_starts() {
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
}

#[tokio::test]
async fn an_account_with_its_own_connection_limit_is_refused() {
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

    let report = rejected(Pool::builder(o).connect().await);
    let f = finding(&report, Code::FleetAboveAccountLimit);
    assert_eq!(
        f.fact.as_deref(),
        Some("max_user_connections = 3 (the account's own MAX_USER_CONNECTIONS)")
    );
    assert!(report.facts.account_has_own_limit);
    assert!(!report.to_string().contains("app-pass"));
}

/// Runs only as the child of the open-file test, under a low `ulimit -n`.
#[tokio::test]
async fn child_boot_under_a_low_open_file_limit() {
    let Ok(url) = std::env::var("POOL_BOOT_CHILD_URL") else {
        return;
    };
    let mut o = options(&url);
    o.max_open = 50;
    let result = Pool::builder(o).connect().await;
    let report = rejected(result);
    println!("CHILD-REPORT {}", report.to_json().replace('\n', " "));
}

#[tokio::test]
async fn a_low_open_file_limit_is_caught() {
    let server = TestServer::start().await.unwrap();
    let me = std::env::current_exe().unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 100 && exec \"$0\" --exact child_boot_under_a_low_open_file_limit --nocapture --test-threads=1")
        .arg(&me)
        .env("POOL_BOOT_CHILD_URL", server.url())
        .output()
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
}

#[tokio::test]
async fn a_wrong_password_names_host_and_user_but_never_the_password() {
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
}

#[tokio::test]
async fn no_server_and_no_database_are_one_clear_error_each() {
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("mysql://root:pw@127.0.0.1:{free_port}/test?prefer_socket=false");
    let started = Instant::now();
    let err = Pool::builder(options(&url)).connect().await.unwrap_err();
    assert!(matches!(err, BootError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("connection refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));

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
}

#[tokio::test]
async fn a_connect_that_hangs_fails_within_connect_timeout() {
    // A listener that never answers the MySQL greeting.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let mut o = options(&format!(
        "mysql://root@127.0.0.1:{port}/test?prefer_socket=false"
    ));
    o.connect_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = Pool::builder(o).connect().await.unwrap_err();
    assert!(matches!(err, BootError::ConnectTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(silent);
}

#[tokio::test]
async fn per_code_policies_come_from_config() {
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
    // From code, the builder's policy wins.
    let pool = Pool::builder(load(&path).options())
        .on_violation(BootPolicy::all(Policy::Fix))
        .connect()
        .await
        .unwrap();
    assert_eq!(pool.options().max_idle_time, Some(Duration::from_secs(449)));
}

#[tokio::test]
async fn boot_checks_cost_about_a_round_trip() {
    let server = TestServer::start().await.unwrap();
    let url = server.url().to_owned();
    // Warm up both paths once.
    drop(Pool::builder(options(&url)).connect().await.unwrap());
    let mut plain = Duration::ZERO;
    let mut pooled = Duration::ZERO;
    let runs = 20;
    for _ in 0..runs {
        let started = Instant::now();
        let conn = pool_runtime::mysql_async::Conn::from_url(&url)
            .await
            .unwrap();
        plain += started.elapsed();
        conn.disconnect().await.unwrap();
        let started = Instant::now();
        let pool = Pool::builder(options(&url)).connect().await.unwrap();
        pooled += started.elapsed();
        pool.close().await;
    }
    eprintln!(
        "loopback, {runs} runs: plain connect {:?}, pool connect with boot checks {:?}, difference {:?}",
        plain / runs,
        pooled / runs,
        (pooled.saturating_sub(plain)) / runs
    );
}

#[tokio::test]
async fn facts_that_change_across_a_reconnect_are_logged() {
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
}

fn tempfile_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}
