//! A cluster config from YAML and the environment: the primary's section,
//! the replicas' shared settings and URLs, the cluster keys, each value's
//! source, every problem at once, and no URL's password anywhere.

// figment's `Jail` closures return its large error type.
#![allow(clippy::result_large_err)]

use std::path::PathBuf;
use std::time::Duration;

use figment::Jail;

mod common;
use common::{TEST_TIMEOUT, bounded};

use pool_runtime::config::{Source, Yaml};
use pool_runtime::figment::{Figment, providers::Format};
use pool_runtime::testkit::TestCluster;
use pool_runtime::{ClusterOptions, ConfigError, ReplicaFallback};

const PASSWORD: &str = "hunter2-rotated";

fn file(path: &str, key: &str) -> Source {
    Source::File {
        path: PathBuf::from(path),
        key: key.to_owned(),
    }
}

fn env(var: &str) -> Source {
    Source::Env {
        var: var.to_owned(),
    }
}

#[test]
fn yaml_then_environment_with_each_values_source() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "db.yaml",
            &format!(
                "primary:\n  url: mysql://app:{PASSWORD}@db-primary:3306/shop\n  max_open: 20\n\
                 replica:\n  max_open: 40\n\
                 replicas:\n  - mysql://app:{PASSWORD}@db-replica-0:3306/shop\n  - mysql://app:{PASSWORD}@db-replica-1:3306/shop\n\
                 max_replica_lag: 2s\n"
            ),
        )?;
        jail.set_env("APP_DB_PRIMARY__MAX_IDLE_TIME", "3m");
        jail.set_env("APP_DB_READ_YOUR_WRITES", "250ms");
        jail.set_env("APP_DB_REPLICA_FALLBACK", "fail");

        let loaded = ClusterOptions::load("APP_DB", Some("db.yaml")).expect("a valid config");
        let options = loaded.options();
        assert_eq!(options.primary.max_open, 20);
        assert_eq!(
            options.primary.max_idle_time,
            Some(Duration::from_secs(180))
        );
        assert_eq!(options.replicas.len(), 2);
        for replica in &options.replicas {
            assert_eq!(replica.max_open, 40, "the replica section wins");
            assert_eq!(
                replica.max_idle_time,
                Some(Duration::from_secs(180)),
                "the rest is the primary's"
            );
        }
        let host = |i: usize| {
            let url = options.replicas[i].url.as_ref().unwrap();
            url.opts().ip_or_hostname().to_owned()
        };
        assert_eq!(
            (host(0).as_str(), host(1).as_str()),
            ("db-replica-0", "db-replica-1")
        );
        assert_eq!(options.max_replica_lag, Duration::from_secs(2));
        assert_eq!(options.read_your_writes, Duration::from_millis(250));
        assert_eq!(options.replica_fallback, ReplicaFallback::Fail);

        let sources = loaded.sources();
        assert_eq!(
            sources.of("primary.max_open"),
            file("db.yaml", "primary.max_open")
        );
        assert_eq!(
            sources.of("replica.max_open"),
            file("db.yaml", "replica.max_open")
        );
        assert_eq!(sources.of("replicas.1"), file("db.yaml", "replicas.1"));
        assert_eq!(
            sources.of("max_replica_lag"),
            file("db.yaml", "max_replica_lag")
        );
        assert_eq!(
            sources.of("primary.max_idle_time"),
            env("APP_DB_PRIMARY__MAX_IDLE_TIME")
        );
        assert_eq!(
            sources.of("read_your_writes"),
            env("APP_DB_READ_YOUR_WRITES")
        );
        assert_eq!(sources.of("replica_check_interval"), Source::Default);

        let shown = format!("{loaded:?}");
        assert!(!shown.contains(PASSWORD), "Debug shows a password: {shown}");
        Ok(())
    });
}

#[test]
fn replicas_from_one_environment_variable_split_before_each_scheme() {
    Jail::expect_with(|jail| {
        jail.set_env(
            "APP_DB_PRIMARY__URL",
            format!("mysql://app:{PASSWORD}@db-primary/shop"),
        );
        // A comma inside a password does not split the list.
        jail.set_env(
            "APP_DB_REPLICAS",
            format!("mysql://app:{PASSWORD},x@db-replica-0/shop, mysql://app:{PASSWORD}@db-replica-1/shop"),
        );
        let loaded = ClusterOptions::load("APP_DB", None).expect("a valid config");
        let replicas = &loaded.options().replicas;
        assert_eq!(replicas.len(), 2);
        let opts = replicas[0].url.as_ref().unwrap().opts();
        assert_eq!(opts.pass(), Some(format!("{PASSWORD},x").as_str()));
        assert_eq!(opts.ip_or_hostname(), "db-replica-0");
        assert_eq!(loaded.sources().of("replicas.1"), env("APP_DB_REPLICAS"));
        Ok(())
    });
}

/// Every problem is reported at once, with its key and source; no value
/// of a URL key is quoted.
#[test]
fn every_problem_at_once_and_no_password_in_the_error() {
    let yaml = format!(
        "primary:\n  url: mysql://app:{PASSWORD}@db-primary/shop\n  max_opn: 20\n\
         replica:\n  url: mysql://app:{PASSWORD}@db-replica-9/shop\n\
         replicas:\n  - mysql://app:{PASSWORD}@db-replica-0:notaport/shop\n\
         replica_lag: 5s\n\
         max_replica_lag: 0s\n\
         replica_fallback: nowhere\n"
    );
    let error: ConfigError =
        ClusterOptions::load_from(Figment::from(Yaml::string(&yaml))).expect_err("five problems");
    let text = error.to_string();
    for expected in [
        "primary.max_opn",
        "did you mean `max_open`",
        "replica.url",
        "`replicas`",
        "replicas.0",
        "replica_lag from YAML source string: unknown key",
        "max_replica_lag",
        "replica_fallback",
        "primary or fail",
    ] {
        assert!(text.contains(expected), "no {expected:?} in: {text}");
    }
    for shown in [text, format!("{error:?}")] {
        assert!(
            !shown.contains(PASSWORD),
            "the error shows a password: {shown}"
        );
    }
}

#[test]
fn a_missing_primary_url_says_where_to_set_it() {
    Jail::expect_with(|jail| {
        jail.create_file("db.yaml", "primary:\n  max_open: 20\n")?;
        let error = ClusterOptions::load("APP_DB", Some("db.yaml")).expect_err("no primary URL");
        let text = error.to_string();
        assert!(text.contains("primary.url"), "{text}");
        assert!(text.contains("APP_DB_PRIMARY__URL"), "{text}");
        Ok(())
    });
}

/// Loaded from a file, connected to real replication: the members start,
/// and a boot finding on a replica names the file key behind the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loaded_cluster_connects_and_its_boot_report_names_the_file_key() {
    bounded("cluster config connect", TEST_TIMEOUT, async {
        let kit = TestCluster::start(1).await.unwrap();
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        let primary = kit.app_url(kit.primary_index());
        let replica = kit.app_url(kit.replica_indexes()[0]);
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, extra: &str| {
            let path = dir.path().join(name);
            let yaml = format!(
                "primary:\n  url: {primary}\n  max_open: 4\n{extra}replicas:\n  - {replica}\n"
            );
            std::fs::write(&path, yaml).unwrap();
            path.display().to_string()
        };

        // max_connections is 151 on the kit's servers: 5000 cannot fit.
        let bad = write("bad.yaml", "replica:\n  max_open: 5000\n  max_idle: 4\n");
        let error = ClusterOptions::load("", Some(&bad))
            .expect("valid config")
            .connect()
            .await
            .expect_err("the replica's max_open is above its max_connections");
        let text = format!("{error}\n{:?}", error);
        assert!(text.contains("replica-0"), "names the member: {text}");
        assert!(
            text.contains("key `replica.max_open`"),
            "names the file key: {text}"
        );
        assert!(
            !text.contains(&app_password(&primary)),
            "shows a password: {text}"
        );

        let good = write("good.yaml", "");
        let cluster = ClusterOptions::load("", Some(&good))
            .expect("valid config")
            .connect()
            .await
            .expect("the cluster starts");
        let id: Option<u32> = cluster
            .replica()
            .unwrap()
            .query_first("SELECT @@server_id", ())
            .await
            .unwrap();
        assert_eq!(id, kit.server(kit.replica_indexes()[0]).server_id());
        assert_eq!(
            cluster.stats().members.len(),
            2,
            "the primary and one replica"
        );
        cluster.close().await;
    })
    .await;
}

fn app_password(url: &str) -> String {
    let opts = pool_runtime::mysql_async::Opts::from_url(url).unwrap();
    opts.pass().unwrap().to_owned()
}

/// A cluster under a key of a service's larger config file.
#[test]
fn a_cluster_under_a_key_of_a_larger_file_loads_through_focus() {
    let yaml = format!(
        "http:\n  listen: 0.0.0.0:8080\n\
         database:\n  primary:\n    url: mysql://app:{PASSWORD}@db-primary/shop\n  \
         replicas: [mysql://app:{PASSWORD}@db-replica-0/shop]\n  max_replica_lag: 3s\n"
    );
    let figment = Figment::from(Yaml::string(&yaml));
    let loaded = ClusterOptions::load_from(figment.focus("database")).expect("a valid section");
    assert_eq!(loaded.options().replicas.len(), 1);
    assert_eq!(loaded.options().max_replica_lag, Duration::from_secs(3));
}
