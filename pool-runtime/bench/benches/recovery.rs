//! Recovery after an idle kill, side by side: this pool, `mysql_async::Pool`
//! (reset on, its default, and reset off) and `sqlx::MySqlPool`, one after
//! another against one throwaway MariaDB over TCP loopback.
//!
//! Each pool holds 8 idle connections, the server kills them all (as its
//! `wait_timeout` would), and a burst of 32 concurrent `SELECT 1`s follows;
//! its errors and latency are printed beside the same burst without the
//! kill. Dedicated connections are left out: they have no way to recover.
//!
//! `cargo bench -p pool-bench --bench recovery` (10 rounds per pool, about
//! two minutes); `-- --quick` or `BENCH_QUICK=1` for 2 rounds (CI). See
//! BENCHMARKS.md for the numbers and what they mean.

mod common;

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pool_runtime::testkit::TestServer;

use common::{
    Setup, System, Workload, drive, histogram, mysql_async_pool, nanos, our_pool, quick_requested,
    sqlx_pool, us,
};

/// How many rounds to run.
struct Mode {
    quick: bool,
    rounds: usize,
}

impl Mode {
    fn from_env() -> Mode {
        let quick = quick_requested();
        Mode {
            quick,
            rounds: if quick { 2 } else { 10 },
        }
    }
}

/// Every task of a burst starts at once; latency from the burst's start.
async fn burst(system: &System, size: usize) -> (Histogram<u64>, u64, Option<String>) {
    let started = Instant::now();
    let mut handles = Vec::with_capacity(size);
    for task in 0..size {
        let system = system.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(task as u64);
            let result = system.run(Workload::Select1, task, &mut rng).await;
            (started.elapsed(), result)
        }));
    }
    let mut latency = histogram();
    let mut errors = 0;
    let mut first_error = None;
    for handle in handles {
        let (took, result) = handle.await.expect("burst task panicked");
        match result {
            Ok(()) => latency.saturating_record(nanos(took)),
            Err(e) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    (latency, errors, first_error)
}

struct Recovery {
    system: &'static str,
    warm: Histogram<u64>,
    warm_errors: u64,
    killed: usize,
    after_kill: Histogram<u64>,
    errors: u64,
    bursts: usize,
    first_error: Option<String>,
}

const RECOVERY_CONNS: usize = 8;
/// How long the pools sit idle before each burst: longer than our pool's
/// validation bypass window (500 ms), so its checkouts ping, as in
/// production after a quiet spell.
const IDLE_BEFORE_BURST: Duration = Duration::from_millis(1000);
/// Between the kill and the burst: the server has closed the sockets.
const AFTER_KILL: Duration = Duration::from_millis(200);

async fn recovery(mode: &Mode, server: &TestServer, url: &str, sqlx_url: &str) -> Vec<Recovery> {
    let n = RECOVERY_CONNS;
    let size = n * 4;
    let mut out = Vec::new();
    for which in 0..4 {
        let system = match which {
            0 => System::Ours(our_pool(url, n).await),
            1 => System::MysqlAsync(
                mysql_async_pool(url, n, true),
                "mysql_async Pool (reset, default)",
            ),
            2 => System::MysqlAsync(
                mysql_async_pool(url, n, false),
                "mysql_async Pool (reset off)",
            ),
            _ => System::Sqlx(sqlx_pool(sqlx_url, n).await),
        };
        // Fill the pool: N connections open, then idle.
        drive(&system, Workload::Select1, n, Duration::from_millis(200)).await;
        let mut rec = Recovery {
            system: system.name(),
            warm: histogram(),
            warm_errors: 0,
            killed: 0,
            after_kill: histogram(),
            errors: 0,
            bursts: mode.rounds,
            first_error: None,
        };
        for _ in 0..mode.rounds {
            tokio::time::sleep(IDLE_BEFORE_BURST).await;
            let (h, e, _) = burst(&system, size).await;
            rec.warm.add(&h).expect("same bounds");
            rec.warm_errors += e;
            // Refill to N idle connections (a burst may have opened or
            // closed some), then idle, kill, burst.
            drive(&system, Workload::Select1, n, Duration::from_millis(50)).await;
            tokio::time::sleep(IDLE_BEFORE_BURST).await;
            rec.killed += server.kill_all_client_connections().await.expect("kill");
            tokio::time::sleep(AFTER_KILL).await;
            let (h, e, first) = burst(&system, size).await;
            rec.after_kill.add(&h).expect("same bounds");
            rec.errors += e;
            if rec.first_error.is_none() {
                rec.first_error = first;
            }
        }
        eprintln!(
            "  recovery {:<34} errors after kill {}",
            rec.system, rec.errors
        );
        system.close().await;
        out.push(rec);
    }
    out
}

fn print_recovery(recs: &[Recovery]) {
    let size = RECOVERY_CONNS * 4;
    println!(
        "| system | bursts | conns killed | errors after kill | burst p50 µs after kill | burst p99 µs after kill | warm burst p50 µs | warm burst p99 µs | p99 after kill − warm, ms | warm errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in recs {
        let p99 = |h: &Histogram<u64>| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.99)
            }
        };
        let p50 = |h: &Histogram<u64>| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.5)
            }
        };
        println!(
            "| {} | {} x {} queries | {} | {} / {} | {:.0} | {:.0} | {:.0} | {:.0} | {:+.2} | {} |",
            r.system,
            r.bursts,
            size,
            r.killed,
            r.errors,
            r.bursts * size,
            us(p50(&r.after_kill)),
            us(p99(&r.after_kill)),
            us(p50(&r.warm)),
            us(p99(&r.warm)),
            (p99(&r.after_kill) as f64 - p99(&r.warm) as f64) / 1e6,
            r.warm_errors,
        );
    }
    for r in recs.iter().filter(|r| r.first_error.is_some()) {
        println!(
            "\nfirst error after kill, {}: {}",
            r.system,
            r.first_error.as_deref().unwrap_or_default()
        );
    }
}

async fn bench(mode: Mode) {
    let setup = Setup::start().await;
    setup.print_header("recovery", mode.quick);
    eprintln!("recovery after an idle kill");
    let recs = recovery(&mode, &setup.server, &setup.url, &setup.sqlx_url).await;
    println!(
        "\n## Recovery: {} idle pooled connections killed by the server, then a burst of {} concurrent SELECT 1\n\n\
         Each round: {:?} idle, warm burst; refill; {:?} idle, KILL every client connection, {:?}, burst.\n",
        RECOVERY_CONNS,
        RECOVERY_CONNS * 4,
        IDLE_BEFORE_BURST,
        IDLE_BEFORE_BURST,
        AFTER_KILL,
    );
    print_recovery(&recs);
}

fn main() {
    common::run(bench(Mode::from_env()));
}
