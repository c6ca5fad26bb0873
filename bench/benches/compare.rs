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
//! Then a recovery benchmark: each pool holds 8 idle connections, the server
//! kills them all, and a burst of 32 concurrent `SELECT 1`s follows; its
//! errors and latency are printed beside the same burst without the kill.
//!
//! `cargo bench -p pool-bench --bench compare` (about 5 minutes);
//! `-- --quick` or `BENCH_QUICK=1` for a short run that proves it works
//! (CI). See BENCHMARKS.md for the numbers and what they mean.
//!
//! To narrow a run (for a profiler, say): `BENCH_SYSTEMS` (comma-separated
//! substrings of system names), `BENCH_WORKLOADS` (`select1`, `pk`, `tx`),
//! `BENCH_SHAPES` (`8x32,1x1`), `BENCH_SECS` (measured seconds per cell),
//! `BENCH_ROUNDS` (interleaved slices per cell), `BENCH_RECOVERY=0`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pool_runtime::mysql_async::prelude::Queryable;
use pool_runtime::mysql_async::{self, Conn, Opts, OptsBuilder, PoolConstraints, PoolOpts, TxOpts};
use pool_runtime::testkit::TestServer;
use pool_runtime::{Pool, PoolOptions};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{Executor, Row};

const ROWS: u32 = 10_000;
const PK_SELECT: &str = "SELECT v FROM kv WHERE id = ?";
const UPDATE: &str = "UPDATE kv SET v = ? WHERE id = ?";

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
    recovery_rounds: usize,
    /// Comma-separated substrings of system names to run (`BENCH_SYSTEMS`).
    systems: Option<Vec<String>>,
    /// Comma-separated workload keys to run (`BENCH_WORKLOADS`).
    workloads: Option<Vec<String>>,
    /// Whether to run the recovery benchmark (`BENCH_RECOVERY=0` skips it).
    recovery: bool,
}

impl Mode {
    fn from_env() -> Mode {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
        let mut mode = if quick {
            Mode {
                quick,
                warmup: Duration::from_millis(100),
                cell: Duration::from_millis(300),
                rounds: 1,
                shapes: vec![(8, 32)],
                recovery_rounds: 2,
                systems: None,
                workloads: None,
                recovery: true,
            }
        } else {
            Mode {
                quick,
                warmup: Duration::from_millis(1000),
                cell: Duration::from_secs(3),
                rounds: 3,
                shapes: vec![(8, 32), (32, 128), (1, 1)],
                recovery_rounds: 10,
                systems: None,
                workloads: None,
                recovery: true,
            }
        };
        // Narrowing, for profiling one cell: see BENCHMARKS.md.
        let list = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .collect::<Vec<_>>()
            })
        };
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
        if let Some(shapes) = list("BENCH_SHAPES") {
            mode.shapes = shapes
                .iter()
                .filter_map(|s| {
                    let (c, t) = s.split_once('x')?;
                    Some((c.parse().ok()?, t.parse().ok()?))
                })
                .collect();
        }
        mode.systems = list("BENCH_SYSTEMS");
        mode.workloads = list("BENCH_WORKLOADS");
        mode.recovery = std::env::var("BENCH_RECOVERY").as_deref() != Ok("0");
        mode
    }

    fn wants_system(&self, name: &str) -> bool {
        self.systems
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| name.contains(s.as_str())))
    }

    fn wants_workload(&self, workload: Workload) -> bool {
        self.workloads
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == workload.key()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    Select1,
    PkSelect,
    WriteTx,
}

impl Workload {
    const ALL: [Workload; 3] = [Workload::Select1, Workload::PkSelect, Workload::WriteTx];

    /// The name `BENCH_WORKLOADS` uses.
    fn key(self) -> &'static str {
        match self {
            Workload::Select1 => "select1",
            Workload::PkSelect => "pk",
            Workload::WriteTx => "tx",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Workload::Select1 => "SELECT 1 (text)",
            Workload::PkSelect => "PK select (prepared)",
            Workload::WriteTx => "write tx (BEGIN; UPDATE prepared; COMMIT)",
        }
    }
}

/// One system under test, holding its N connections.
#[derive(Clone)]
enum System {
    Dedicated(Arc<Vec<tokio::sync::Mutex<Conn>>>),
    Ours(Pool),
    OursRaw(Pool),
    MysqlAsync(mysql_async::Pool, &'static str),
    Sqlx(MySqlPool),
}

type OpResult = Result<(), String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl System {
    fn name(&self) -> &'static str {
        match self {
            System::Dedicated(_) => "dedicated conns (limit)",
            System::Ours(_) => "pool-runtime (query_first/begin)",
            System::OursRaw(_) => "pool-runtime get()+raw conn",
            System::MysqlAsync(_, name) => name,
            System::Sqlx(_) => "sqlx MySqlPool",
        }
    }

    async fn run(&self, workload: Workload, task: usize, rng: &mut fastrand::Rng) -> OpResult {
        let id = rng.u32(1..=ROWS);
        match self {
            System::Dedicated(conns) => {
                let mut conn = conns[task % conns.len()].lock().await;
                conn_op(&mut conn, workload, id).await
            }
            System::OursRaw(pool) => {
                let mut conn = pool.get().await.map_err(err)?;
                conn_op(&mut conn, workload, id).await
            }
            System::MysqlAsync(pool, _) => {
                if workload == Workload::WriteTx {
                    // Same as dedicated: the driver's own transaction API.
                    let mut tx = pool
                        .start_transaction(TxOpts::default())
                        .await
                        .map_err(err)?;
                    tx.exec_drop(UPDATE, (value(id), id)).await.map_err(err)?;
                    return tx.commit().await.map_err(err);
                }
                let mut conn = pool.get_conn().await.map_err(err)?;
                conn_op(&mut conn, workload, id).await
            }
            System::Ours(pool) => match workload {
                Workload::Select1 => {
                    let n: Option<i64> = pool.query_first("SELECT 1", ()).await.map_err(err)?;
                    check(n == Some(1))
                }
                Workload::PkSelect => {
                    let v: Option<String> =
                        pool.query_first(PK_SELECT, (id,)).await.map_err(err)?;
                    check(v.is_some())
                }
                Workload::WriteTx => {
                    let mut tx = pool.begin().await.map_err(err)?;
                    tx.exec(UPDATE, (value(id), id)).await.map_err(err)?;
                    tx.commit().await.map_err(err)
                }
            },
            System::Sqlx(pool) => match workload {
                Workload::Select1 => {
                    // A `&str` with no arguments: sqlx sends it as COM_QUERY.
                    let row = pool.fetch_one("SELECT 1").await.map_err(err)?;
                    let n: i64 = row.try_get(0).map_err(err)?;
                    check(n == 1)
                }
                Workload::PkSelect => {
                    let v: Option<String> = sqlx::query_scalar(PK_SELECT)
                        .bind(id)
                        .fetch_optional(pool)
                        .await
                        .map_err(err)?;
                    check(v.is_some())
                }
                Workload::WriteTx => {
                    let mut tx = pool.begin().await.map_err(err)?;
                    sqlx::query(UPDATE)
                        .bind(value(id))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(err)?;
                    tx.commit().await.map_err(err)
                }
            },
        }
    }

    async fn close(self) {
        match self {
            System::Dedicated(conns) => {
                if let Ok(conns) = Arc::try_unwrap(conns) {
                    for conn in conns {
                        let _ = conn.into_inner().disconnect().await;
                    }
                }
            }
            System::Ours(pool) | System::OursRaw(pool) => pool.close().await,
            System::MysqlAsync(pool, _) => {
                let _ = pool.disconnect().await;
            }
            System::Sqlx(pool) => pool.close().await,
        }
    }
}

fn value(id: u32) -> String {
    format!("v{id}")
}

fn check(ok: bool) -> OpResult {
    if ok {
        Ok(())
    } else {
        Err("unexpected result".into())
    }
}

/// The statement(s) of a workload on a bare driver connection.
async fn conn_op(conn: &mut Conn, workload: Workload, id: u32) -> OpResult {
    match workload {
        Workload::Select1 => {
            let n: Option<i64> = conn.query_first("SELECT 1").await.map_err(err)?;
            check(n == Some(1))
        }
        Workload::PkSelect => {
            let v: Option<String> = conn.exec_first(PK_SELECT, (id,)).await.map_err(err)?;
            check(v.is_some())
        }
        Workload::WriteTx => {
            let mut tx = conn
                .start_transaction(TxOpts::default())
                .await
                .map_err(err)?;
            tx.exec_drop(UPDATE, (value(id), id)).await.map_err(err)?;
            tx.commit().await.map_err(err)
        }
    }
}

fn histogram() -> Histogram<u64> {
    // Nanoseconds, up to an hour, 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Process CPU time (user + system, all threads) so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes into the struct we pass; a zeroed
    // `rusage` is a valid value of that plain C struct.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
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

/// `tasks` tasks run `workload` against `system` for `duration`.
async fn drive(
    system: &System,
    workload: Workload,
    tasks: usize,
    duration: Duration,
) -> (u64, u64, Option<String>, Duration, Duration, Histogram<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = cpu_time();
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(tasks);
    for task in 0..tasks {
        let system = system.clone();
        let stop = stop.clone();
        handles.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(task as u64 + 1);
            let mut latency = histogram();
            let mut errors = 0u64;
            let mut first_error = None;
            // The deadline as well as the flag: a system that fails at once
            // without yielding must not keep the timer from firing.
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let begun = Instant::now();
                match system.run(workload, task, &mut rng).await {
                    Ok(()) => latency.saturating_record(nanos(begun.elapsed())),
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        tokio::task::yield_now().await;
                    }
                }
            }
            (latency, errors, first_error)
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latency = histogram();
    let mut errors = 0;
    let mut first_error = None;
    for handle in handles {
        let (h, e, first) = handle.await.expect("benchmark task panicked");
        latency.add(&h).expect("same histogram bounds");
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu_before);
    (latency.len(), errors, first_error, elapsed, cpu, latency)
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

fn our_options(url: &str, n: usize) -> PoolOptions {
    let mut options = PoolOptions::from_url(url).expect("the test server's URL parses");
    options.max_open = n as u32;
    options.max_idle = n as u32;
    options
}

async fn our_pool(url: &str, n: usize) -> Pool {
    Pool::builder(our_options(url, n))
        .connect()
        .await
        .expect("pool-runtime boots against the throwaway server")
}

fn mysql_async_pool(url: &str, n: usize, reset: bool) -> mysql_async::Pool {
    let opts = Opts::from_url(url).expect("the test server's URL parses");
    let pool_opts = PoolOpts::default()
        .with_constraints(PoolConstraints::new(n, n).expect("min <= max"))
        .with_reset_connection(reset);
    mysql_async::Pool::new(OptsBuilder::from_opts(opts).pool_opts(pool_opts))
}

async fn sqlx_pool(url: &str, n: usize) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(n as u32)
        .connect(url)
        .await
        .expect("sqlx connects to the throwaway server")
}

async fn dedicated(url: &str, n: usize) -> System {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let conn = Conn::from_url(url).await.expect("connects");
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

fn us(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
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
            bursts: mode.recovery_rounds,
            first_error: None,
        };
        for _ in 0..mode.recovery_rounds {
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
    let server = TestServer::start()
        .await
        .expect("a throwaway MariaDB starts");
    // 6 systems x 32 connections are open at once in the 32x128 shape.
    server
        .set_global("max_connections", 1000)
        .await
        .expect("raise max_connections on the throwaway server");
    let url = server.url().to_owned();
    // sqlx always connects over TCP to the host given; it does not know
    // mysql_async's `prefer_socket`.
    let sqlx_url = format!("mysql://root@{}/test", server.addr());
    create_table(&server).await;

    let mut version_conn = server.conn().await.expect("connects");
    let version: Option<String> = version_conn
        .query_first("SELECT VERSION()")
        .await
        .expect("version");
    version_conn.disconnect().await.expect("disconnect");

    println!(
        "# pool-bench compare ({} mode)\n\nserver: MariaDB {} (throwaway, same machine), transport: TCP loopback {} for every system \
         (mysql_async: prefer_socket=false; sqlx: TCP)\nclient: tokio multi-thread runtime, 2 worker threads; {} CPUs, shared with the server\n\
         per cell: {:?} warm-up, {:?} measured in {} slice(s) interleaved across systems\n",
        if mode.quick { "quick" } else { "full" },
        version.unwrap_or_default(),
        server.addr(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mode.warmup,
        mode.cell,
        mode.rounds,
    );

    let mut cells = Vec::new();
    for &(conns, tasks) in &mode.shapes {
        eprintln!("shape {conns} connections x {tasks} tasks");
        let mut systems = systems(&url, &sqlx_url, conns).await;
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
            cells.extend(measure(&mode, &systems, workload, conns, tasks).await);
        }
        for system in systems {
            system.close().await;
        }
    }
    print_table(&cells);
    if !mode.recovery {
        return;
    }

    eprintln!("recovery after an idle kill");
    let recs = recovery(&mode, &server, &url, &sqlx_url).await;
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
    let mode = Mode::from_env();
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench(mode));
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}
