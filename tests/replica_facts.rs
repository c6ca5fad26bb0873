//! The boot facts past `read_only`: whether the server is a replica (and of
//! what), read through the service's own login, which may lack the
//! privilege; `innodb_read_only` / `super_read_only`; and the role rules
//! that judge them, over real replication (`TestCluster`).

mod common;
use common::{TEST_TIMEOUT, bounded};

use pool_runtime::boot::{Code, Replication, Report, Severity};
use pool_runtime::testkit::{TestCluster, TestServer};
use pool_runtime::{BootError, Pool, PoolOptions, Role, SslMode};

fn options(url: &str, role: Role) -> PoolOptions {
    let mut options = PoolOptions::from_url(url).unwrap();
    options.ssl_mode = SslMode::Disabled;
    options.role = role;
    options
}

async fn started(url: &str, role: Role) -> (Pool, Report) {
    let pool = Pool::builder(options(url, role)).connect().await.unwrap();
    let report = pool.boot_report().clone();
    (pool, report)
}

fn refused(result: Result<Pool, BootError>) -> Report {
    match result {
        Err(BootError::Rejected(report)) => *report,
        Err(other) => panic!("expected a rejection, got {other}"),
        Ok(_) => panic!("the pool started"),
    }
}

fn role_codes(report: &Report) -> Vec<(Code, Severity)> {
    report
        .findings
        .iter()
        .filter(|f| f.key == "role")
        .map(|f| (f.code, f.severity))
        .collect()
}

/// The app user's password, which no report may show.
fn password(kit: &TestCluster) -> String {
    let opts = pool_runtime::mysql_async::Opts::from_url(&kit.app_url(0)).unwrap();
    opts.pass().unwrap().to_owned()
}

/// Through a login without SLAVE MONITOR, a replica's status is unknown:
/// the report says so and names the privilege, and the boot goes on by the
/// read-only variables alone. With the privilege, the facts show the
/// replica's source and threads, and no role finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_is_seen_as_one_and_without_the_privilege_the_report_says_unknown() {
    bounded("replica facts", TEST_TIMEOUT, async {
        let kit = TestCluster::start(1).await.unwrap();
        let replica = kit.app_url(1);
        let secret = password(&kit);

        // No privilege: a replica pool starts (the server is read-only).
        let (pool, report) = started(&replica, Role::Replica).await;
        match &report.facts.replication {
            Replication::NoPrivilege { privilege } => {
                assert_eq!(privilege, "SLAVE MONITOR", "{report}")
            }
            other => panic!("expected no privilege, got {other:?}"),
        }
        assert!(role_codes(&report).is_empty(), "{report}");
        let text = report.to_string();
        assert!(
            text.contains("replication: unknown: no privilege")
                && text.contains("note: replication: unknown, no privilege")
                && text.contains("SLAVE MONITOR"),
            "{text}"
        );
        assert!(report.to_json().contains("\"no_privilege\""));
        assert!(!text.contains(&secret) && !report.to_json().contains(&secret));
        pool.close().await;

        // A primary pool on it is refused by read_only; the note stays.
        let report = refused(
            Pool::builder(options(&replica, Role::Primary))
                .connect()
                .await,
        );
        assert_eq!(
            role_codes(&report),
            [(Code::PrimaryIsReadOnly, Severity::Error)]
        );
        assert!(report.notes.iter().any(|n| n.contains("SLAVE MONITOR")));

        // With the privilege: a replica of the primary, both threads running.
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        let (pool, report) = started(&replica, Role::Replica).await;
        let Replication::Replica(status) = &report.facts.replication else {
            panic!("expected a replica: {report}");
        };
        assert_eq!(status.source_port, Some(kit.primary().port()), "{report}");
        assert_eq!(
            (status.io_running.as_str(), status.sql_running.as_str()),
            ("Yes", "Yes")
        );
        assert!(status.seconds_behind.is_some(), "{status:?}");
        assert!(
            role_codes(&report).is_empty() && report.notes.is_empty(),
            "{report}"
        );
        let text = report.to_string();
        let source = format!("replication: replica of 127.0.0.1:{}", kit.primary().port());
        assert!(text.contains(&source), "{text}");
        pool.close().await;

        // Refused as a primary, the fact names the source too.
        let report = refused(
            Pool::builder(options(&replica, Role::Primary))
                .connect()
                .await,
        );
        let finding = &report.findings[0];
        assert_eq!(finding.code, Code::PrimaryIsReadOnly);
        assert!(
            finding
                .fact
                .as_deref()
                .unwrap()
                .starts_with("read_only = ON; replica of"),
            "{report}"
        );

        // The primary is no replica; a primary pool on it does not ask.
        let (pool, report) = started(&kit.app_url(0), Role::Primary).await;
        assert_eq!(report.facts.replication, Replication::NotRead, "{report}");
        assert!(report.findings.is_empty(), "{report}");
        pool.close().await;
        let (pool, report) = started(&kit.app_url(0), Role::Replica).await;
        assert_eq!(report.facts.replication, Replication::NotReplica);
        assert_eq!(
            role_codes(&report),
            [(Code::ReplicaIsWritable, Severity::Warning)]
        );
        pool.close().await;
    })
    .await
}

/// A replica left writable: a primary pool on it would write to a replica,
/// a warning with its own code naming the source; a replica pool on it has
/// no finding, only a note that it is writable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_pool_on_a_writable_replica_is_warned_with_its_code() {
    bounded("writable replica", TEST_TIMEOUT, async {
        let kit = TestCluster::start(1).await.unwrap();
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        kit.server(1).set_global("read_only", 0).await.unwrap();
        let replica = kit.app_url(1);

        let (pool, report) = started(&replica, Role::Primary).await;
        assert!(!report.facts.refuses_writes(), "{report}");
        assert_eq!(
            role_codes(&report),
            [(Code::PrimaryIsReplica, Severity::Warning)]
        );
        let finding = &report.findings[0];
        let source = format!("127.0.0.1:{}", kit.primary().port());
        assert!(finding.why.contains(&source), "{report}");
        let text = report.to_string();
        assert!(text.contains("primary_is_replica"), "{text}");
        pool.close().await;

        let (pool, report) = started(&replica, Role::Replica).await;
        assert!(role_codes(&report).is_empty(), "{report}");
        assert!(
            report.notes.iter().any(|n| n.contains("writable")),
            "{report}"
        );
        pool.close().await;
    })
    .await
}

/// `innodb_read_only` (set at start) refuses writes from every account,
/// root included: a primary pool is refused, and the report names that
/// variable, not `read_only`. MariaDB has no `super_read_only`: the fact is
/// `None` there, never an error.
#[tokio::test]
async fn innodb_read_only_refuses_a_primary_pool_and_is_named() {
    bounded("innodb_read_only", TEST_TIMEOUT, async {
        let server = TestServer::builder()
            .innodb_read_only()
            .start()
            .await
            .unwrap();
        let report = refused(
            Pool::builder(options(server.url(), Role::Primary))
                .connect()
                .await,
        );
        assert_eq!(report.facts.innodb_read_only, Some(true));
        assert!(!report.facts.read_only);
        assert_eq!(report.facts.read_only_by(), ["innodb_read_only"]);
        let finding = &report.findings[0];
        assert_eq!(finding.code, Code::PrimaryIsReadOnly);
        assert_eq!(finding.fact.as_deref(), Some("innodb_read_only = ON"));
        assert!(finding.why.contains("1836"), "{report}");
        let text = report.to_string();
        assert!(
            text.contains("read-only: innodb_read_only = ON")
                && text.contains("replication: not a replica"),
            "{text}"
        );

        // What the finding says would happen does: root's write is refused
        // (the pool's `any` role lets it start).
        let pool = Pool::builder(options(server.url(), Role::Any))
            .connect()
            .await
            .unwrap();
        let mariadb = pool.boot_report().facts.version.contains("MariaDB");
        assert_eq!(pool.boot_report().facts.super_read_only.is_none(), mariadb);
        // MariaDB refuses it as "Table is read only" (1005 for DDL, 1036
        // for DML), MySQL with 1836.
        let err = pool
            .exec("CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB", ())
            .await
            .expect_err("InnoDB is read-only, root included");
        let refused = err.server_code() == Some(1836) || err.to_string().contains("read only");
        assert!(refused, "{err}");
        pool.close().await;
    })
    .await
}

/// On a plain writable server the read-only variables are read in the
/// limits statement: `innodb_read_only` is known (off), and a primary pool
/// never asks for the replica status.
#[tokio::test]
async fn a_writable_server_reports_its_read_only_variables_off() {
    bounded("writable facts", TEST_TIMEOUT, async {
        let server = TestServer::shared_or_start().await.unwrap();
        let (pool, report) = started(server.url(), Role::Primary).await;
        let facts = &report.facts;
        assert!(!facts.refuses_writes(), "{report}");
        assert_eq!(facts.innodb_read_only, Some(false));
        assert_eq!(facts.read_only_fact(), "read_only = OFF");
        assert_eq!(facts.replication, Replication::NotRead);
        assert!(!report.to_string().contains("replication:"));
        pool.close().await;
    })
    .await
}
