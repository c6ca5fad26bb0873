//! Acquire + release through the pool core, beside `deadpool` and `bb8`.
//!
//! Every pool gets the same no-op manager (a connection is a `u64`; connect,
//! check and recycle do nothing) and the same limits, so what is measured is
//! the pools' own bookkeeping:
//!
//! - 8 slots, all kept when idle, none opened ahead of time, no lifetime or
//!   idle-time limits, no maintenance to speak of;
//! - no check on checkout: ours validates only connections idle longer than
//!   `validate_after_idle` (set to an hour), bb8 runs with
//!   `test_on_check_out(false)`. deadpool's managed pool always calls
//!   `Manager::recycle` on checkout; ours is a no-op returning `Ok`, so
//!   that call costs only its (inlined) future;
//! - every acquire bounded by a large timeout (ours `acquire_timeout`, bb8
//!   `connection_timeout`, deadpool's `wait` timeout on the tokio runtime),
//!   which a real service would set and no acquire here reaches.
//!
//! `pool-runtime+memory` is our pool again, with the test kit's in-memory
//! manager (`MemoryManager`) instead of the no-op one.
//! `pool-runtime+metrics-noop` is `pool-runtime` with the `metrics`
//! feature's observer (`PoolMetrics`) on the facade's no-op recorder: the
//! cost of the hook itself (its calls, clock reads for wait and use time);
//! a real recorder adds an atomic operation per handle call.
//!
//! Shapes (same for every pool):
//!
//! - `acquire_release/1_task`: one task on a current-thread runtime, get +
//!   drop in a loop; the pool is warm (its connection idle).
//! - `acquire_release/64_tasks_8_slots`: 64 tasks on a multi-thread runtime
//!   with 2 workers, each doing `OPS_PER_TASK` get + drop; one iteration is
//!   all 64 tasks finishing, timed with `iter_custom` and reported per op.
//! - `acquire_release/64_tasks_8_slots_held`: as above, but each task yields
//!   to the scheduler once while holding its connection, so the 8 slots are
//!   really contended and acquires queue (the waiter path of each pool).
//!   Ours and deadpool (a fair semaphore) hand a returned connection to the
//!   first waiter, so nearly every acquire here waits; bb8 puts it back in
//!   its idle list and wakes a waiter, so the returning task's next `get()`
//!   usually takes it first (barging): bb8 skips most waits here, at the
//!   price of first-come, first-served order.
//!
//! Run with `cargo bench -p pool-bench --bench core` (about a minute, plus
//! the build). With `BENCH_WRITE_MARKDOWN=1` (criterion owns the command
//! line) it then writes its table, each pool's median per acquire + release
//! with the commit, date and machine, into the `core:begin` block of
//! BENCHMARKS.md, from the estimates criterion saved in this run.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "common/provenance.rs"]
mod provenance;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group};
use pool_runtime::metrics::PoolMetrics;
use pool_runtime::pool::{GenericPool, Limits, Manager};
use pool_runtime::testkit::MemoryManager;
use tokio::runtime::Runtime;

const SLOTS: u32 = 8;
const TASKS: usize = 64;
const OPS_PER_TASK: usize = 64;
/// Longer than any benchmark run: acquires are bounded but never time out.
const BIG_TIMEOUT: Duration = Duration::from_secs(600);

/// The no-op manager, implemented for the three pools.
#[derive(Debug, Clone, Copy, Default)]
struct Noop;

impl Manager for Noop {
    type Connection = u64;
    type Error = Infallible;

    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn validate(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn is_broken(&self, _: &u64) -> bool {
        false
    }
}

impl deadpool::managed::Manager for Noop {
    type Type = u64;
    type Error = Infallible;

    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    /// Called on every checkout by deadpool: does nothing, as ours and bb8
    /// check nothing on checkout here.
    async fn recycle(
        &self,
        _: &mut u64,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<Infallible> {
        Ok(())
    }
}

impl bb8::ManageConnection for Noop {
    type Connection = u64;
    type Error = Infallible;

    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }

    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }

    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// The three pools behind one face: get a connection, touch it, drop it.
trait BenchPool: Clone + Send + Sync + 'static {
    /// One acquire + release; `hold` yields to the scheduler in between.
    fn cycle(&self, hold: bool) -> impl Future<Output = ()> + Send;
}

struct Ours<M: Manager>(GenericPool<M>);

impl<M: Manager> Clone for Ours<M> {
    fn clone(&self) -> Self {
        Ours(self.0.clone())
    }
}

impl<M: Manager> BenchPool for Ours<M> {
    async fn cycle(&self, hold: bool) {
        let conn = self.0.get().await.expect("acquire");
        black_box(&*conn);
        if hold {
            tokio::task::yield_now().await;
        }
        drop(conn);
    }
}

#[derive(Clone)]
struct Deadpool(deadpool::managed::Pool<Noop>);

impl BenchPool for Deadpool {
    async fn cycle(&self, hold: bool) {
        let conn = self.0.get().await.expect("acquire");
        black_box(&*conn);
        if hold {
            tokio::task::yield_now().await;
        }
        drop(conn);
    }
}

#[derive(Clone)]
struct Bb8(bb8::Pool<Noop>);

impl BenchPool for Bb8 {
    async fn cycle(&self, hold: bool) {
        let conn = self.0.get().await.expect("acquire");
        black_box(&*conn);
        if hold {
            tokio::task::yield_now().await;
        }
        drop(conn);
    }
}

fn our_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_open = SLOTS;
    limits.max_idle = SLOTS;
    limits.min_idle = 0;
    limits.max_lifetime = None;
    limits.max_idle_time = None;
    limits.validate_after_idle = Duration::from_secs(3600);
    limits.acquire_timeout = BIG_TIMEOUT;
    limits
}

/// Must run inside `rt`'s context (our pool spawns its maintenance task).
fn ours<M: Manager>(rt: &Runtime, manager: M) -> Ours<M> {
    let _entered = rt.enter();
    Ours(GenericPool::new(manager, our_limits()).expect("pool-runtime pool"))
}

/// `ours`, observed by the pool's metrics on the no-op recorder.
fn ours_metered<M: Manager>(rt: &Runtime, manager: M) -> Ours<M> {
    let _entered = rt.enter();
    let metrics = PoolMetrics::register_with(&metrics::NoopRecorder, "bench");
    Ours(GenericPool::with_observer(manager, our_limits(), metrics).expect("pool-runtime pool"))
}

fn deadpool(rt: &Runtime) -> Deadpool {
    let _entered = rt.enter();
    let pool = deadpool::managed::Pool::builder(Noop)
        .max_size(SLOTS as usize)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(BIG_TIMEOUT))
        .create_timeout(None)
        .recycle_timeout(None)
        .build()
        .expect("deadpool pool");
    Deadpool(pool)
}

fn bb8(rt: &Runtime) -> Bb8 {
    let pool = rt.block_on(
        bb8::Pool::builder()
            .max_size(SLOTS)
            .min_idle(None)
            .test_on_check_out(false)
            .max_lifetime(None)
            .idle_timeout(None)
            .connection_timeout(BIG_TIMEOUT)
            .build(Noop),
    );
    Bb8(pool.expect("bb8 pool"))
}

/// Fills every slot once, so that the measured loop finds warm connections.
fn warm<P: BenchPool>(rt: &Runtime, pool: &P) -> P {
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..SLOTS {
            let pool = pool.clone();
            tasks.spawn(async move { pool.cycle(true).await });
        }
        while tasks.join_next().await.is_some() {}
    });
    pool.clone()
}

fn one_task<P: BenchPool>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    pool: P,
) {
    let pool = warm(rt, &pool);
    group.bench_function(name, |b| b.to_async(rt).iter(|| pool.cycle(false)));
}

fn many_tasks<P: BenchPool>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    rt: &Runtime,
    pool: P,
    hold: bool,
) {
    let pool = warm(rt, &pool);
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let ops = usize::try_from(iters).expect("iters fits usize") * OPS_PER_TASK;
                let started = Instant::now();
                let mut tasks = tokio::task::JoinSet::new();
                for _ in 0..TASKS {
                    let pool = pool.clone();
                    tasks.spawn(async move {
                        for _ in 0..ops {
                            pool.cycle(hold).await;
                        }
                    });
                }
                while let Some(done) = tasks.join_next().await {
                    done.expect("bench task");
                }
                started.elapsed()
            })
        });
    });
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}

fn acquire_release_one_task(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("acquire_release/1_task");
    configure(&mut group);
    group.throughput(Throughput::Elements(1));
    one_task(&mut group, "pool-runtime", &rt, ours(&rt, Noop));
    one_task(
        &mut group,
        "pool-runtime+memory",
        &rt,
        ours(&rt, MemoryManager::new()),
    );
    one_task(
        &mut group,
        "pool-runtime+metrics-noop",
        &rt,
        ours_metered(&rt, Noop),
    );
    one_task(&mut group, "deadpool", &rt, deadpool(&rt));
    one_task(&mut group, "bb8", &rt, bb8(&rt));
    group.finish();
}

fn acquire_release_many_tasks(c: &mut Criterion, group_name: &str, hold: bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group(group_name);
    configure(&mut group);
    group.throughput(Throughput::Elements((TASKS * OPS_PER_TASK) as u64));
    many_tasks(&mut group, "pool-runtime", &rt, ours(&rt, Noop), hold);
    many_tasks(
        &mut group,
        "pool-runtime+memory",
        &rt,
        ours(&rt, MemoryManager::new()),
        hold,
    );
    many_tasks(
        &mut group,
        "pool-runtime+metrics-noop",
        &rt,
        ours_metered(&rt, Noop),
        hold,
    );
    many_tasks(&mut group, "deadpool", &rt, deadpool(&rt), hold);
    many_tasks(&mut group, "bb8", &rt, bb8(&rt), hold);
    group.finish();
}

fn acquire_release_64_tasks(c: &mut Criterion) {
    acquire_release_many_tasks(c, "acquire_release/64_tasks_8_slots", false);
}

fn acquire_release_64_tasks_held(c: &mut Criterion) {
    acquire_release_many_tasks(c, "acquire_release/64_tasks_8_slots_held", true);
}

criterion_group!(
    benches,
    acquire_release_one_task,
    acquire_release_64_tasks,
    acquire_release_64_tasks_held
);
fn main() {
    let began = std::time::SystemTime::now();
    let load_before = provenance::load_average();
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::var("BENCH_WRITE_MARKDOWN").is_ok_and(|v| v == "1") {
        let table = table::render(began, &load_before)
            .and_then(|body| provenance::write_block(table::MARK_BEGIN, table::MARK_END, &body));
        match table {
            Ok(()) => eprintln!(
                "wrote the core block of {}",
                provenance::benchmarks_md().display()
            ),
            Err(e) => {
                eprintln!("BENCH_WRITE_MARKDOWN: {e}");
                std::process::exit(1);
            }
        }
    }
}

/// The table of this run, read back from criterion's saved estimates.
mod table {
    use std::path::{Path, PathBuf};
    use std::time::SystemTime;

    use super::provenance;

    pub const MARK_BEGIN: &str = "<!-- core:begin (generated by `BENCH_WRITE_MARKDOWN=1 cargo bench -p pool-bench --bench core`) -->";
    pub const MARK_END: &str = "<!-- core:end -->";

    const SHAPES: [(&str, &str); 3] = [
        ("acquire_release_1_task", "1 task (current-thread runtime)"),
        ("acquire_release_64_tasks_8_slots", "64 tasks, 8 slots"),
        (
            "acquire_release_64_tasks_8_slots_held",
            "64 tasks, 8 slots, held across a yield (every acquire queues)",
        ),
    ];
    const POOLS: [&str; 5] = [
        "pool-runtime",
        "pool-runtime+memory",
        "pool-runtime+metrics-noop",
        "deadpool",
        "bb8",
    ];

    fn criterion_dir() -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => PathBuf::from(dir).join("criterion"),
            None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion"),
        }
    }

    /// Median ns per operation, and its 95 % confidence interval, of one
    /// benchmark measured after `began`.
    fn per_op(dir: &Path, began: SystemTime) -> Result<(f64, f64, f64), String> {
        let read = |name: &str| -> Result<serde_json::Value, String> {
            let path = dir.join("new").join(name);
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if modified < began {
                return Err(format!(
                    "{} is from an earlier run (was the run filtered?)",
                    path.display()
                ));
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let estimates = read("estimates.json")?;
        let benchmark = read("benchmark.json")?;
        let elements = benchmark["throughput"]["Elements"].as_f64().unwrap_or(1.0);
        let median = &estimates["median"];
        let get = |v: &serde_json::Value| v.as_f64().ok_or("estimates.json without a median");
        Ok((
            get(&median["point_estimate"])? / elements,
            get(&median["confidence_interval"]["lower_bound"])? / elements,
            get(&median["confidence_interval"]["upper_bound"])? / elements,
        ))
    }

    pub fn render(began: SystemTime, load_before: &str) -> Result<String, String> {
        let root = criterion_dir();
        let mut out = format!(
            "Generated at `{}` on {} UTC by `BENCH_WRITE_MARKDOWN=1 cargo bench -p pool-bench --bench core`. \
             Machine: {} CPUs ({}); 1-minute load average {} at the start, {} at the end. \
             Each cell: criterion's median ns per acquire + release, its 95 % interval in brackets; \
             the ratios divide `pool-runtime` by the peer (below 1: ours is faster).\n\n",
            provenance::commit(),
            provenance::date_utc(),
            provenance::cpus(),
            provenance::cpu_model(),
            load_before,
            provenance::load_average(),
        );
        out.push_str("| shape |");
        for pool in POOLS {
            out.push_str(&format!(" {pool} |"));
        }
        out.push_str(" ours / deadpool | ours / bb8 |\n|---|");
        out.push_str(&"---:|".repeat(POOLS.len() + 2));
        out.push('\n');
        for (dir, shape) in SHAPES {
            let mut cells = Vec::new();
            for pool in POOLS {
                cells.push(per_op(&root.join(dir).join(pool), began)?);
            }
            out.push_str(&format!("| {shape} |"));
            for (median, low, high) in &cells {
                out.push_str(&format!(" {median:.0} [{low:.0}-{high:.0}] |"));
            }
            let ours = cells[0].0;
            out.push_str(&format!(
                " {:.2} | {:.2} |\n",
                ours / cells[3].0,
                ours / cells[4].0
            ));
        }
        Ok(out)
    }
}
