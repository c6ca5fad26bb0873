//! `Cluster` over real replication (`TestCluster`): reads spread across
//! replicas, read-your-writes, lag/stop rotation, a dead replica, fallback.

use std::collections::BTreeSet;
use std::time::Duration;

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use pool_runtime::cluster::OutReason;
use pool_runtime::testkit::TestCluster;
use pool_runtime::{Cluster, ClusterError, ClusterOptions, ReplicaFallback};

/// The kit's cluster, the app user allowed to read replication status, and
/// a `Cluster` over it.
async fn start(fallback: ReplicaFallback) -> (TestCluster, Cluster) {
    let kit = TestCluster::start(2).await.unwrap();
    kit.grant_app("SLAVE MONITOR").await.unwrap();
    let replicas: Vec<String> = kit
        .replica_indexes()
        .iter()
        .map(|&i| kit.app_url(i))
        .collect();
    let mut options =
        ClusterOptions::from_urls(&kit.app_url(kit.primary_index()), replicas).unwrap();
    options.replica_fallback = fallback;
    let cluster = Cluster::connect(options).await.unwrap();
    (kit, cluster)
}

async fn server_id_of_read(cluster: &Cluster) -> Result<u32, ClusterError> {
    let id: Option<u32> = cluster.query_first("SELECT @@server_id", ()).await?;
    Ok(id.unwrap())
}

/// The app user's password, which no output of the cluster may show.
fn app_password(kit: &TestCluster) -> String {
    let url = kit.app_url(kit.primary_index());
    let opts = pool_runtime::mysql_async::Opts::from_url(&url).unwrap();
    let password = opts.pass().expect("the app user has a password").to_owned();
    assert!(
        password.len() >= 8,
        "a password distinct enough to search for"
    );
    password
}

/// Fails if `shown` contains the app user's password.
fn assert_unshown(kit: &TestCluster, what: &str, shown: &str) {
    assert!(
        !shown.contains(&app_password(kit)),
        "{what} shows the password: {shown}"
    );
}

fn id_of(kit: &TestCluster, i: usize) -> u32 {
    kit.server(i).server_id().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_spread_across_replicas_and_a_write_is_read_back_at_once() {
    bounded("spread and ryw", TEST_TIMEOUT, async {
        let (kit, cluster) = start(ReplicaFallback::Primary).await;
        let replica_ids: BTreeSet<u32> = kit
            .replica_indexes()
            .iter()
            .map(|&i| id_of(&kit, i))
            .collect();
        let mut seen = BTreeSet::new();
        for _ in 0..20 {
            seen.insert(server_id_of_read(&cluster).await.unwrap());
        }
        assert_eq!(
            seen, replica_ids,
            "reads go to both replicas and never the primary"
        );
        let stats = cluster.stats();
        assert_eq!(stats.reads_to_replicas, 20);
        let names: Vec<&str> = stats.members.iter().map(|m| m.pool_name.as_str()).collect();
        assert_eq!(names, ["primary", "replica-0", "replica-1"]);
        assert!(stats.members.iter().all(|m| m.out.is_none()), "{stats:?}");

        // Read-your-writes: the row is there at once, through the same handle.
        cluster
            .exec("CREATE TABLE ryw (id INT PRIMARY KEY)", ())
            .await
            .unwrap();
        for id in 0..10 {
            cluster
                .exec("INSERT INTO ryw (id) VALUES (?)", (id,))
                .await
                .unwrap();
            let got: Option<i64> = cluster
                .query_first("SELECT id FROM ryw WHERE id = ?", (id,))
                .await
                .unwrap();
            assert_eq!(got, Some(id));
        }
        assert!(cluster.stats().reads_to_primary_ryw >= 10);

        // Another session has not written: its reads go to a replica.
        let session = cluster.session();
        let id: Option<u32> = session.query_first("SELECT @@server_id", ()).await.unwrap();
        assert!(replica_ids.contains(&id.unwrap()));
        cluster.close().await;
        assert!(cluster.primary().is_closed() && cluster.replicas().all(|p| p.is_closed()));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_gets_no_reads_until_it_is_back_and_none_left_can_fail() {
    bounded("stopped replica", TEST_TIMEOUT, async {
        let (kit, cluster) = start(ReplicaFallback::Fail).await;
        let [a, b] = kit.replica_indexes()[..] else {
            panic!("two replicas")
        };
        kit.stop_replication(a).await.unwrap();
        cluster.check_replicas().await;
        for _ in 0..10 {
            assert_eq!(server_id_of_read(&cluster).await.unwrap(), id_of(&kit, b));
        }
        let out = cluster.stats().members[1].out.clone();
        assert!(matches!(out, Some(OutReason::Stopped { .. })), "{out:?}");
        assert!(cluster.stats().left_stopped >= 1);

        // Both out, replica_fallback = fail: an error naming both.
        kit.stop_replication(b).await.unwrap();
        cluster.check_replicas().await;
        let error = server_id_of_read(&cluster).await.unwrap_err();
        match &error {
            ClusterError::NoReplica { out } => assert_eq!(out.len(), 2, "{error}"),
            other => panic!("expected NoReplica, got {other}"),
        }
        assert!(!error.may_have_run());
        assert!(error.to_string().contains("replica-0"), "{error}");
        assert_unshown(&kit, "NoReplica's Display", &error.to_string());
        assert_unshown(&kit, "NoReplica's Debug", &format!("{error:?}"));
        assert_unshown(
            &kit,
            "ClusterOptions' Debug",
            &format!("{:?}", cluster.options()),
        );
        assert_unshown(
            &kit,
            "ClusterStats' Debug",
            &format!("{:?}", cluster.stats()),
        );
        assert_unshown(&kit, "Cluster's Debug", &format!("{cluster:?}"));

        // Back: the background check puts them in rotation again.
        kit.start_replication(a).await.unwrap();
        kit.start_replication(b).await.unwrap();
        let a_id = id_of(&kit, a);
        eventually(
            "replica a takes reads again",
            Duration::from_secs(30),
            || async {
                server_id_of_read(&cluster)
                    .await
                    .ok()
                    .filter(|&id| id == a_id)
            },
        )
        .await;
        cluster.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_leaves_rotation() {
    bounded("lagging replica", TEST_TIMEOUT, async {
        let kit = TestCluster::start(2).await.unwrap();
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        let [a, b] = kit.replica_indexes()[..] else {
            panic!("two replicas")
        };
        let mut options = ClusterOptions::from_urls(
            &kit.app_url(kit.primary_index()),
            [kit.app_url(a), kit.app_url(b)],
        )
        .unwrap();
        options.max_replica_lag = Duration::from_secs(1);
        let cluster = Cluster::connect(options).await.unwrap();
        kit.delay_replication(a, Duration::from_secs(6))
            .await
            .unwrap();
        cluster
            .primary()
            .exec("CREATE TABLE lag (id INT PRIMARY KEY)", ())
            .await
            .unwrap();
        let primary = cluster.primary().clone();
        // Writes keep arriving so that the delayed replica's lag grows.
        eventually("replica a is out for lag", Duration::from_secs(30), || {
            let primary = primary.clone();
            let cluster = cluster.clone();
            async move {
                let _ = primary.exec("INSERT INTO lag (id) VALUES (NULL)", ()).await;
                let _ = primary
                    .exec(
                        "INSERT INTO lag SELECT COALESCE(MAX(id), 0) + 1 FROM lag",
                        (),
                    )
                    .await;
                cluster.check_replicas().await;
                matches!(
                    cluster.stats().members[1].out,
                    Some(OutReason::Lagging { .. })
                )
                .then_some(())
            }
        })
        .await;
        for _ in 0..10 {
            assert_eq!(server_id_of_read(&cluster).await.unwrap(), id_of(&kit, b));
        }
        kit.delay_replication(a, Duration::ZERO).await.unwrap();
        cluster.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_read_is_retried_on_the_other_then_the_primary_takes_reads() {
    bounded("killed replica", TEST_TIMEOUT, async {
        let (mut kit, cluster) = start(ReplicaFallback::Primary).await;
        let [a, b] = kit.replica_indexes()[..] else {
            panic!("two replicas")
        };
        // Warm both replicas' pools so a read may land on a dead connection.
        for _ in 0..4 {
            server_id_of_read(&cluster).await.unwrap();
        }
        kit.stop(a).await.unwrap();
        for _ in 0..10 {
            assert_eq!(server_id_of_read(&cluster).await.unwrap(), id_of(&kit, b));
        }
        let stats = cluster.stats();
        assert!(
            matches!(stats.members[1].out, Some(OutReason::Unreachable { .. })),
            "{stats:?}"
        );
        // The reason carries the driver's error text: never the password.
        assert_unshown(
            &kit,
            "an unreachable replica's stats",
            &format!("{stats:?}"),
        );
        kit.stop(b).await.unwrap();
        let primary_id = id_of(&kit, kit.primary_index());
        for _ in 0..3 {
            assert_eq!(server_id_of_read(&cluster).await.unwrap(), primary_id);
        }
        assert!(cluster.stats().reads_to_primary_no_replica >= 3);
        cluster.close().await;
    })
    .await;
}

/// The replica check reads every replica at once, each bounded by
/// `replica_check_interval` or 1 s, whichever is longer: two replicas that
/// hang (their flows blackholed) cost one bound, not two, and both leave
/// the rotation as unreachable.
// One thread: the check round runs on tokio's paused clock, which only
// advances when every task waits, so its duration is the timers' and not
// the machine's load.
#[tokio::test]
async fn replicas_that_hang_are_checked_at_once_each_within_its_bound() {
    use pool_runtime::testkit::{Fault, FaultProxy};
    bounded("hung replicas", TEST_TIMEOUT, async {
        let kit = TestCluster::start(2).await.unwrap();
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        let mut proxies = Vec::new();
        let mut urls = Vec::new();
        for i in kit.replica_indexes() {
            let proxy = FaultProxy::start(kit.server(i).addr()).await.unwrap();
            let port = kit.server(i).port();
            urls.push(
                kit.app_url(i)
                    .replace(&format!(":{port}/"), &format!(":{}/", proxy.addr().port())),
            );
            proxies.push(proxy);
        }
        let options = ClusterOptions::from_urls(&kit.app_url(kit.primary_index()), urls).unwrap();
        // The default interval, 1 s: each check's bound.
        let bound = options.replica_check_interval.max(Duration::from_secs(1));
        let cluster = Cluster::connect(options).await.unwrap();
        assert!(cluster.stats().members[1..].iter().all(|m| m.out.is_none()));

        for proxy in &proxies {
            proxy.on_new_connections(Some(Fault::Blackhole));
            proxy.inject(Fault::Blackhole);
        }
        // Nothing answers through the blackholes: only the checks' bounds
        // end the round, 1 bound if they run at once, 2 one after another.
        tokio::time::pause();
        let begun = tokio::time::Instant::now();
        cluster.check_replicas().await;
        let took = begun.elapsed();
        tokio::time::resume();
        eprintln!("a check round with both replicas hung took {took:?} of tokio time (bound {bound:?} each)");
        let stats = cluster.stats();
        for member in &stats.members[1..] {
            assert!(
                matches!(member.out, Some(OutReason::Unreachable { .. })),
                "{stats:?}"
            );
        }
        assert!(took >= bound, "ended before its bound: {took:?}");
        assert!(took < bound * 2, "checked one after another: {took:?}");
        drop(proxies);
        cluster.close().await;
    })
    .await;
}

/// `query_stream` is routed as `query` is: to a replica, and to the primary
/// within read-your-writes of the session's write, which it then sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_read_is_routed_as_a_read_with_read_your_writes() {
    bounded("streamed reads", TEST_TIMEOUT, async {
        let (kit, cluster) = start(ReplicaFallback::Primary).await;
        let replica_ids: BTreeSet<u32> = kit
            .replica_indexes()
            .iter()
            .map(|&i| id_of(&kit, i))
            .collect();
        let mut rows = cluster
            .query_stream::<u32>("SELECT @@server_id UNION ALL SELECT @@server_id", ())
            .await
            .unwrap();
        let mut ids = Vec::new();
        while let Some(id) = rows.next().await {
            ids.push(id.unwrap());
        }
        assert_eq!(rows.rows_delivered(), 2);
        assert!(ids.iter().all(|id| replica_ids.contains(id)), "{ids:?}");
        assert_eq!(cluster.stats().reads_to_replicas, 1);

        let session = cluster.session();
        session
            .exec("CREATE TABLE streamed (id INT PRIMARY KEY)", ())
            .await
            .unwrap();
        session
            .exec("INSERT INTO streamed VALUES (1), (2), (3)", ())
            .await
            .unwrap();
        let mut rows = session
            .query_stream::<(i32, u32)>("SELECT id, @@server_id FROM streamed ORDER BY id", ())
            .await
            .unwrap();
        let mut seen = Vec::new();
        while let Some(row) = rows.next().await {
            seen.push(row.unwrap());
        }
        let primary = id_of(&kit, kit.primary_index());
        assert_eq!(seen, [(1, primary), (2, primary), (3, primary)]);
        assert_eq!(cluster.stats().reads_to_primary_ryw, 1);
        cluster.close().await;
    })
    .await;
}
