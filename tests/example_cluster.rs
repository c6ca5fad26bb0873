//! `examples/cluster.rs` as a process, as the README runs it: it loads its
//! YAML, starts a throwaway primary and two replicas, reads a write back at
//! once and spreads reads over both replicas; a bad value in the
//! environment stops it with the key and the variable named.

mod common;

use std::process::Output;

use common::{TEST_TIMEOUT, bounded, example_binary};
use tokio::process::Command;

async fn run(env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(example_binary("cluster"));
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CLUSTER_DB_PRIMARY__URL")
        .env_remove("CLUSTER_DB_REPLICAS")
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    bounded("the cluster example", TEST_TIMEOUT, command.output())
        .await
        .expect("the example runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_reads_back_a_write_and_spreads_reads_over_both_replicas() {
    let out = run(&[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("config: 2 replicas, max_replica_lag 5s (from examples/config/cluster.yaml (key `max_replica_lag`))"),
        "{stdout}"
    );
    assert!(
        stdout.contains("read back at once: Some(\"hello\")"),
        "{stdout}"
    );
    // `20 reads, by @@server_id: {2: 10, 3: 10}`: two servers, 20 in all.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("20 reads, by @@server_id: "))
        .unwrap_or_else(|| panic!("no read counts in {stdout}"));
    let map = line.split_once('{').map_or("", |(_, rest)| rest);
    let counts: Vec<u32> = map
        .split(['}', ','])
        .filter_map(|part| part.split(':').nth(1))
        .map(|n| n.trim().parse().expect("a count"))
        .collect();
    assert_eq!(counts.len(), 2, "both replicas took reads: {line}");
    assert_eq!(counts.iter().sum::<u32>(), 20, "{line}");
    assert!(stdout.contains("replica-0: in rotation"), "{stdout}");
    assert!(stdout.contains("replica-1: in rotation"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_variable_stops_the_example_naming_it() {
    let out = run(&[("CLUSTER_DB_MAX_REPLICA_LAG", "0s")]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("max_replica_lag"), "{stderr}");
    assert!(
        stderr.contains("environment variable CLUSTER_DB_MAX_REPLICA_LAG"),
        "{stderr}"
    );
}
