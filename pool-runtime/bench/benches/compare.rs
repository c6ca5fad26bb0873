//! Side by side, in one run against one throwaway MariaDB over TCP loopback:
//! the limit, dedicated connections shared by the tasks, this pool,
//! `mysql_async::Pool` (reset on, its default, and reset off) and
//! `sqlx::MySqlPool`.
//!
//! - **limit**: N `mysql_async::Conn`s driven by N tasks, one each, whatever
//!   the shape's task count: nothing is ever handed off or waited for, so
//!   this is what N connections can do on this machine. Every ratio divides
//!   by it.
//! - **dedicated shared**: the same N connections, each in a
//!   `tokio::sync::Mutex`, shared by the shape's tasks: task `t` always uses
//!   connection `t % N` (so 32 tasks on 8 connections share each connection
//!   four ways). No pool bookkeeping, but the tasks contend.
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
//! Per cell: warm-up, then rounds of one slice per system, the order
//! rotated each round, on a multi-thread tokio runtime with 2 worker
//! threads; every ratio is the median of the per-round ratios, with their
//! range; queries/s, p50/p99/p99.9 latency (acquire
//! included), client CPU per operation (`getrusage(RUSAGE_SELF)` user+system
//! delta over the cell divided by operations: the whole process, so tokio's
//! worker threads and the drivers' background tasks are included; the
//! server is another process and is not), and the ratios to the limit.
//! `-- --write-markdown` writes the tables, with the commit, date, machine
//! and load in a header, into BENCHMARKS.md's generated block.
//! Errors are counted and printed, never hidden.
//!
//! TLS, in the same run: a second throwaway server with TLS (a CA made at
//! start by the test kit), on which the limit and this pool
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

use common::provenance::{
    benchmarks_md, commit, cpu_model, cpus, date_utc, load_average, write_block,
};
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
                rounds: 2,
                shapes: vec![(8, 32)],
                systems: Filter::from_env("BENCH_SYSTEMS"),
                workloads: Filter::from_env("BENCH_WORKLOADS"),
            }
        } else {
            Mode {
                quick,
                warmup: Duration::from_millis(1000),
                cell: Duration::from_secs(6),
                rounds: 12,
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

/// One slice of a cell: a system driven for `mode.cell / mode.rounds`.
#[derive(Clone, Copy)]
struct Slice {
    ops: u64,
    elapsed: Duration,
    cpu: Duration,
}

impl Slice {
    fn per_sec(self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn cpu_per_op(self) -> f64 {
        if self.ops == 0 {
            return f64::NAN;
        }
        self.cpu.as_secs_f64() / self.ops as f64
    }
}

struct Cell {
    workload: Workload,
    conns: usize,
    tasks: usize,
    system: &'static str,
    errors: u64,
    first_error: Option<String>,
    /// One per round, in round order (the same round index is the same
    /// stretch of time for every system of the cell).
    slices: Vec<Slice>,
    latency: Histogram<u64>,
}

impl Cell {
    fn ops(&self) -> u64 {
        self.slices.iter().map(|s| s.ops).sum()
    }

    fn per_sec(&self) -> f64 {
        let elapsed: Duration = self.slices.iter().map(|s| s.elapsed).sum();
        self.ops() as f64 / elapsed.as_secs_f64()
    }

    fn cpu_per_op_us(&self) -> f64 {
        let cpu: Duration = self.slices.iter().map(|s| s.cpu).sum();
        if self.ops() == 0 {
            return f64::NAN;
        }
        cpu.as_secs_f64() * 1e6 / self.ops() as f64
    }

    fn p50_us(&self) -> f64 {
        us(self.latency.value_at_quantile(0.5))
    }

    fn same_shape(&self, other: &Cell) -> bool {
        self.workload == other.workload && self.conns == other.conns && self.tasks == other.tasks
    }
}

/// The median and range of per-round ratios between two cells measured in
/// the same rounds: each round compares two slices that ran back to back,
/// so drift in the machine's load cancels out of each ratio.
#[derive(Clone, Copy)]
struct Spread {
    median: f64,
    min: f64,
    max: f64,
}

impl Spread {
    fn of(mut ratios: Vec<f64>) -> Spread {
        ratios.retain(|r| r.is_finite());
        if ratios.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        ratios.sort_by(f64::total_cmp);
        let n = ratios.len();
        let median = if n % 2 == 1 {
            ratios[n / 2]
        } else {
            (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
        };
        Spread {
            median,
            min: ratios[0],
            max: ratios[n - 1],
        }
    }

    /// Throughput of `a` over `b`, round by round.
    fn rate(a: &Cell, b: &Cell) -> Spread {
        Spread::of(
            a.slices
                .iter()
                .zip(&b.slices)
                .map(|(x, y)| x.per_sec() / y.per_sec())
                .collect(),
        )
    }

    /// Client CPU per operation of `a` over `b`, round by round.
    fn cpu(a: &Cell, b: &Cell) -> Spread {
        Spread::of(
            a.slices
                .iter()
                .zip(&b.slices)
                .map(|(x, y)| x.cpu_per_op() / y.cpu_per_op())
                .collect(),
        )
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.median.is_finite() {
            return f.write_str("-");
        }
        if self.min == self.max {
            return write!(f, "{:.3}", self.median);
        }
        write!(f, "{:.3} ({:.2}-{:.2})", self.median, self.min, self.max)
    }
}

/// Runs one workload and shape on every system: a warm-up each, then
/// `mode.rounds` rounds in which every system runs `mode.cell / rounds` in
/// turn, the order rotated by one each round, so that load from outside the
/// benchmark, and whatever a system leaves behind for the next one, falls
/// on all systems alike.
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
            errors: 0,
            first_error: None,
            slices: Vec::with_capacity(mode.rounds as usize),
            latency: histogram(),
        })
        .collect();
    for system in systems {
        drive(system, workload, system.tasks_for(tasks), mode.warmup).await;
    }
    let slice = mode.cell / mode.rounds;
    let n = systems.len();
    for round in 0..mode.rounds as usize {
        for k in 0..n {
            let i = (k + round) % n;
            let system = &systems[i];
            let (ops, errors, first_error, elapsed, cpu, latency) =
                drive(system, workload, system.tasks_for(tasks), slice).await;
            let cell = &mut cells[i];
            cell.slices.push(Slice { ops, elapsed, cpu });
            cell.errors += errors;
            if cell.first_error.is_none() {
                cell.first_error = first_error;
            }
            cell.latency.add(&latency).expect("same histogram bounds");
        }
    }
    for cell in &cells {
        eprintln!(
            "  {:<42} {:>3}x{:<3} {:<36} {:>9.0}/s  errors {}",
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

async fn connections(opts: Opts, n: usize) -> Arc<Vec<tokio::sync::Mutex<Conn>>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = Conn::new(opts.clone()).await.expect("connects");
        conns.push(tokio::sync::Mutex::new(conn));
    }
    Arc::new(conns)
}

async fn limit_with(opts: Opts, n: usize) -> System {
    System::Limit(connections(opts, n).await)
}

fn url_opts(url: &str) -> Opts {
    Opts::from_url(url).expect("the test server's URL parses")
}

async fn systems(url: &str, sqlx_url: &str, n: usize) -> Vec<System> {
    let ours = our_pool(url, n).await;
    vec![
        limit_with(url_opts(url), n).await,
        System::Dedicated(connections(url_opts(url), n).await),
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

const LIMIT: &str = "limit: 1 task per dedicated conn";
const OURS: &str = "pool-runtime (query_first/begin)";
const MYSQL_ASYNC_RESET: &str = "mysql_async Pool (reset, default)";
const MYSQL_ASYNC_NO_RESET: &str = "mysql_async Pool (reset off)";
const SQLX: &str = "sqlx MySqlPool";

/// What the run prints, as markdown; `--write-markdown` puts it into
/// BENCHMARKS.md as well.
#[derive(Default)]
struct Report(String);

impl Report {
    fn line(&mut self, text: impl AsRef<str>) {
        println!("{}", text.as_ref());
        self.0.push_str(text.as_ref());
        self.0.push('\n');
    }
}

fn find<'a>(cells: &'a [Cell], like: &Cell, system: &str) -> Option<&'a Cell> {
    cells
        .iter()
        .find(|c| c.same_shape(like) && c.system == system)
}

fn main_table(report: &mut Report, cells: &[Cell]) {
    report.line(
        "| workload | conns x tasks | system | ops/s | vs limit | p50 µs | p99 µs | p99.9 µs | CPU µs/op | CPU vs limit | errors |",
    );
    report.line("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for cell in cells {
        let limit = find(cells, cell, LIMIT);
        let (rate, cpu) = match limit {
            Some(l) => (
                Spread::rate(cell, l).to_string(),
                Spread::cpu(cell, l).to_string(),
            ),
            None => ("-".into(), "-".into()),
        };
        report.line(format!(
            "| {} | {}x{} | {} | {:.0} | {rate} | {:.0} | {:.0} | {:.0} | {:.1} | {cpu} | {} |",
            cell.workload.name(),
            cell.conns,
            cell.tasks,
            cell.system,
            cell.per_sec(),
            cell.p50_us(),
            us(cell.latency.value_at_quantile(0.99)),
            us(cell.latency.value_at_quantile(0.999)),
            cell.cpu_per_op_us(),
            cell.errors,
        ));
    }
    first_errors(report, "", cells);
}

fn first_errors(report: &mut Report, part: &str, cells: &[Cell]) {
    for cell in cells.iter().filter(|c| c.first_error.is_some()) {
        report.line(format!(
            "\nfirst error{part}, {} {}x{} {}: {}",
            cell.workload.name(),
            cell.conns,
            cell.tasks,
            cell.system,
            cell.first_error.as_deref().unwrap_or_default()
        ));
    }
}

/// One target: the measured spread against the bound, and the verdict.
fn target_row(
    report: &mut Report,
    what: &str,
    measured: Option<Spread>,
    bound: f64,
    at_most: bool,
) {
    let Some(m) = measured.filter(|m| m.median.is_finite()) else {
        report.line(format!("| {what} | not measured in this run | - |"));
        return;
    };
    let met = if at_most {
        m.median <= bound
    } else {
        m.median >= bound
    };
    let verdict = if met {
        "met".to_owned()
    } else {
        format!("**missed** by {:.3}", (m.median - bound).abs())
    };
    report.line(format!("| {what} | {m} | {verdict} |"));
}

/// The targets, read off this run's cells (SELECT 1, through
/// `query_first`).
fn targets_table(report: &mut Report, cells: &[Cell], tls: &[Cell]) {
    let select1 = |conns: usize, tasks: usize, system: &str| {
        cells.iter().find(|c| {
            c.workload == Workload::Select1
                && c.conns == conns
                && c.tasks == tasks
                && c.system == system
        })
    };
    let ratio = |shape: (usize, usize), a: &str, b: &str| {
        Some(Spread::rate(
            select1(shape.0, shape.1, a)?,
            select1(shape.0, shape.1, b)?,
        ))
    };
    report.line("| target (SELECT 1, `query_first`; median of per-round ratios, range) | this run | verdict |");
    report.line("|---|---|---|");
    target_row(
        report,
        ">= 0.97 of the limit at 8x32",
        ratio((8, 32), OURS, LIMIT),
        0.97,
        false,
    );
    target_row(
        report,
        ">= 0.97 of the limit at 32x128",
        ratio((32, 128), OURS, LIMIT),
        0.97,
        false,
    );
    target_row(
        report,
        ">= 1.05x mysql_async reset off (8x32)",
        ratio((8, 32), OURS, MYSQL_ASYNC_NO_RESET),
        1.05,
        false,
    );
    target_row(
        report,
        ">= 2x mysql_async default (8x32)",
        ratio((8, 32), OURS, MYSQL_ASYNC_RESET),
        2.0,
        false,
    );
    target_row(
        report,
        ">= 2x sqlx (8x32)",
        ratio((8, 32), OURS, SQLX),
        2.0,
        false,
    );
    let cpu = select1(8, 32, OURS)
        .zip(select1(8, 32, LIMIT))
        .map(|(a, b)| Spread::cpu(a, b));
    target_row(
        report,
        "client CPU/query <= 1.05x the limit (8x32)",
        cpu,
        1.05,
        true,
    );
    let p50 = select1(1, 1, OURS)
        .zip(select1(1, 1, LIMIT))
        .map(|(a, b)| Spread::of(vec![a.p50_us() / b.p50_us()]));
    target_row(
        report,
        "1x1 p50 within 3 % of a raw `Conn` (ratio <= 1.03)",
        p50,
        1.03,
        true,
    );
    let over_tls = || {
        let pool = tls.iter().find(|c| c.system == TLS.1)?;
        let limit = tls.iter().find(|c| c.system == TLS.0)?;
        Some(Spread::rate(pool, limit))
    };
    target_row(
        report,
        "TLS: >= 0.97 of the TLS limit (8x32)",
        over_tls(),
        0.97,
        false,
    );
}

/// Where `--write-markdown` writes: between these markers in BENCHMARKS.md.
const MARK_BEGIN: &str = "<!-- compare:begin (generated by `cargo bench -p pool-bench --bench compare -- --write-markdown`) -->";
const MARK_END: &str = "<!-- compare:end -->";

async fn bench(mode: &Mode) -> (Report, Vec<Cell>) {
    let setup = Setup::start().await;
    let (server, url, sqlx_url) = (&setup.server, &setup.url, &setup.sqlx_url);
    create_table(server).await;
    setup.print_header("compare", mode.quick);
    let mut report = Report::default();

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
    report.line("### Every system, workload and shape\n");
    main_table(&mut report, &cells);
    if mode.wants_workload(Workload::Select1) {
        metrics_part(mode, url, &mut report).await;
    }
    (report, cells)
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
async fn metrics_part(mode: &Mode, url: &str, report: &mut Report) {
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

    report.line("\n### Metrics on beside off (8 x 32 SELECT 1, same server, interleaved)\n");
    report.line("| system | ops/s | vs off | p50 µs | p99 µs | CPU µs/op | CPU vs off | errors |");
    report.line("|---|---:|---:|---:|---:|---:|---:|---:|");
    for cell in &cells {
        let off = METRICS_CELLS
            .iter()
            .find(|names| names.contains(&cell.system))
            .and_then(|names| cells.iter().find(|c| c.system == names[0]));
        let (rate, cpu) = off.map_or(("-".into(), "-".into()), |off| {
            (
                Spread::rate(cell, off).to_string(),
                Spread::cpu(cell, off).to_string(),
            )
        });
        report.line(format!(
            "| {} | {:.0} | {rate} | {:.0} | {:.0} | {:.1} | {cpu} | {} |",
            cell.system,
            cell.per_sec(),
            cell.p50_us(),
            us(cell.latency.value_at_quantile(0.99)),
            cell.cpu_per_op_us(),
            cell.errors,
        ));
    }
    report.line(format!(
        "\nPrometheus recorder: {series} exposition lines of the pool's metrics rendered after the run"
    ));
    first_errors(report, ", metrics part", &cells);
}

/// The TLS cells' names: (limit, pool) for each transport.
const PLAIN: (&str, &str) = ("limit, plaintext", "pool-runtime (query_first), plaintext");
const TLS: (&str, &str) = (
    "limit, TLS verify_identity",
    "pool-runtime (query_first), TLS verify_identity",
);

/// The driver's options for verified TLS with the kit's CA.
fn tls_opts(url: &str, ca: &std::path::Path) -> Opts {
    let ssl = SslOpts::default().with_root_certs(vec![ca.to_path_buf().into()]);
    OptsBuilder::from_opts(url_opts(url)).ssl_opts(ssl).into()
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
        .without_metrics()
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
async fn tls_part(mode: &Mode, report: &mut Report) -> Vec<Cell> {
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
    let plain_opts = url_opts(&url);
    let tls_opts = tls_opts(&url, &ca);
    let systems = vec![
        System::Labelled(
            PLAIN.0,
            Box::new(limit_with(plain_opts.clone(), conns).await),
        ),
        System::Labelled(
            PLAIN.1,
            Box::new(System::Ours(our_pool_tls(&url, conns, None).await)),
        ),
        System::Labelled(TLS.0, Box::new(limit_with(tls_opts.clone(), conns).await)),
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

    let cell = |name: &str| cells.iter().find(|c| c.system == name);
    let ratio = |a: &str, b: &str| {
        cell(a)
            .zip(cell(b))
            .map_or_else(|| "-".to_owned(), |(a, b)| Spread::rate(a, b).to_string())
    };
    report.line("\n### TLS beside plaintext (a second, TLS-capable server, same run)\n");
    report.line("| system | ops/s | p50 µs | p99 µs | CPU µs/op | errors |");
    report.line("|---|---:|---:|---:|---:|---:|");
    for cell in &cells {
        report.line(format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.1} | {} |",
            cell.system,
            cell.per_sec(),
            cell.p50_us(),
            us(cell.latency.value_at_quantile(0.99)),
            cell.cpu_per_op_us(),
            cell.errors,
        ));
    }
    report.line(format!(
        "\npool / limit: plaintext {}, TLS {}; TLS / plaintext: limit {}, pool {}",
        ratio(PLAIN.1, PLAIN.0),
        ratio(TLS.1, TLS.0),
        ratio(TLS.0, PLAIN.0),
        ratio(TLS.1, PLAIN.1),
    ));
    report.line(format!(
        "\n| connect ({rounds} each, alternating) | p50 µs | p99 µs |"
    ));
    report.line("|---|---:|---:|");
    for (name, hist) in [
        ("plaintext", &plain_connect),
        ("TLS verify_identity", &tls_connect),
    ] {
        report.line(format!(
            "| {name} | {:.0} | {:.0} |",
            us(hist.value_at_quantile(0.5)),
            us(hist.value_at_quantile(0.99)),
        ));
    }
    first_errors(report, ", TLS part", &cells);
    cells
}

fn main() {
    let write = std::env::args().any(|a| a == "--write-markdown");
    common::run(async {
        let mode = Mode::from_env();
        let began = std::time::Instant::now();
        let load_before = load_average();
        let (mut report, cells) = bench(&mode).await;
        let tls = if mode.wants_workload(Workload::Select1) {
            tls_part(&mode, &mut report).await
        } else {
            Vec::new()
        };
        report.line("\n### Against the targets\n");
        targets_table(&mut report, &cells, &tls);
        let header = format!(
            "Generated at `{}` on {} UTC; {} s wall; {} mode: per cell {:?} warm-up, then {:?} in {} rounds \
             interleaved across the systems, order rotated each round. Machine: {} CPUs ({}), shared \
             with the server; 1-minute load average {} at the start, {} at the end. Transport: TCP \
             loopback for every system.\n",
            commit(),
            date_utc(),
            began.elapsed().as_secs(),
            if mode.quick { "quick" } else { "full" },
            mode.warmup,
            mode.cell,
            mode.rounds,
            cpus(),
            cpu_model(),
            load_before,
            load_average(),
        );
        println!("\n{header}");
        report.0.insert_str(0, &format!("{header}\n"));
        if write {
            if mode.quick {
                eprintln!("--write-markdown ignored in quick mode: its timings mean nothing");
            } else if let Err(e) = write_block(MARK_BEGIN, MARK_END, &report.0) {
                eprintln!("--write-markdown: {e}");
                std::process::exit(1);
            } else {
                eprintln!("wrote the generated block of {}", benchmarks_md().display());
            }
        }
    });
}
