//! Side by side, in one run against one throwaway MariaDB over TCP loopback:
//! dedicated connections (the limit), this pool, `mysql_async::Pool` (reset
//! on, its default, and reset off) and `sqlx::MySqlPool`.
//!
//! - **dedicated**: N `mysql_async::Conn`s, each in a `tokio::sync::Mutex`;
//!   task `t` always uses connection `t % N` (so 32 tasks on 8 connections
//!   share each connection four ways). No pool bookkeeping at all: the
//!   lowest cost at which N connections can serve the tasks.
//! - **pool-runtime**: `Pool` with `max_open = max_idle = N`, everything else
//!   default, through `pool.query_first` / `pool.begin()` (what users call).
//! - **pool-runtime get+raw**: the same pool, but `pool.get()` and then the
//!   driver's `query_first` / `exec_first` on the connection: the pool's own
//!   acquire/release cost without the exec path (retry bookkeeping,
//!   statement classification).
//! - **mysql_async reset**: `mysql_async::Pool` with `PoolConstraints`
//!   min = max = N, everything else default (`COM_RESET_CONNECTION` on
//!   every return).
//! - **mysql_async no-reset**: as above with `with_reset_connection(false)`.
//! - **sqlx**: `MySqlPoolOptions::new().max_connections(N)`, everything else
//!   default (which includes `test_before_acquire`, a ping when a connection
//!   has been idle, and a per-connection prepared-statement cache).
//!
//! Protocols: `SELECT 1` goes over the text protocol everywhere (sqlx: an
//! `Executor` call on a `&str`, which sqlx sends as `COM_QUERY`); statements
//! with parameters are prepared and cached per connection everywhere
//! (mysql_async `exec_*`, our pool's parameter path, sqlx `query().bind()`).
//! Transactions start with `START TRANSACTION` (mysql_async, ours) or
//! `BEGIN` (sqlx), both text.
//!
//! Workloads: `SELECT 1`; `SELECT v FROM kv WHERE id = ?` on a 10k-row
//! table with random ids; a write transaction `START TRANSACTION; UPDATE kv
//! SET v = ? WHERE id = ?; COMMIT` (random id; counted as one operation).
//!
//! Per cell: warm-up, then a fixed duration on a multi-thread tokio runtime
//! with 2 worker threads; queries/s, p50/p99/p99.9 latency (acquire
//! included), client CPU per operation (`getrusage(RUSAGE_SELF)` user+system
//! delta over the cell divided by operations: the whole process, so tokio's
//! worker threads and the drivers' background tasks are included; the
//! server is another process and is not), and the ratio to dedicated.
//! Errors are counted and printed, never hidden.
//!
//! TLS, in the same run: a second throwaway server with TLS (a CA made at
//! start by the test kit), on which dedicated connections and this pool
//! each run `SELECT 1` at 8 x 32 in plaintext and over verified TLS
//! (`verify_identity` against the kit's CA), interleaved; then the connect
//! latency of one connection, plaintext vs TLS, alternating.
//!
//! Metrics, in the same run: this pool at 8 x 32 `SELECT 1` without
//! metrics (`PoolBuilder::without_metrics`, the same code as a build without
//! the `metrics` feature), with them on the facade's no-op recorder, and on
//! a real one (`metrics-exporter-prometheus`'s recorder, no HTTP listener,
//! rendered once at the end), through `query_first` and through
//! `get()`+raw; interleaved; the ratios to "off" are printed.
//!
//! The recovery after an idle kill is its own bench target (`recovery`);
//! both share `common/`.
//!
//! `cargo bench -p pool-bench --bench compare` (about 5 minutes);
//! `-- --quick` or `BENCH_QUICK=1` for a short run that proves it works
//! (CI). See BENCHMARKS.md for the numbers and what they mean.
//!
//! To narrow a run (for a profiler, say): `BENCH_SYSTEMS` (comma-separated
//! substrings of system names), `BENCH_WORKLOADS` (`select1`, `pk`, `tx`),
//! `BENCH_SHAPES` (`8x32,1x1`), `BENCH_SECS` (measured seconds per cell),
//! `BENCH_ROUNDS` (interleaved slices per cell).

mod common;

use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;
use pool_runtime::mysql_async::prelude::Queryable;
use pool_runtime::mysql_async::{Conn, Opts, OptsBuilder, SslOpts};
use pool_runtime::testkit::TestServer;
use pool_runtime::{Pool, SslMode};

use common::{
    Filter, ROWS, Setup, System, Workload, drive, histogram, mysql_async_pool, our_options,
    our_pool, quick_requested, sqlx_pool, us,
};

/// How long and how much to run.
struct Mode {
    quick: bool,
    warmup: Duration,
    cell: Duration,
    /// The cell's time is split into this many slices, interleaved across
    /// systems.
    rounds: u32,
    /// (connections, tasks)
    shapes: Vec<(usize, usize)>,
    /// Substrings of system names to run (`BENCH_SYSTEMS`).
    systems: Filter,
    /// Workload keys to run (`BENCH_WORKLOADS`).
    workloads: Filter,
}

impl Mode {
    fn from_env() -> Mode {
        let quick = quick_requested();
        let mut mode = if quick {
            Mode {
                quick,
                warmup: Duration::from_millis(100),
                cell: Duration::from_millis(300),
                rounds: 1,
                shapes: vec![(8, 32)],
                systems: Filter::from_env("BENCH_SYSTEMS"),
                workloads: Filter::from_env("BENCH_WORKLOADS"),
            }
        } else {
            Mode {
                quick,
                warmup: Duration::from_millis(1000),
                cell: Duration::from_secs(3),
                rounds: 3,
                shapes: vec![(8, 32), (32, 128), (1, 1)],
                systems: Filter::from_env("BENCH_SYSTEMS"),
                workloads: Filter::from_env("BENCH_WORKLOADS"),
            }
        };
        // Narrowing, for profiling one cell: see BENCHMARKS.md.
        if let Some(secs) = std::env::var("BENCH_SECS")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
        {
            mode.cell = Duration::from_secs_f64(secs);
        }
        if let Some(rounds) = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
        {
            mode.rounds = rounds.max(1);
        }
        if let Ok(shapes) = std::env::var("BENCH_SHAPES") {
            mode.shapes = shapes
                .split(',')
                .filter_map(|s| {
                    let (c, t) = s.trim().split_once('x')?;
                    Some((c.parse().ok()?, t.parse().ok()?))
                })
                .collect();
        }
        mode
    }

    fn wants_system(&self, name: &str) -> bool {
        self.systems.admits_substring_of(name)
    }

    fn wants_workload(&self, workload: Workload) -> bool {
        self.workloads.admits(workload.key())
    }
}

struct Cell {
    workload: Workload,
    conns: usize,
    tasks: usize,
    system: &'static str,
    ops: u64,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
    cpu: Duration,
    latency: Histogram<u64>,
}

impl Cell {
    fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_per_op_us(&self) -> f64 {
        if self.ops == 0 {
            return f64::NAN;
        }
        self.cpu.as_secs_f64() * 1e6 / self.ops as f64
    }
}

/// Runs one workload and shape on every system: a warm-up each, then
/// `mode.rounds` rounds in which every system runs `mode.cell / rounds` in
/// turn, so load from outside the benchmark drifts over all systems alike.
async fn measure(
    mode: &Mode,
    systems: &[System],
    workload: Workload,
    conns: usize,
    tasks: usize,
) -> Vec<Cell> {
    let mut cells: Vec<Cell> = systems
        .iter()
        .map(|system| Cell {
            workload,
            conns,
            tasks,
            system: system.name(),
            ops: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            cpu: Duration::ZERO,
            latency: histogram(),
        })
        .collect();
    for system in systems {
        drive(system, workload, tasks, mode.warmup).await;
    }
    let slice = mode.cell / mode.rounds;
    for _ in 0..mode.rounds {
        for (system, cell) in systems.iter().zip(&mut cells) {
            let (ops, errors, first_error, elapsed, cpu, latency) =
                drive(system, workload, tasks, slice).await;
            cell.ops += ops;
            cell.errors += errors;
            if cell.first_error.is_none() {
                cell.first_error = first_error;
            }
            cell.elapsed += elapsed;
            cell.cpu += cpu;
            cell.latency.add(&latency).expect("same histogram bounds");
        }
    }
    for cell in &cells {
        eprintln!(
            "  {:<42} {:>3}x{:<3} {:<34} {:>9.0}/s  errors {}",
            workload.name(),
            conns,
            tasks,
            cell.system,
            cell.per_sec(),
            cell.errors
        );
    }
    cells
}

async fn dedicated(url: &str, n: usize) -> System {
    let opts = Opts::from_url(url).expect("the test server's URL parses");
    dedicated_with(opts, n).await
}

async fn dedicated_with(opts: Opts, n: usize) -> System {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = Conn::new(opts.clone()).await.expect("connects");
        conns.push(tokio::sync::Mutex::new(conn));
    }
    System::Dedicated(Arc::new(conns))
}

async fn systems(url: &str, sqlx_url: &str, n: usize) -> Vec<System> {
    let ours = our_pool(url, n).await;
    vec![
        dedicated(url, n).await,
        System::Ours(ours.clone()),
        System::OursRaw(ours),
        System::MysqlAsync(
            mysql_async_pool(url, n, true),
            "mysql_async Pool (reset, default)",
        ),
        System::MysqlAsync(
            mysql_async_pool(url, n, false),
            "mysql_async Pool (reset off)",
        ),
        System::Sqlx(sqlx_pool(sqlx_url, n).await),
    ]
}

async fn create_table(server: &TestServer) {
    let mut conn = server.conn().await.expect("connects");
    conn.query_drop("DROP TABLE IF EXISTS kv")
        .await
        .expect("drop");
    conn.query_drop("CREATE TABLE kv (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB")
        .await
        .expect("create kv");
    let ids: Vec<u32> = (1..=ROWS).collect();
    for chunk in ids.chunks(1000) {
        let values: Vec<String> = chunk.iter().map(|id| format!("({id}, 'v{id}')")).collect();
        conn.query_drop(format!(
            "INSERT INTO kv (id, v) VALUES {}",
            values.join(",")
        ))
        .await
        .expect("fill kv");
    }
    conn.disconnect().await.expect("disconnect");
}

fn print_table(cells: &[Cell]) {
    println!(
        "| workload | conns x tasks | system | ops/s | vs dedicated | p50 µs | p99 µs | p99.9 µs | CPU µs/op | CPU vs dedicated | errors |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for cell in cells {
        let limit = cells.iter().find(|c| {
            c.workload == cell.workload
                && c.conns == cell.conns
                && c.tasks == cell.tasks
                && c.system == "dedicated conns (limit)"
        });
        let (ratio_to_limit, cpu_ratio) = match limit {
            Some(l) => (
                cell.per_sec() / l.per_sec(),
                cell.cpu_per_op_us() / l.cpu_per_op_us(),
            ),
            None => (f64::NAN, f64::NAN),
        };
        let ratio = |r: f64| {
            if r.is_finite() {
                format!("{r:.2}")
            } else {
                "-".into()
            }
        };
        println!(
            "| {} | {}x{} | {} | {:.0} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {} | {} |",
            cell.workload.name(),
            cell.conns,
            cell.tasks,
            cell.system,
            cell.per_sec(),
            ratio(ratio_to_limit),
            us(cell.latency.value_at_quantile(0.5)),
            us(cell.latency.value_at_quantile(0.99)),
            us(cell.latency.value_at_quantile(0.999)),
            cell.cpu_per_op_us(),
            ratio(cpu_ratio),
            cell.errors,
        );
    }
    for cell in cells.iter().filter(|c| c.first_error.is_some()) {
        println!(
            "\nfirst error, {} {}x{} {}: {}",
            cell.workload.name(),
            cell.conns,
            cell.tasks,
            cell.system,
            cell.first_error.as_deref().unwrap_or_default()
        );
    }
}

async fn bench(mode: &Mode) {
    let setup = Setup::start().await;
    let (server, url, sqlx_url) = (&setup.server, &setup.url, &setup.sqlx_url);
    create_table(server).await;
    setup.print_header("compare", mode.quick);
    println!(
        "per cell: {:?} warm-up, {:?} measured in {} slice(s) interleaved across systems\n",
        mode.warmup, mode.cell, mode.rounds,
    );

    let mut cells = Vec::new();
    for &(conns, tasks) in &mode.shapes {
        eprintln!("shape {conns} connections x {tasks} tasks");
        let mut systems = systems(url, sqlx_url, conns).await;
        let (wanted, unwanted): (Vec<_>, Vec<_>) =
            systems.drain(..).partition(|s| mode.wants_system(s.name()));
        for system in unwanted {
            // Ours and "get()+raw" share one pool: close it only when
            // neither is wanted; dropping a handle leaves it to the other.
            let shares_pool = matches!(system, System::Ours(_) | System::OursRaw(_))
                && wanted
                    .iter()
                    .any(|s| matches!(s, System::Ours(_) | System::OursRaw(_)));
            if !shares_pool {
                system.close().await;
            }
        }
        let systems = wanted;
        for workload in Workload::ALL
            .into_iter()
            .filter(|w| mode.wants_workload(*w))
        {
            cells.extend(measure(mode, &systems, workload, conns, tasks).await);
        }
        for system in systems {
            system.close().await;
        }
    }
    print_table(&cells);
    if mode.wants_workload(Workload::Select1) {
        metrics_part(mode, url).await;
    }
}

/// The metrics cells' names: (off, no-op recorder, Prometheus recorder),
/// through `query_first` and through `get()`+raw.
const METRICS_CELLS: [[&str; 3]; 2] = [
    [
        "pool-runtime (query_first), metrics off",
        "pool-runtime (query_first), metrics no-op",
        "pool-runtime (query_first), metrics prometheus",
    ],
    [
        "pool-runtime get()+raw, metrics off",
        "pool-runtime get()+raw, metrics no-op",
        "pool-runtime get()+raw, metrics prometheus",
    ],
];

/// Our pool with its metrics registered with `recorder` (`None`: without
/// metrics). The pool registers with the thread's recorder while it is
/// built; the bench's main future runs on this thread.
async fn metered_pool(url: &str, n: usize, recorder: Option<&dyn metrics::Recorder>) -> Pool {
    let builder = Pool::builder(our_options(url, n));
    let Some(recorder) = recorder else {
        return builder
            .without_metrics()
            .connect()
            .await
            .expect("pool-runtime boots");
    };
    let _local = metrics::set_default_local_recorder(recorder);
    builder.connect().await.expect("pool-runtime boots")
}

/// This pool with metrics off, on a no-op recorder and on Prometheus's, at
/// 8 x 32 SELECT 1, interleaved.
async fn metrics_part(mode: &Mode, url: &str) {
    let (conns, tasks) = (8, 32);
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = prometheus.handle();
    let noop = metrics::NoopRecorder;
    let recorders: [Option<&dyn metrics::Recorder>; 3] = [None, Some(&noop), Some(&prometheus)];
    let mut systems = Vec::new();
    for (i, recorder) in recorders.into_iter().enumerate() {
        let pool = metered_pool(url, conns, recorder).await;
        systems.push(System::Labelled(
            METRICS_CELLS[0][i],
            Box::new(System::Ours(pool.clone())),
        ));
        systems.push(System::Labelled(
            METRICS_CELLS[1][i],
            Box::new(System::OursRaw(pool)),
        ));
    }
    systems.retain(|s| mode.wants_system(s.name()));
    if systems.is_empty() {
        return;
    }
    eprintln!("metrics: {conns} connections x {tasks} tasks, SELECT 1");
    let cells = measure(mode, &systems, Workload::Select1, conns, tasks).await;
    for system in systems {
        system.close().await;
    }
    let rendered = handle.render();
    let series = rendered
        .lines()
        .filter(|l| l.starts_with("db_client_connection") || l.starts_with("pool_runtime"))
        .count();

    println!("\n## Metrics on beside off (8 x 32 SELECT 1, same server, interleaved)\n");
    println!("| system | ops/s | vs off | p50 µs | p99 µs | CPU µs/op | CPU vs off | errors |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for cell in &cells {
        let off = METRICS_CELLS
            .iter()
            .find(|names| names.contains(&cell.system))
            .and_then(|names| cells.iter().find(|c| c.system == names[0]));
        let (rate, cpu) = off.map_or((f64::NAN, f64::NAN), |off| {
            (
                cell.per_sec() / off.per_sec(),
                cell.cpu_per_op_us() / off.cpu_per_op_us(),
            )
        });
        println!(
            "| {} | {:.0} | {:.3} | {:.0} | {:.0} | {:.1} | {:.3} | {} |",
            cell.system,
            cell.per_sec(),
            rate,
            us(cell.latency.value_at_quantile(0.5)),
            us(cell.latency.value_at_quantile(0.99)),
            cell.cpu_per_op_us(),
            cpu,
            cell.errors,
        );
    }
    println!(
        "\nPrometheus recorder: {series} exposition lines of the pool's metrics rendered after the run"
    );
    for cell in cells.iter().filter(|c| c.first_error.is_some()) {
        println!(
            "\nfirst error, metrics part, {}: {}",
            cell.system,
            cell.first_error.as_deref().unwrap_or_default()
        );
    }
}

/// The TLS cells' names: (dedicated, pool) for each transport.
const PLAIN: (&str, &str) = (
    "dedicated conns, plaintext",
    "pool-runtime (query_first), plaintext",
);
const TLS: (&str, &str) = (
    "dedicated conns, TLS verify_identity",
    "pool-runtime (query_first), TLS verify_identity",
);

/// The driver's options for verified TLS with the kit's CA.
fn tls_opts(url: &str, ca: &std::path::Path) -> Opts {
    let opts = Opts::from_url(url).expect("the test server's URL parses");
    let ssl = SslOpts::default().with_root_certs(vec![ca.to_path_buf().into()]);
    OptsBuilder::from_opts(opts).ssl_opts(ssl).into()
}

async fn our_pool_tls(url: &str, n: usize, ca: Option<&std::path::Path>) -> Pool {
    let mut options = our_options(url, n);
    match ca {
        Some(ca) => {
            options.ssl_mode = SslMode::VerifyIdentity;
            options.ssl_ca = Some(ca.to_path_buf());
        }
        None => options.ssl_mode = SslMode::Disabled,
    }
    Pool::builder(options)
        .connect()
        .await
        .expect("pool-runtime boots against the TLS test server")
}

/// The time to open one connection (TCP, TLS if any, auth), `rounds` times
/// per transport, alternating plaintext and TLS.
async fn connect_latency(plain: &Opts, tls: &Opts, rounds: usize) -> [Histogram<u64>; 2] {
    let mut times = [histogram(), histogram()];
    for _ in 0..rounds {
        for (opts, hist) in [plain, tls].into_iter().zip(times.iter_mut()) {
            let began = std::time::Instant::now();
            let conn = Conn::new(opts.clone()).await.expect("connects");
            let took = u64::try_from(began.elapsed().as_nanos()).unwrap_or(u64::MAX);
            hist.record(took.max(1))
                .expect("within the histogram's bounds");
            let _ = conn.disconnect().await;
        }
    }
    times
}

/// TLS beside plaintext on one TLS-capable server, in the same run.
async fn tls_part(mode: &Mode) {
    let server = TestServer::builder()
        .tls()
        .start()
        .await
        .expect("a throwaway MariaDB with TLS starts");
    let ca = server
        .tls()
        .expect("started with TLS")
        .ca_path()
        .to_path_buf();
    let url = server.url().to_owned();
    let (conns, tasks) = (8, 32);
    eprintln!("TLS: {conns} connections x {tasks} tasks, SELECT 1");
    let plain_opts = Opts::from_url(&url).expect("the test server's URL parses");
    let tls_opts = tls_opts(&url, &ca);
    let systems = vec![
        System::Labelled(
            PLAIN.0,
            Box::new(dedicated_with(plain_opts.clone(), conns).await),
        ),
        System::Labelled(
            PLAIN.1,
            Box::new(System::Ours(our_pool_tls(&url, conns, None).await)),
        ),
        System::Labelled(
            TLS.0,
            Box::new(dedicated_with(tls_opts.clone(), conns).await),
        ),
        System::Labelled(
            TLS.1,
            Box::new(System::Ours(our_pool_tls(&url, conns, Some(&ca)).await)),
        ),
    ];
    let cells = measure(mode, &systems, Workload::Select1, conns, tasks).await;
    for system in systems {
        system.close().await;
    }
    let rounds = if mode.quick { 20 } else { 200 };
    let [plain_connect, tls_connect] = connect_latency(&plain_opts, &tls_opts, rounds).await;

    let rate = |name: &str| {
        cells
            .iter()
            .find(|c| c.system == name)
            .map_or(f64::NAN, Cell::per_sec)
    };
    println!("\n## TLS beside plaintext (one TLS-capable server, same run)\n");
    println!("| system | ops/s | p50 µs | p99 µs | CPU µs/op | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for cell in &cells {
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.1} | {} |",
            cell.system,
            cell.per_sec(),
            us(cell.latency.value_at_quantile(0.5)),
            us(cell.latency.value_at_quantile(0.99)),
            cell.cpu_per_op_us(),
            cell.errors,
        );
    }
    println!(
        "\npool / dedicated: plaintext {:.3}, TLS {:.3}; TLS / plaintext: dedicated {:.3}, pool {:.3}",
        rate(PLAIN.1) / rate(PLAIN.0),
        rate(TLS.1) / rate(TLS.0),
        rate(TLS.0) / rate(PLAIN.0),
        rate(TLS.1) / rate(PLAIN.1),
    );
    println!("\n| connect ({rounds} each, alternating) | p50 µs | p99 µs |");
    println!("|---|---:|---:|");
    for (name, hist) in [
        ("plaintext", &plain_connect),
        ("TLS verify_identity", &tls_connect),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} |",
            us(hist.value_at_quantile(0.5)),
            us(hist.value_at_quantile(0.99)),
        );
    }
    for cell in cells.iter().filter(|c| c.first_error.is_some()) {
        println!(
            "\nfirst error, TLS part, {}: {}",
            cell.system,
            cell.first_error.as_deref().unwrap_or_default()
        );
    }
}

fn main() {
    common::run(async {
        let mode = Mode::from_env();
        bench(&mode).await;
        if mode.wants_workload(Workload::Select1) {
            tls_part(&mode).await;
        }
    });
}
