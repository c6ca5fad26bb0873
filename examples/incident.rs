//! The incident this project exists for, replayed in 10 seconds.
//!
//! A service kept up to 10 idle connections for 600 s; the server killed
//! sessions idle for 500 s (`wait_timeout`). Here the server's limit is
//! scaled down to 2 s. The same traffic runs twice: through a pool that
//! hands out whatever it holds (as the incident's pool did), and through
//! `pool_runtime::Pool`, whose boot checks refuse the config, and which,
//! forced to start anyway, absorbs the dead connections.
//!
//! ```text
//! cargo run --example incident
//! ```
//!
//! It always starts its own throwaway MariaDB: it changes a server global.

use std::error::Error;
use std::time::Duration;

use pool_runtime::boot::{BootPolicy, Policy};
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{Conn, Opts};
use pool_runtime::testkit::TestServer;
use pool_runtime::{BootError, Pool, PoolOptions};

const CONNECTIONS: usize = 10;
const IDLE: Duration = Duration::from_secs(3);

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let server = TestServer::start().await?;
    server.set_global("wait_timeout", 2).await?;
    println!("A throwaway MariaDB with wait_timeout = 2 s (the incident's 500 s, scaled down).\n");

    println!("1. A pool that hands out what it holds, unchecked (the incident's pool)");
    let mut naive = Vec::new();
    for _ in 0..CONNECTIONS {
        naive.push(Conn::new(Opts::from_url(server.url())?).await?);
    }
    let first = burst_on_naive(&mut naive).await;
    println!("   10 queries: {}", summary(&first));
    println!("   ... {} s idle ...", IDLE.as_secs());
    tokio::time::sleep(IDLE).await;
    let second = burst_on_naive(&mut naive).await;
    println!("   10 queries: {}", summary(&second));
    for error in second.iter().filter_map(|r| r.as_ref().err()).take(3) {
        println!("     error: {error}");
    }

    println!("\n2. pool_runtime::Pool with the same settings: max_idle = 10, max_lifetime = 600 s");
    let mut options = PoolOptions::from_url(server.url())?;
    options.max_open = CONNECTIONS as u32;
    options.max_idle = CONNECTIONS as u32;
    options.max_lifetime = Some(Duration::from_secs(600));
    options.max_idle_time = Some(Duration::from_secs(600));
    match Pool::builder(options.clone()).connect().await {
        Err(BootError::Rejected(report)) => {
            println!("   refused at boot, before any query:\n");
            for line in report.to_string().lines() {
                println!("   | {line}");
            }
        }
        Err(e) => return Err(e.into()),
        Ok(_) => println!("   (unexpectedly accepted)"),
    }

    println!("\n3. The same pool forced to start (on_violation = warn): the run-time safety net");
    options.on_violation = BootPolicy::all(Policy::Warn);
    let pool = Pool::builder(options).connect().await?;
    let first = burst_on_pool(&pool).await;
    println!("   10 queries: {}", summary(&first));
    println!("   ... {} s idle ...", IDLE.as_secs());
    tokio::time::sleep(IDLE).await;
    let second = burst_on_pool(&pool).await;
    println!("   10 queries: {}", summary(&second));
    let stats = pool.stats();
    println!(
        "   stats: {} dead idle connections caught by a validation ping and replaced \
         unseen, {} new connections opened, {} retries",
        stats.validation_failed,
        stats.connections_created,
        stats.bad_conn_retries + stats.read_retries
    );
    pool.close().await;
    Ok(())
}

/// One query on each held connection, as the incident's handlers did.
async fn burst_on_naive(conns: &mut [Conn]) -> Vec<Result<i64, String>> {
    let queries = conns.iter_mut().map(|conn| async move {
        let row: Result<Option<i64>, _> = conn.query_first("SELECT 1 + SLEEP(0.05)").await;
        row.map(|v| v.unwrap_or_default())
            .map_err(|e| e.to_string())
    });
    let mut results = Vec::new();
    for query in queries {
        results.push(query.await);
    }
    results
}

async fn burst_on_pool(pool: &Pool) -> Vec<Result<i64, String>> {
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let row: Result<Option<i64>, _> =
                    pool.query_first("SELECT 1 + SLEEP(0.05)", ()).await;
                row.map(|v| v.unwrap_or_default())
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    results
}

fn summary(results: &[Result<i64, String>]) -> String {
    let ok = results.iter().filter(|r| r.is_ok()).count();
    format!("{ok} succeeded, {} failed", results.len() - ok)
}
