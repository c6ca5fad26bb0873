//! Read-only awareness on one server: a write refused because the server
//! is read-only means the pool's target moved. The pool retires its
//! connections once, re-sends the statement once on a new connection
//! (outside a transaction), and reports `ErrorKind::ReadOnly`, which says
//! the statement did not run. A transaction the caller started `READ ONLY`
//! is the caller's own business: its 1792 stays a server error.

use std::sync::Arc;

mod common;
use common::{TEST_TIMEOUT, bounded};

use pool_runtime::boot::{Code, Severity};
use pool_runtime::pool::{GenericPool, Limits};
use pool_runtime::testkit::{MemoryManager, TestServer};
use pool_runtime::{BootError, ErrorKind, Pool, PoolOptions, Role, SslMode, TxOptions};

const PASSWORD: &str = "read-only-test-pw-5d1c";

/// A server with `app` (no SUPER, so `read_only` applies to it), the table,
/// then `read_only = ON`.
async fn read_only_server() -> TestServer {
    let server = TestServer::start().await.unwrap();
    server.create_user("app", PASSWORD).await.unwrap();
    let mut conn = server.conn().await.unwrap();
    use pool_runtime::mysql_async::prelude::*;
    conn.query_drop("CREATE TABLE test.t (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    drop(conn);
    server.set_global("read_only", 1).await.unwrap();
    server
}

fn app_options(server: &TestServer, role: Role) -> PoolOptions {
    let mut options = PoolOptions::from_url(&server.url_for("app", PASSWORD).unwrap()).unwrap();
    options.ssl_mode = SslMode::Disabled;
    options.role = role;
    options
}

/// A pool that gets past the boot rules' `role` check: the run-time tests
/// are about a server that turns read-only under a running pool.
async fn app_pool(server: &TestServer) -> Pool {
    Pool::builder(app_options(server, Role::Any))
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_primary_pool_on_a_read_only_server_is_refused_at_boot_and_a_replica_pool_on_a_writable_one_warned()
 {
    bounded("role at boot", TEST_TIMEOUT, async {
        let server = read_only_server().await;
        // The default role is primary.
        let mut options = app_options(&server, Role::Any);
        options.role = PoolOptions::default().role;
        let report = match Pool::builder(options).connect().await {
            Err(BootError::Rejected(report)) => *report,
            Err(other) => panic!("expected a rejection, got {other}"),
            Ok(_) => panic!("a primary pool started on a read-only server"),
        };
        let finding = report
            .findings
            .iter()
            .find(|f| f.code == Code::PrimaryIsReadOnly)
            .unwrap_or_else(|| panic!("no primary_is_read_only in {report}"));
        assert_eq!((finding.key, finding.value.as_str()), ("role", "primary"));
        assert_eq!(finding.fact.as_deref(), Some("read_only = ON"));
        let text = report.to_string();
        assert!(
            text.contains("primary_is_read_only") && text.contains("1290"),
            "{text}"
        );
        assert!(!text.contains(PASSWORD), "{text}");

        // The same server as a replica: no finding about the role.
        let pool = Pool::builder(app_options(&server, Role::Replica))
            .connect()
            .await
            .unwrap();
        assert!(pool.boot_report().findings.iter().all(|f| f.key != "role"));
        pool.close().await;

        // Writable, a replica pool starts with a warning.
        server.set_global("read_only", 0).await.unwrap();
        let pool = Pool::builder(app_options(&server, Role::Replica))
            .connect()
            .await
            .unwrap();
        let warned = pool
            .boot_report()
            .findings
            .iter()
            .find(|f| f.code == Code::ReplicaIsWritable)
            .expect("replica_is_writable");
        assert_eq!(warned.severity, Severity::Warning);
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_write_on_a_read_only_server_is_read_only_not_run_and_resent_once() {
    bounded("read-only write", TEST_TIMEOUT, async {
        let server = read_only_server().await;
        let pool = app_pool(&server).await;
        let before = pool.stats();
        let err = pool
            .exec("INSERT INTO t (id) VALUES (1)", ())
            .await
            .expect_err("the server is read-only");
        assert!(err.is_read_only(), "{err}");
        assert!(
            !err.may_have_run(),
            "a read-only refusal is proof it did not run"
        );
        assert_eq!(err.server_code(), Some(1290));
        match err.kind() {
            ErrorKind::ReadOnly { retried, .. } => {
                assert!(*retried, "re-sent once on a new connection first")
            }
            other => panic!("not ReadOnly: {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains("did not run") && text.contains("DNS/VIP"),
            "{text}"
        );
        assert!(!text.contains(PASSWORD), "{text}");
        let after = pool.stats();
        assert_eq!(after.read_only_retries - before.read_only_retries, 1);
        assert!(after.generations_retired > before.generations_retired);
        assert!(after.generation > before.generation);
        // Reads go on: a read-only server still answers them.
        let n: Option<i64> = pool
            .query_first("SELECT COUNT(*) FROM t", ())
            .await
            .unwrap();
        assert_eq!(n, Some(0));
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_write_in_a_transaction_is_read_only_and_not_resent_but_a_read_only_tx_is_the_callers() {
    bounded("read-only in transactions", TEST_TIMEOUT, async {
        let server = read_only_server().await;
        let pool = app_pool(&server).await;

        let mut tx = pool.begin().await.unwrap();
        let err = tx
            .exec("INSERT INTO t (id) VALUES (2)", ())
            .await
            .expect_err("the server is read-only");
        assert!(err.is_read_only(), "{err}");
        match err.kind() {
            ErrorKind::ReadOnly { retried, .. } => assert!(!*retried, "never re-sent in a tx"),
            other => panic!("not ReadOnly: {other:?}"),
        }
        drop(tx);
        let retired = pool.stats().generations_retired;
        assert!(retired >= 1, "the move is seen inside a transaction too");
        assert_eq!(pool.stats().read_only_retries, 0);

        // Writable again: the caller's own READ ONLY transaction refuses a
        // write with 1792, and that is the caller's, not a moved target.
        server.set_global("read_only", 0).await.unwrap();
        let mut tx = pool
            .begin_with(TxOptions::new().read_only(true))
            .await
            .unwrap();
        let err = tx
            .exec("INSERT INTO t (id) VALUES (3)", ())
            .await
            .expect_err("a READ ONLY transaction");
        assert_eq!(err.server_code(), Some(1792), "{err}");
        assert!(!err.is_read_only(), "{err}");
        assert!(matches!(err.kind(), ErrorKind::Server(_)), "{err}");
        drop(tx);
        assert_eq!(
            pool.stats().generations_retired,
            retired,
            "no switch for the caller's own tx"
        );
        pool.exec("INSERT INTO t (id) VALUES (4)", ())
            .await
            .unwrap();
        pool.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_seeing_one_generation_fail_make_one_switch() {
    bounded("one switch", TEST_TIMEOUT, async {
        let mut limits = Limits::default();
        limits.max_open = 16;
        limits.max_idle = 16;
        let pool = Arc::new(GenericPool::new(MemoryManager::new(), limits).unwrap());
        let mut held = Vec::new();
        for _ in 0..16 {
            held.push(pool.get().await.unwrap());
        }
        let generation = pool.generation();
        let barrier = Arc::new(tokio::sync::Barrier::new(held.len()));
        let mut switches = Vec::new();
        for conn in held {
            let barrier = barrier.clone();
            switches.push(tokio::spawn(async move {
                assert_eq!(conn.generation(), generation);
                barrier.wait().await;
                let switched = conn.retire_generation();
                drop(conn);
                switched
            }));
        }
        let mut made = Vec::new();
        for s in switches {
            if let Some(switch) = s.await.unwrap() {
                made.push(switch);
            }
        }
        assert_eq!(made.len(), 1, "exactly one switch: {made:?}");
        assert_eq!((made[0].from, made[0].to), (generation, generation + 1));
        let stats = pool.stats();
        assert_eq!(stats.generations_retired, 1);
        assert_eq!(stats.generation, generation + 1);
        assert_eq!(
            stats.idle, 0,
            "every connection of the old generation closed on return"
        );
        let fresh = pool.get().await.unwrap();
        assert_eq!(fresh.generation(), generation + 1);
    })
    .await;
}
