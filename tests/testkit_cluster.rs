//! The test kit's replication cluster: real GTID replication between
//! throwaway servers, the application user `read_only` applies to, the
//! switchover, the VIP, and the lag controls.

use std::time::{Duration, Instant};

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{self, Conn, Opts};
use pool_runtime::testkit::{TestCluster, TestkitError};

async fn connect(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).await.unwrap()
}

async fn start(replicas: usize) -> TestCluster {
    let begun = Instant::now();
    let cluster = TestCluster::start(replicas).await.unwrap();
    eprintln!("TestCluster::start({replicas}) took {:?}", begun.elapsed());
    cluster
}

/// The ids in `test.t` on server `i`, as the application user sees them.
async fn ids(cluster: &TestCluster, i: usize) -> Vec<i64> {
    let mut conn = connect(&cluster.app_url(i)).await;
    let ids = conn.query("SELECT id FROM t ORDER BY id").await.unwrap();
    conn.disconnect().await.unwrap();
    ids
}

/// Writes `id` into `test.t` through `url`.
async fn insert(url: &str, id: i64) -> Result<(), mysql_async::Error> {
    let mut conn = connect(url).await;
    let written = conn.exec_drop("INSERT INTO t (id) VALUES (?)", (id,)).await;
    let _ = conn.disconnect().await;
    written
}

async fn create_table(cluster: &TestCluster) {
    let mut conn = connect(&cluster.app_url(cluster.primary_index())).await;
    conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
}

fn server_code(err: &mysql_async::Error) -> Option<u16> {
    match err {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

async fn global_flag(conn: &mut Conn, name: &str) -> i64 {
    let value: Option<i64> = conn
        .query_first(format!("SELECT @@GLOBAL.{name}"))
        .await
        .unwrap();
    value.unwrap()
}

#[tokio::test]
async fn a_row_written_on_the_primary_appears_on_every_replica() {
    bounded(
        "a_row_written_on_the_primary_appears_on_every_replica",
        TEST_TIMEOUT,
        async {
            let cluster = start(2).await;
            assert_eq!(cluster.len(), 3);
            assert_eq!(cluster.primary_index(), 0);
            assert_eq!(cluster.replica_indexes(), vec![1, 2]);
            assert_eq!(cluster.primary().addr(), cluster.server(0).addr());
            assert_eq!(cluster.vip().upstream(), cluster.server(0).addr());

            // Three distinct servers, each with its own server_id; only the
            // primary is writable.
            for i in 0..cluster.len() {
                let mut conn = connect(&cluster.app_url(i)).await;
                let (id, port, read_only): (u32, u16, i64) = conn
                    .query_first("SELECT @@server_id, @@port, @@read_only")
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(Some(id), cluster.server(i).server_id(), "server {i}");
                assert_eq!(port, cluster.server(i).port(), "server {i}");
                assert_eq!(read_only == 1, i != 0, "server {i}: read_only");
                conn.disconnect().await.unwrap();
            }

            create_table(&cluster).await;
            insert(&cluster.app_url(0), 7).await.unwrap();
            for i in cluster.replica_indexes() {
                cluster.wait_caught_up(i).await.unwrap();
                assert_eq!(ids(&cluster, i).await, vec![7], "replica {i}");
                assert_eq!(cluster.seconds_behind(i).await.unwrap(), Some(0));
            }
            // The primary replicates from nobody.
            assert_eq!(cluster.seconds_behind(0).await.unwrap(), None);
        },
    )
    .await
}

#[tokio::test]
async fn the_app_user_is_least_privileged_gets_1290_on_a_replica_and_is_never_shown() {
    bounded(
        "the_app_user_is_least_privileged_gets_1290_on_a_replica_and_is_never_shown",
        TEST_TIMEOUT,
        async {
            let cluster = start(1).await;
            create_table(&cluster).await;
            cluster.wait_caught_up(1).await.unwrap();

            let err = insert(&cluster.app_url(1), 1).await.unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            // Reads work, and nothing was written.
            assert!(ids(&cluster, 1).await.is_empty());
            insert(&cluster.app_url(0), 1).await.unwrap();

            // The application user has no privilege outside `test`, nor the
            // ones that lift read_only.
            let mut conn = connect(&cluster.app_url(0)).await;
            let grants: Vec<String> = conn.query("SHOW GRANTS").await.unwrap();
            conn.disconnect().await.unwrap();
            let all = grants.join("\n");
            assert!(all.contains("ON `test`.*"), "{all}");
            for privilege in ["SUPER", "READ ONLY ADMIN", "CONNECTION ADMIN", "ON *.* TO"] {
                let global = grants
                    .iter()
                    .any(|g| g.contains("ON *.*") && g.contains(privilege) && !g.contains("USAGE"));
                assert!(!global, "app has {privilege}: {all}");
            }

            // Replica status needs a privilege the app user lacks by
            // default, as a least-privilege login does; `grant_app` gives it
            // on every server, and read_only still applies.
            let mut replica = connect(&cluster.app_url(1)).await;
            let err = replica.query_drop("SHOW SLAVE STATUS").await.unwrap_err();
            assert_eq!(server_code(&err), Some(1227), "{err}");
            replica.disconnect().await.unwrap();
            cluster.grant_app("SLAVE MONITOR").await.unwrap();
            let mut replica = connect(&cluster.app_url(1)).await;
            let status: Option<mysql_async::Row> =
                replica.query_first("SHOW SLAVE STATUS").await.unwrap();
            assert!(status.is_some());
            replica.disconnect().await.unwrap();
            let err = insert(&cluster.app_url(1), 2).await.unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            let err = cluster.grant_app("ALL; DROP USER app").await.unwrap_err();
            assert!(matches!(err, TestkitError::BadPrivilege { .. }), "{err:?}");

            let url = cluster.app_url(0);
            let password = url
                .split_once("app:")
                .and_then(|(_, rest)| rest.split_once('@'))
                .map(|(password, _)| password.to_owned())
                .unwrap();
            assert!(password.len() >= 16, "a real password: {}", password.len());
            assert!(cluster.vip_url().contains(&password));
            let debug = format!("{cluster:?}");
            assert!(!debug.contains(&password), "{debug}");
        },
    )
    .await
}

#[tokio::test]
async fn switchover_promotes_the_replica_and_the_old_primary_follows_it() {
    bounded(
        "switchover_promotes_the_replica_and_the_old_primary_follows_it",
        TEST_TIMEOUT,
        async {
            let mut cluster = start(2).await;
            create_table(&cluster).await;
            insert(&cluster.app_url(0), 1).await.unwrap();
            // A session opened on the primary before the switchover.
            let mut before = connect(&cluster.app_url(0)).await;
            before.query_drop("SELECT 1").await.unwrap();

            let begun = Instant::now();
            cluster.switchover(1).await.unwrap();
            eprintln!("switchover took {:?}", begun.elapsed());
            assert_eq!(cluster.primary_index(), 1);
            assert_eq!(cluster.primary().addr(), cluster.server(1).addr());
            assert_eq!(cluster.replica_indexes(), vec![0, 2]);
            // Not moved by the switchover: tests choose when.
            assert_eq!(cluster.vip().upstream(), cluster.server(0).addr());

            // The old session stays open, and its writes fail as read-only.
            let err = before
                .exec_drop("INSERT INTO t (id) VALUES (?)", (2,))
                .await
                .unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            let mut old = connect(&cluster.app_url(0)).await;
            assert_eq!(global_flag(&mut old, "read_only").await, 1);
            old.disconnect().await.unwrap();
            let mut new = connect(&cluster.app_url(1)).await;
            assert_eq!(global_flag(&mut new, "read_only").await, 0);
            new.disconnect().await.unwrap();

            // The new primary takes writes, and they reach the old primary
            // and the other replica, which replicate from it.
            insert(&cluster.app_url(1), 3).await.unwrap();
            for i in [0, 2] {
                cluster.wait_caught_up(i).await.unwrap();
                assert_eq!(ids(&cluster, i).await, vec![1, 3], "server {i}");
                assert!(cluster.seconds_behind(i).await.unwrap().is_some());
            }
            assert_eq!(cluster.seconds_behind(1).await.unwrap(), None);

            // And back: the roles can move again.
            cluster.switchover(0).await.unwrap();
            assert_eq!(cluster.replica_indexes(), vec![1, 2]);
            insert(&cluster.app_url(0), 4).await.unwrap();
            let err = insert(&cluster.app_url(1), 5).await.unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            for i in [1, 2] {
                cluster.wait_caught_up(i).await.unwrap();
                assert_eq!(ids(&cluster, i).await, vec![1, 3, 4], "server {i}");
            }

            // Fencing: the sessions on the old primary (1 now) are killed.
            let mut fenced = connect(&cluster.app_url(1)).await;
            fenced.query_drop("SELECT 1").await.unwrap();
            let killed = cluster.kill_app_sessions(1).await.unwrap();
            assert!(killed >= 1, "killed {killed}");
            assert!(fenced.query_drop("SELECT 1").await.is_err());
            let _ = before.disconnect().await;
        },
    )
    .await
}

async fn server_id(conn: &mut Conn) -> u32 {
    conn.query_first("SELECT @@server_id")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn retarget_moves_new_connections_and_open_ones_stay() {
    bounded(
        "retarget_moves_new_connections_and_open_ones_stay",
        TEST_TIMEOUT,
        async {
            let cluster = start(1).await;
            let first = cluster.server(0).server_id().unwrap();
            let second = cluster.server(1).server_id().unwrap();
            assert_ne!(first, second);

            let mut open = connect(&cluster.vip_url()).await;
            assert_eq!(server_id(&mut open).await, first);

            cluster.vip().retarget(cluster.server(1).addr());
            assert_eq!(cluster.vip().upstream(), cluster.server(1).addr());
            let mut moved = connect(&cluster.vip_url()).await;
            assert_eq!(server_id(&mut moved).await, second);
            // The connection opened before still talks to the first server.
            assert_eq!(server_id(&mut open).await, first);

            cluster.vip().retarget(cluster.server(0).addr());
            let mut back = connect(&cluster.vip_url()).await;
            assert_eq!(server_id(&mut back).await, first);
            assert_eq!(server_id(&mut moved).await, second);
            assert_eq!(cluster.vip().opened(), 3);
            for conn in [open, moved, back] {
                conn.disconnect().await.unwrap();
            }
        },
    )
    .await
}

/// The GTID position replica `i` has received (not necessarily applied).
async fn received_position(cluster: &TestCluster, i: usize) -> String {
    let mut conn = cluster.server(i).conn().await.unwrap();
    let row: mysql_async::Row = conn
        .query_first("SHOW SLAVE STATUS")
        .await
        .unwrap()
        .unwrap();
    conn.disconnect().await.unwrap();
    row.get::<String, _>("Gtid_IO_Pos").unwrap()
}

async fn primary_position(cluster: &TestCluster) -> String {
    let mut conn = cluster.primary().conn().await.unwrap();
    let position: Option<String> = conn
        .query_first("SELECT @@GLOBAL.gtid_binlog_pos")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    position.unwrap()
}

#[tokio::test]
async fn a_stopped_replica_applies_nothing_until_started_again() {
    bounded(
        "a_stopped_replica_applies_nothing_until_started_again",
        TEST_TIMEOUT,
        async {
            let cluster = start(1).await;
            create_table(&cluster).await;
            cluster.wait_caught_up(1).await.unwrap();

            cluster.stop_replication(1).await.unwrap();
            assert_eq!(cluster.seconds_behind(1).await.unwrap(), None);
            insert(&cluster.app_url(0), 1).await.unwrap();
            // The replica has received the write, and still not applied it.
            let target = primary_position(&cluster).await;
            eventually("the replica receives the write", TEST_TIMEOUT, || async {
                (received_position(&cluster, 1).await == target).then_some(())
            })
            .await;
            assert!(ids(&cluster, 1).await.is_empty());
            // Waiting for it is bounded, and says which server and why.
            let err = cluster
                .wait_caught_up_within(1, Duration::from_secs(1))
                .await
                .unwrap_err();
            let TestkitError::NotCaughtUp { index, port, .. } = &err else {
                panic!("{err:?}");
            };
            assert_eq!((*index, *port), (1, cluster.server(1).port()));
            assert!(err.to_string().contains("SQL thread No"), "{err}");

            cluster.start_replication(1).await.unwrap();
            cluster.wait_caught_up(1).await.unwrap();
            assert_eq!(ids(&cluster, 1).await, vec![1]);
            assert_eq!(cluster.seconds_behind(1).await.unwrap(), Some(0));

            // Replica operations refuse the primary, and unknown servers.
            for err in [
                cluster.stop_replication(0).await.unwrap_err(),
                cluster
                    .delay_replication(0, Duration::from_secs(1))
                    .await
                    .unwrap_err(),
                cluster.seconds_behind(5).await.unwrap_err(),
            ] {
                assert!(matches!(err, TestkitError::ClusterRole { .. }), "{err:?}");
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_delayed_replica_falls_behind_as_writes_arrive() {
    bounded(
        "a_delayed_replica_falls_behind_as_writes_arrive",
        TEST_TIMEOUT,
        async {
            let cluster = start(1).await;
            create_table(&cluster).await;
            cluster.wait_caught_up(1).await.unwrap();

            cluster
                .delay_replication(1, Duration::from_secs(4))
                .await
                .unwrap();
            insert(&cluster.app_url(0), 1).await.unwrap();
            let lag = eventually("the replica's lag grows", TEST_TIMEOUT, || async {
                cluster.seconds_behind(1).await.unwrap().filter(|&s| s > 1)
            })
            .await;
            assert!(lag <= 5, "lag {lag}");
            assert!(ids(&cluster, 1).await.is_empty());

            // Once the delay has passed, the write is applied.
            cluster.wait_caught_up(1).await.unwrap();
            assert_eq!(ids(&cluster, 1).await, vec![1]);
            cluster.delay_replication(1, Duration::ZERO).await.unwrap();
            insert(&cluster.app_url(0), 2).await.unwrap();
            cluster.wait_caught_up(1).await.unwrap();
            assert_eq!(ids(&cluster, 1).await, vec![1, 2]);
        },
    )
    .await
}

#[tokio::test]
async fn a_restarted_replica_is_read_only_and_replicates_again() {
    bounded(
        "a_restarted_replica_is_read_only_and_replicates_again",
        TEST_TIMEOUT,
        async {
            let mut cluster = start(1).await;
            create_table(&cluster).await;
            cluster.wait_caught_up(1).await.unwrap();

            cluster.stop(1).await.unwrap();
            // Writes made while the replica is down reach it once it is back.
            insert(&cluster.app_url(0), 1).await.unwrap();
            let refused = Conn::new(Opts::from_url(&cluster.app_url(1)).unwrap()).await;
            assert!(refused.is_err(), "a stopped server accepts no login");
            cluster.start_again(1).await.unwrap();

            cluster.wait_caught_up(1).await.unwrap();
            assert_eq!(ids(&cluster, 1).await, vec![1]);
            let err = insert(&cluster.app_url(1), 2).await.unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            assert_eq!(cluster.seconds_behind(1).await.unwrap(), Some(0));
        },
    )
    .await
}

/// A transaction open on the primary does not hold the switchover up: the
/// demotion goes through, and the transaction's commit fails as read-only.
#[tokio::test]
async fn an_open_transaction_does_not_block_the_switchover() {
    bounded(
        "an_open_transaction_does_not_block_the_switchover",
        TEST_TIMEOUT,
        async {
            let mut cluster = start(1).await;
            create_table(&cluster).await;
            let mut open = connect(&cluster.app_url(0)).await;
            open.query_drop("BEGIN").await.unwrap();
            open.exec_drop("INSERT INTO t (id) VALUES (?)", (1,))
                .await
                .unwrap();

            bounded(
                "the switchover",
                Duration::from_secs(20),
                cluster.switchover(1),
            )
            .await
            .unwrap();
            let err = open.query_drop("COMMIT").await.unwrap_err();
            assert_eq!(server_code(&err), Some(1290), "{err}");
            cluster.wait_caught_up(0).await.unwrap();
            assert!(ids(&cluster, 1).await.is_empty());
            assert!(ids(&cluster, 0).await.is_empty());
            let _ = open.disconnect().await;
        },
    )
    .await
}
