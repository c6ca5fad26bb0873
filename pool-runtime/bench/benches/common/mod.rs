//! What the end-to-end benchmarks (`compare`, `recovery`) share: the systems
//! under test and how each runs a workload, driving tasks against one for a
//! while, latency histograms, the throwaway server both run against, and the
//! runtime they run on.
//!
//! Included by each bench target as `mod common;`; each uses a part.

#![allow(dead_code)] // each bench uses a part

pub mod provenance;

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

pub const ROWS: u32 = 10_000;
const PK_SELECT: &str = "SELECT v FROM kv WHERE id = ?";
const UPDATE: &str = "UPDATE kv SET v = ? WHERE id = ?";

/// Whether a short run was asked for: `-- --quick` or `BENCH_QUICK=1`.
pub fn quick_requested() -> bool {
    std::env::args().any(|a| a == "--quick") || std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1")
}

/// A comma-separated list from the environment variable `name`, to narrow a
/// run (for a profiler, say); everything when unset.
#[derive(Debug, Default)]
pub struct Filter(Option<Vec<String>>);

impl Filter {
    pub fn from_env(name: &str) -> Filter {
        Filter(std::env::var(name).ok().map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .collect::<Vec<_>>()
        }))
    }

    /// Whether `name` contains one of the listed substrings.
    pub fn admits_substring_of(&self, name: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| name.contains(s.as_str())))
    }

    /// Whether `key` is one of the listed ones.
    pub fn admits(&self, key: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|list| list.iter().any(|s| s == key))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Select1,
    PkSelect,
    WriteTx,
}

impl Workload {
    pub const ALL: [Workload; 3] = [Workload::Select1, Workload::PkSelect, Workload::WriteTx];

    /// The name `BENCH_WORKLOADS` uses.
    pub fn key(self) -> &'static str {
        match self {
            Workload::Select1 => "select1",
            Workload::PkSelect => "pk",
            Workload::WriteTx => "tx",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Select1 => "SELECT 1 (text)",
            Workload::PkSelect => "PK select (prepared)",
            Workload::WriteTx => "write tx (BEGIN; UPDATE prepared; COMMIT)",
        }
    }
}

/// One system under test, holding its N connections.
#[derive(Clone)]
pub enum System {
    /// The limit: N connections, one task each (however many tasks the
    /// shape has), so nothing is ever handed off or waited for. Each sits
    /// in an uncontended mutex only so that the system can be shared.
    Limit(Arc<Vec<tokio::sync::Mutex<Conn>>>),
    /// N connections shared by the shape's tasks: task `t` always uses
    /// connection `t % N`, queued FIFO by its mutex.
    Dedicated(Arc<Vec<tokio::sync::Mutex<Conn>>>),
    Ours(Pool),
    OursRaw(Pool),
    MysqlAsync(mysql_async::Pool, &'static str),
    Sqlx(MySqlPool),
    /// Another system under its own name (the TLS cells of `compare`).
    Labelled(&'static str, Box<System>),
}

pub type OpResult = Result<(), String>;

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl System {
    pub fn name(&self) -> &'static str {
        match self {
            System::Limit(_) => "limit: 1 task per dedicated conn",
            System::Dedicated(_) => "dedicated conns shared by the tasks",
            System::Ours(_) => "pool-runtime (query_first/begin)",
            System::OursRaw(_) => "pool-runtime get()+raw conn",
            System::MysqlAsync(_, name) => name,
            System::Sqlx(_) => "sqlx MySqlPool",
            System::Labelled(name, _) => name,
        }
    }

    pub async fn run(&self, workload: Workload, task: usize, rng: &mut fastrand::Rng) -> OpResult {
        let id = rng.u32(1..=ROWS);
        match self {
            System::Labelled(_, inner) => Box::pin(inner.run(workload, task, rng)).await,
            System::Limit(conns) | System::Dedicated(conns) => {
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

    /// How many tasks drive this system in a shape of `tasks` tasks: the
    /// limit runs one per connection.
    pub fn tasks_for(&self, tasks: usize) -> usize {
        match self {
            System::Limit(conns) => conns.len(),
            System::Labelled(_, inner) => inner.tasks_for(tasks),
            _ => tasks,
        }
    }

    pub async fn close(self) {
        match self {
            System::Limit(conns) | System::Dedicated(conns) => {
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
            System::Labelled(_, inner) => Box::pin(inner.close()).await,
        }
    }
}

pub fn value(id: u32) -> String {
    format!("v{id}")
}

pub fn check(ok: bool) -> OpResult {
    if ok {
        Ok(())
    } else {
        Err("unexpected result".into())
    }
}

/// The statement(s) of a workload on a bare driver connection.
pub async fn conn_op(conn: &mut Conn, workload: Workload, id: u32) -> OpResult {
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

pub fn histogram() -> Histogram<u64> {
    // Nanoseconds, up to an hour, 3 significant figures.
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Process CPU time (user + system, all threads) so far.
pub fn cpu_time() -> Duration {
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

/// `tasks` tasks run `workload` against `system` for `duration`.
pub async fn drive(
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

pub fn our_options(url: &str, n: usize) -> PoolOptions {
    let mut options = PoolOptions::from_url(url).expect("the test server's URL parses");
    options.max_open = n as u32;
    options.max_idle = n as u32;
    options
}

/// Our pool as the bench has always measured it: without metrics (the
/// bench builds the crate with the feature on for `compare`'s metrics
/// cells, and `without_metrics` runs the same code as a build without it).
pub async fn our_pool(url: &str, n: usize) -> Pool {
    Pool::builder(our_options(url, n))
        .without_metrics()
        .connect()
        .await
        .expect("pool-runtime boots against the throwaway server")
}

pub fn mysql_async_pool(url: &str, n: usize, reset: bool) -> mysql_async::Pool {
    let opts = Opts::from_url(url).expect("the test server's URL parses");
    let pool_opts = PoolOpts::default()
        .with_constraints(PoolConstraints::new(n, n).expect("min <= max"))
        .with_reset_connection(reset);
    mysql_async::Pool::new(OptsBuilder::from_opts(opts).pool_opts(pool_opts))
}

pub async fn sqlx_pool(url: &str, n: usize) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(n as u32)
        .connect(url)
        .await
        .expect("sqlx connects to the throwaway server")
}

pub fn us(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

/// The throwaway server a bench runs against, and how to reach it.
pub struct Setup {
    pub server: TestServer,
    /// For mysql_async and our pool: TCP (`prefer_socket=false`).
    pub url: String,
    /// For sqlx, which always connects over TCP to the host given and does
    /// not know mysql_async's `prefer_socket`.
    pub sqlx_url: String,
    pub version: String,
}

impl Setup {
    /// Starts a throwaway MariaDB that allows many connections.
    pub async fn start() -> Setup {
        let server = TestServer::start()
            .await
            .expect("a throwaway MariaDB starts");
        // 6 systems x 32 connections are open at once in compare's 32x128 shape.
        server
            .set_global("max_connections", 1000)
            .await
            .expect("raise max_connections on the throwaway server");
        let url = server.url().to_owned();
        let sqlx_url = format!("mysql://root@{}/test", server.addr());
        let mut version_conn = server.conn().await.expect("connects");
        let version: Option<String> = version_conn
            .query_first("SELECT VERSION()")
            .await
            .expect("version");
        version_conn.disconnect().await.expect("disconnect");
        Setup {
            server,
            url,
            sqlx_url,
            version: version.unwrap_or_default(),
        }
    }

    /// The report's title and the lines that say what ran where.
    pub fn print_header(&self, bench: &str, quick: bool) {
        println!(
            "# pool-bench {bench} ({} mode)\n\nserver: MariaDB {} (throwaway, same machine), transport: TCP loopback {} for every system \
             (mysql_async: prefer_socket=false; sqlx: TCP)\nclient: tokio multi-thread runtime, 2 worker threads; {} CPUs, shared with the server",
            if quick { "quick" } else { "full" },
            self.version,
            self.server.addr(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
        );
    }
}

/// Runs a bench on the runtime every bench uses (multi-thread, 2 workers)
/// and says how long it took.
pub fn run<F: Future<Output = ()>>(bench: F) {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(bench);
    drop(runtime);
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
}
