//! A primary and its replicas behind one handle: the config loaded from
//! `examples/config/cluster.yaml` and `CLUSTER_DB_*` variables, writes on
//! the primary, a write read back at once (read-your-writes), then reads
//! spread over the replicas, and the cluster's stats.
//!
//! ```text
//! cargo run --example cluster
//! CLUSTER_DB_PRIMARY__URL=mysql://app:pw@db-primary/shop \
//!   CLUSTER_DB_REPLICAS=mysql://app:pw@db-replica-0/shop,mysql://app:pw@db-replica-1/shop \
//!   cargo run --example cluster
//! ```
//!
//! Without `CLUSTER_DB_PRIMARY__URL` it starts a throwaway primary and two
//! replicas with real replication (the test kit). A config the servers
//! cannot honour stops it with the boot report, naming each key's source.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use pool_runtime::ClusterOptions;
use pool_runtime::config::{Yaml, in_code};
use pool_runtime::figment::Figment;
use pool_runtime::figment::providers::{Env, Format};
use pool_runtime::testkit::TestCluster;

const CONFIG_FILE: &str = "examples/config/cluster.yaml";

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut layers = Figment::from(Yaml::file_exact(CONFIG_FILE))
        .merge(Env::prefixed("CLUSTER_DB_").split("__"));
    // Without a URL in the environment, a throwaway cluster stands in.
    let kit = match std::env::var_os("CLUSTER_DB_PRIMARY__URL") {
        Some(_) => None,
        None => {
            let kit = TestCluster::start(2).await?;
            // The replica check reads `SHOW SLAVE STATUS`.
            kit.grant_app("SLAVE MONITOR").await?;
            let replicas: Vec<String> = kit
                .replica_indexes()
                .iter()
                .map(|&i| kit.app_url(i))
                .collect();
            layers = layers
                .merge(in_code("primary.url", kit.app_url(kit.primary_index())))
                .merge(in_code("replicas", replicas));
            Some(kit)
        }
    };
    let loaded = ClusterOptions::load_from(layers)?;
    println!(
        "config: {} replicas, max_replica_lag {:?} (from {})",
        loaded.options().replicas.len(),
        loaded.options().max_replica_lag,
        loaded.sources().of("max_replica_lag"),
    );
    let cluster = loaded.connect().await?;

    cluster
        .exec(
            "CREATE TABLE IF NOT EXISTS notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT)",
            (),
        )
        .await?;
    let written = cluster
        .exec("INSERT INTO notes (body) VALUES (?)", ("hello",))
        .await?;
    let id = written.last_insert_id.unwrap_or_default();
    // Within read_your_writes of the write, this handle reads the primary.
    let body: Option<String> = cluster
        .query_first("SELECT body FROM notes WHERE id = ?", (id,))
        .await?;
    println!("read back at once: {body:?}");

    tokio::time::sleep(cluster.options().read_your_writes + Duration::from_millis(50)).await;
    let mut served_by: BTreeMap<u32, u32> = BTreeMap::new();
    for _ in 0..20 {
        let server: Option<u32> = cluster.query_first("SELECT @@server_id", ()).await?;
        *served_by.entry(server.unwrap_or_default()).or_default() += 1;
    }
    println!("20 reads, by @@server_id: {served_by:?}");

    let stats = cluster.stats();
    for member in &stats.members {
        let state = match (member.primary, &member.out) {
            (true, _) => "primary".to_owned(),
            (false, None) => format!("in rotation, lag {:?}", member.lag),
            (false, Some(why)) => format!("out of rotation: {why}"),
        };
        println!("{}: {state}", member.pool_name);
    }
    println!(
        "reads: {} on replicas, {} on the primary for read-your-writes",
        stats.reads_to_replicas, stats.reads_to_primary_ryw
    );
    cluster.close().await;
    drop(kit);
    Ok(())
}
