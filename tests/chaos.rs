//! Bounded chaos: 32 tasks read and write through the fault proxy while a
//! seeded schedule breaks connections every few hundred milliseconds (FIN,
//! RST, blackhole, MySQL 8's 4031, latency, a reset before the reply,
//! refused connects, a server-side kill, one server restart), and the tasks
//! themselves cancel some of their own statements.
//!
//! At the end the table is the judge: every write reported `Ok` is in it
//! exactly once, every write that may have run (an error with
//! `may_have_run()`, or cancelled by its caller) at most once, and no write
//! reported as not run is in it at all. The table has no unique constraint,
//! so a statement sent twice shows as two rows. The pool must then hold no
//! connection in use, leave no session on the server after `close()`, and no
//! operation may have taken longer than its acquire timeout plus its
//! statement timeout (and a margin).
//!
//! `POOL_CHAOS_SECS` sets the run time (60 s by default) and
//! `POOL_CHAOS_SEED` the seed, which is printed: the same seed replays the
//! same sequence of faults with the same pauses between them, and the same
//! sequence of choices by each task (the interleaving with the server still
//! varies, and a slower run may fit one fault fewer into its time).
//! `POOL_CHAOS_LOG=1` adds the pool's own log (retries and their reasons).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::testkit::{ConnectionId, Fault, FaultProxy, TestServer};
use pool_runtime::{Error, ErrorKind, Pool, PoolOptions};

use common::{bounded, eventually};

const TASKS: u64 = 32;
const DEFAULT_SECS: u64 = 60;

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
/// Slack on top of acquire + statement timeout for the bookkeeping around
/// them (discarding a connection, a loaded scheduler).
const OP_MARGIN: Duration = Duration::from_secs(3);

/// How long a cancelling caller waits before it drops the future: short,
/// so that cancellations land before, during and after the send.
const CANCEL_AFTER_MS: std::ops::RangeInclusive<u64> = 1..=200;
/// One operation in this many is cancelled by its caller.
const CANCEL_ONE_IN: u32 = 7;

/// The faults the schedule picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// FIN on every connection, or on one.
    Fin,
    /// RST on every connection, or on one.
    Reset,
    /// A silent flow on one connection, or on all.
    Blackhole,
    /// MySQL 8's idle kill (ERR 4031, then FIN) on every connection, or one,
    /// while no statement is outstanding: see [`Lull`].
    IdleKill,
    /// Latency of up to 50 ms on every connection (sometimes none again).
    Latency,
    /// The next statement on one connection runs, and its answer is lost.
    ResetBeforeReply,
    /// New connections refused for a moment.
    RefuseNew,
    /// The server kills every client session (`KILL CONNECTION`).
    ServerKill,
    /// The server shuts down and starts again: exactly once per run.
    Restart,
}

/// The kinds drawn at random; [`Kind::Restart`] is placed once on its own.
const RANDOM_KINDS: [Kind; 8] = [
    Kind::Fin,
    Kind::Reset,
    Kind::Blackhole,
    Kind::IdleKill,
    Kind::Latency,
    Kind::ResetBeforeReply,
    Kind::RefuseNew,
    Kind::ServerKill,
];

/// A pause of every task, so that the pool's connections sit idle.
///
/// MySQL 8 sends its 4031 only to a session waiting for a command: one that
/// has answered everything it was sent. The proxy's fault does not look:
/// injected on a connection whose statement already reached the server, it
/// lets the statement run and then tells the client "idle, disconnected",
/// which no server does (and which the pool rightly reads as "not run", so
/// the write is sent again). The schedule therefore injects 4031 only once
/// every task is parked between operations and no connection is in use.
struct Lull {
    paused: tokio::sync::watch::Sender<bool>,
    /// Tasks parked by the lull, or finished.
    parked: std::sync::atomic::AtomicU64,
}

impl Lull {
    /// Parks the calling task while a lull lasts.
    async fn wait(&self) {
        let mut paused = self.paused.subscribe();
        if !*paused.borrow_and_update() {
            return;
        }
        self.parked.fetch_add(1, SeqCst);
        let _ = paused.wait_for(|p| !p).await;
        self.parked.fetch_sub(1, SeqCst);
    }
}

/// What one write was told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// An error whose `may_have_run()` is true.
    Maybe,
    /// An error whose `may_have_run()` is false: it certainly did not run.
    NotRun,
    /// Dropped by its caller before it returned: it may have run.
    Cancelled,
}

/// Everything one task saw.
#[derive(Default)]
struct TaskLog {
    /// Each write: its id, what it was told, and when it began and ended
    /// (from the start of the run), to line a failure up with the schedule.
    writes: Vec<(u64, Outcome, Duration, Duration)>,
    reads_ok: u64,
    reads_failed: u64,
    reads_cancelled: u64,
    /// Errors by kind, reads and writes together.
    errors: BTreeMap<&'static str, u64>,
    /// The longest operation that was not cancelled, and what it was.
    slowest: Duration,
    slowest_what: String,
    /// Read-your-writes violations: (`count` read, ok writes, possible writes).
    bad_reads: Vec<(i64, u64, u64)>,
}

fn kind_name(error: &Error) -> &'static str {
    match error.kind() {
        ErrorKind::Acquire(_) => "Acquire",
        ErrorKind::Server(_) => "Server",
        ErrorKind::MaybeExecuted { .. } => "MaybeExecuted",
        ErrorKind::BadConnection { .. } => "BadConnection",
        ErrorKind::StatementTimeout { .. } => "StatementTimeout",
        ErrorKind::Client(_) => "Client",
        _ => "other",
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// One task: reads and unique-key writes until `end`, cancelling some.
async fn worker(
    pool: Pool,
    lull: Arc<Lull>,
    task: u64,
    seed: u64,
    start: Instant,
    end: Instant,
) -> TaskLog {
    let log = work(&pool, &lull, task, seed, start, end).await;
    lull.parked.fetch_add(1, SeqCst);
    log
}

async fn work(
    pool: &Pool,
    lull: &Lull,
    task: u64,
    seed: u64,
    start: Instant,
    end: Instant,
) -> TaskLog {
    let mut rng = fastrand::Rng::with_seed(seed ^ (task + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut log = TaskLog::default();
    let mut seq = 0u64;
    let mut backoff = false;
    while Instant::now() < end {
        lull.wait().await;
        let cancel_after = (rng.u32(..CANCEL_ONE_IN) == 0)
            .then(|| Duration::from_millis(rng.u64(CANCEL_AFTER_MS)));
        let write = rng.bool();
        if backoff {
            // A caller's pause after an error, so that a refusing server is
            // not hammered in a tight loop.
            tokio::time::sleep(Duration::from_millis(10)).await;
            backoff = false;
        }
        let started = Instant::now();
        if write {
            seq += 1;
            let id = task * 1_000_000 + seq;
            let exec = pool.exec("INSERT INTO chaos (id, task) VALUES (?, ?)", (id, task));
            let result = match cancel_after {
                Some(limit) => tokio::time::timeout(limit, exec).await.ok(),
                None => Some(exec.await),
            };
            let outcome = match result {
                None => Outcome::Cancelled,
                Some(Ok(_)) => Outcome::Ok,
                Some(Err(error)) => {
                    *log.errors.entry(kind_name(&error)).or_default() += 1;
                    backoff = true;
                    if error.may_have_run() {
                        Outcome::Maybe
                    } else {
                        Outcome::NotRun
                    }
                }
            };
            log.writes
                .push((id, outcome, started - start, start.elapsed()));
            if outcome != Outcome::Cancelled {
                note_duration(&mut log, started.elapsed(), || {
                    format!("write {id}: {outcome:?}")
                });
            }
        } else {
            // Read-your-writes: every write told Ok is visible, and nothing
            // beyond what may have run.
            let ok = log.writes.iter().filter(|w| w.1 == Outcome::Ok).count() as u64;
            let possible = log.writes.iter().filter(|w| w.1 != Outcome::NotRun).count() as u64;
            let query =
                pool.query_first::<i64>("SELECT COUNT(*) FROM chaos WHERE task = ?", (task,));
            let result = match cancel_after {
                Some(limit) => tokio::time::timeout(limit, query).await.ok(),
                None => Some(query.await),
            };
            let finished = result.is_some();
            match result {
                None => log.reads_cancelled += 1,
                Some(Ok(count)) => {
                    log.reads_ok += 1;
                    let count = count.unwrap_or(-1);
                    if count < ok as i64 || count > possible as i64 {
                        log.bad_reads.push((count, ok, possible));
                    }
                }
                Some(Err(error)) => {
                    backoff = true;
                    log.reads_failed += 1;
                    *log.errors.entry(kind_name(&error)).or_default() += 1;
                }
            }
            if finished {
                note_duration(&mut log, started.elapsed(), || {
                    format!("read by task {task}")
                });
            }
        }
    }
    log
}

fn note_duration(log: &mut TaskLog, took: Duration, what: impl FnOnce() -> String) {
    if took > log.slowest {
        log.slowest = took;
        log.slowest_what = what();
    }
}

/// What the schedule left in place, to undo or keep.
#[derive(Default)]
struct Standing {
    /// Connections blackholed: dead to the pool, and held open by the proxy
    /// until closed.
    blackholed: Vec<ConnectionId>,
    /// The latency new connections get.
    latency: Duration,
}

/// Applies one fault from the schedule; returns what it did, for the log.
async fn inject(
    kind: Kind,
    rng: &mut fastrand::Rng,
    pool: &Pool,
    lull: &Lull,
    server: &mut TestServer,
    proxy: &FaultProxy,
    standing: &mut Standing,
) -> String {
    let Standing {
        blackholed,
        latency,
    } = standing;
    // Choices within a fault come from their own generator, seeded by one
    // draw of the schedule's: how many connections there are (which varies
    // from run to run) cannot shift the rest of the schedule.
    let rng = &mut fastrand::Rng::with_seed(rng.u64(..));
    let connections = proxy.connections();
    let one = (!connections.is_empty()).then(|| connections[rng.usize(..connections.len())]);
    // A fault aimed at one connection when there is one, else at all.
    let hit = |fault: Fault, rng: &mut fastrand::Rng| -> String {
        match one {
            Some(id) if rng.bool() => {
                proxy.inject_on(id, fault);
                format!("{fault:?} on {id}")
            }
            _ => {
                proxy.inject(fault);
                format!("{fault:?} on all {}", connections.len())
            }
        }
    };
    match kind {
        Kind::Fin => hit(Fault::Fin, rng),
        Kind::Reset => hit(Fault::Reset, rng),
        Kind::IdleKill => {
            lull.paused.send_replace(true);
            // Every task parked between operations (or done), so no
            // statement is outstanding; a hung operation fails here.
            eventually(
                "every task parked for a lull",
                Duration::from_secs(30),
                || {
                    let parked = lull.parked.load(SeqCst);
                    async move { (parked == TASKS).then_some(()) }
                },
            )
            .await;
            eventually(
                "no connection in use in a lull",
                Duration::from_secs(10),
                || {
                    let in_use = pool.stats().in_use;
                    async move { (in_use == 0).then_some(()) }
                },
            )
            .await;
            // Sitting idle is the scenario: below or above validate_after_idle
            // (500 ms), so both the exec path and validation meet the 4031.
            let idle = Duration::from_millis(rng.u64(0..=800));
            tokio::time::sleep(idle).await;
            let connections = proxy.connections();
            let one =
                (!connections.is_empty()).then(|| connections[rng.usize(..connections.len())]);
            let what = match one {
                Some(id) if rng.bool() => {
                    proxy.inject_on(id, Fault::MySql8IdleKill);
                    format!("MySql8IdleKill on {id}")
                }
                _ => {
                    proxy.inject(Fault::MySql8IdleKill);
                    format!("MySql8IdleKill on all {}", connections.len())
                }
            };
            lull.paused.send_replace(false);
            format!("{what}, idle for {idle:?}")
        }
        Kind::Blackhole => {
            // Mostly one connection: a blackhole on all stalls every task
            // for a statement timeout.
            if rng.u32(..4) == 0 {
                blackholed.extend(&connections);
                proxy.inject(Fault::Blackhole);
                format!("Blackhole on all {}", connections.len())
            } else if let Some(id) = one {
                blackholed.push(id);
                proxy.inject_on(id, Fault::Blackhole);
                format!("Blackhole on {id}")
            } else {
                "Blackhole on none".into()
            }
        }
        Kind::Latency => {
            let delay = match rng.u32(..3) {
                0 => Duration::ZERO,
                _ => Duration::from_millis(rng.u64(1..=50)),
            };
            *latency = delay;
            proxy.inject(Fault::Latency(delay));
            proxy.on_new_connections(Some(Fault::Latency(delay)));
            format!(
                "Latency({delay:?}) on all {} and new ones",
                connections.len()
            )
        }
        Kind::ResetBeforeReply => match one {
            Some(id) => {
                proxy.inject_on(id, Fault::ResetBeforeReply);
                format!("ResetBeforeReply on {id}")
            }
            None => "ResetBeforeReply on none".into(),
        },
        Kind::RefuseNew => {
            let window = Duration::from_millis(rng.u64(50..=300));
            proxy.on_new_connections(Some(Fault::RefuseNew));
            // The refusal lasting a while is the fault itself.
            tokio::time::sleep(window).await;
            // Listening again, with the latency new connections had.
            proxy.on_new_connections(Some(Fault::Latency(*latency)));
            format!("RefuseNew for {window:?}")
        }
        Kind::ServerKill => match server.kill_all_client_connections().await {
            Ok(killed) => format!("server killed {killed} sessions"),
            Err(error) => format!("server kill failed: {error}"),
        },
        Kind::Restart => {
            let started = Instant::now();
            server.restart().await.expect("the server restarts");
            format!("server restarted in {:?}", started.elapsed())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_writes_run_at_most_once_and_the_pool_recovers() {
    let secs = env_u64("POOL_CHAOS_SECS").unwrap_or(DEFAULT_SECS).max(1);
    let seed = env_u64("POOL_CHAOS_SEED").unwrap_or_else(|| fastrand::u64(..));
    let run_for = Duration::from_secs(secs);
    eprintln!("chaos: seed {seed} (POOL_CHAOS_SEED={seed} replays it), {secs} s");
    // The run, the restart, closing and checking, on a loaded machine.
    let limit = run_for + Duration::from_secs(120);
    bounded("the chaos run", limit, chaos(seed, run_for)).await;
}

async fn chaos(seed: u64, run_for: Duration) {
    // POOL_CHAOS_LOG=1 shows the pool's own account (retries and reasons).
    let _log = std::env::var_os("POOL_CHAOS_LOG").map(|_| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(subscriber)
    });
    let mut server = TestServer::start().await.expect("test server");
    let proxy = FaultProxy::start(server.addr()).await.expect("fault proxy");
    let mut admin = server.conn().await.unwrap();
    // No unique key: a statement that ran twice leaves two rows.
    admin
        .query_drop(
            "CREATE TABLE chaos (id BIGINT NOT NULL, task INT NOT NULL, KEY (id)) ENGINE=InnoDB",
        )
        .await
        .unwrap();
    admin.disconnect().await.unwrap();

    let mut options = PoolOptions::from_url(&server.url_at(proxy.addr()).unwrap()).unwrap();
    options.max_open = 16;
    options.max_idle = 16;
    options.acquire_timeout = ACQUIRE_TIMEOUT;
    options.connect_timeout = Duration::from_secs(1);
    options.statement_timeout = Some(STATEMENT_TIMEOUT);
    let pool = Pool::builder(options)
        .connect()
        .await
        .expect("the pool connects");

    let mut rng = fastrand::Rng::with_seed(seed);
    let started = Instant::now();
    let end = started + run_for;
    let lull = Arc::new(Lull {
        paused: tokio::sync::watch::Sender::new(false),
        parked: 0.into(),
    });
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (pool, lull) = (pool.clone(), Arc::clone(&lull));
            tokio::spawn(worker(pool, lull, task, seed, started, end))
        })
        .collect();

    // The schedule: every kind once in a shuffled order first, so that a
    // short run still sees each, then random ones; the one restart lands
    // somewhere in the middle half of the run.
    let mut first = RANDOM_KINDS.to_vec();
    rng.shuffle(&mut first);
    let restart_at = run_for.mul_f64(0.25 + rng.f64() * 0.5);
    let mut restarted = false;
    let mut injected: BTreeMap<Kind, u64> = BTreeMap::new();
    let mut standing = Standing::default();
    let mut schedule = Vec::new();
    loop {
        // The pause between faults is part of the schedule itself.
        tokio::time::sleep(Duration::from_millis(rng.u64(150..=500))).await;
        let now = started.elapsed();
        if now >= run_for {
            break;
        }
        let kind = if !restarted && now >= restart_at {
            restarted = true;
            Kind::Restart
        } else if !first.is_empty() {
            first.remove(0)
        } else {
            RANDOM_KINDS[rng.usize(..RANDOM_KINDS.len())]
        };
        let what = inject(
            kind,
            &mut rng,
            &pool,
            &lull,
            &mut server,
            &proxy,
            &mut standing,
        )
        .await;
        *injected.entry(kind).or_default() += 1;
        schedule.push(format!("{:>8.3?} {what}", now));
    }
    if !restarted {
        // A run too short to reach its restart time still restarts once.
        let what = inject(
            Kind::Restart,
            &mut rng,
            &pool,
            &lull,
            &mut server,
            &proxy,
            &mut standing,
        )
        .await;
        *injected.entry(Kind::Restart).or_default() += 1;
        schedule.push(format!("{:>8.3?} {what}", started.elapsed()));
    }

    // Each task ends after at most one more operation, itself bounded.
    let logs = bounded(
        "the tasks ending after the run",
        Duration::from_secs(30),
        async {
            let mut logs = Vec::new();
            for task in tasks {
                logs.push(task.await.expect("a task panicked"));
            }
            logs
        },
    )
    .await;
    let ran_for = started.elapsed();

    // Calm: no more latency or refusals; blackholed flows (dead to the pool)
    // are closed so that their server sessions can end.
    proxy.clear();
    proxy.inject(Fault::Latency(Duration::ZERO));
    for id in &standing.blackholed {
        proxy.inject_on(*id, Fault::Fin);
    }

    let in_use = eventually("no connection in use", Duration::from_secs(10), || {
        let stats = pool.stats();
        async move { (stats.in_use == 0).then_some(stats) }
    })
    .await;
    let stats_before_close = in_use;
    pool.close().await;
    let left = eventually(
        "the server sees no session of the closed pool",
        Duration::from_secs(15),
        || async {
            let n = server.client_connections().await.ok()?;
            (n == 0).then_some(n)
        },
    )
    .await;
    assert_eq!(left, 0);

    // The judge.
    let mut admin = server.conn().await.unwrap();
    let rows: Vec<(u64, i64)> = admin
        .query("SELECT id, COUNT(*) FROM chaos GROUP BY id")
        .await
        .unwrap();
    admin.disconnect().await.unwrap();
    let in_table: HashMap<u64, i64> = rows.into_iter().collect();

    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    let mut errors: BTreeMap<&str, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut bad_reads = Vec::new();
    let mut known = HashMap::new();
    let (mut reads_ok, mut reads_failed, mut reads_cancelled) = (0, 0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    for log in &logs {
        reads_ok += log.reads_ok;
        reads_failed += log.reads_failed;
        reads_cancelled += log.reads_cancelled;
        for (kind, n) in &log.errors {
            *errors.entry(kind).or_default() += n;
        }
        if log.slowest > slowest.0 {
            slowest = (log.slowest, log.slowest_what.clone());
        }
        for bad in &log.bad_reads {
            bad_reads.push(format!(
                "a read saw {} rows of its task, with {} writes Ok and {} that may have run",
                bad.0, bad.1, bad.2
            ));
        }
        for &(id, outcome, began, ended) in &log.writes {
            known.insert(id, outcome);
            let rows = in_table.get(&id).copied().unwrap_or(0);
            let name = match outcome {
                Outcome::Ok => "ok",
                Outcome::Maybe => "maybe",
                Outcome::NotRun => "not-run",
                Outcome::Cancelled => "cancelled",
            };
            *counts.entry(name).or_default() += 1;
            let fine = match outcome {
                Outcome::Ok => rows == 1,
                Outcome::Maybe | Outcome::Cancelled => rows <= 1,
                Outcome::NotRun => rows == 0,
            };
            if !fine {
                failures.push(format!(
                    "write {id} reported {outcome:?} has {rows} rows (sent {began:.3?}..{ended:.3?})"
                ));
            }
            if outcome != Outcome::Ok && rows == 1 {
                *counts
                    .entry(match outcome {
                        Outcome::Maybe => "maybe, did run",
                        _ => "cancelled, did run",
                    })
                    .or_default() += 1;
            }
        }
    }
    failures.extend(bad_reads);
    for (id, rows) in &in_table {
        if !known.contains_key(id) {
            failures.push(format!("id {id} ({rows} rows) was never written"));
        }
    }

    eprintln!("chaos: seed {seed}, ran {ran_for:?}, faults:");
    for line in &schedule {
        eprintln!("  {line}");
    }
    eprintln!("chaos: faults by kind {injected:?}");
    eprintln!("chaos: writes {counts:?}");
    eprintln!("chaos: reads ok {reads_ok}, failed {reads_failed}, cancelled {reads_cancelled}");
    eprintln!("chaos: errors by kind {errors:?}");
    eprintln!("chaos: slowest operation {:?} ({})", slowest.0, slowest.1);
    eprintln!("chaos: stats before close {stats_before_close:?}");
    eprintln!("chaos: stats after close {:?}", pool.stats());

    assert!(
        failures.is_empty(),
        "seed {seed}: {} violations, first ones: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    let bound = ACQUIRE_TIMEOUT + STATEMENT_TIMEOUT + OP_MARGIN;
    assert!(
        slowest.0 <= bound,
        "seed {seed}: an operation took {:?} ({}), past acquire + statement timeout + margin = {bound:?}",
        slowest.0,
        slowest.1
    );
    // The run did what it says: writes succeeded, every kind of fault hit.
    assert!(
        counts.get("ok").copied().unwrap_or(0) > 0,
        "seed {seed}: no write succeeded"
    );
    assert!(reads_ok > 0, "seed {seed}: no read succeeded");
    for kind in RANDOM_KINDS {
        assert!(
            injected.contains_key(&kind),
            "seed {seed}: {kind:?} never injected"
        );
    }
    assert_eq!(
        injected.get(&Kind::Restart),
        Some(&1),
        "seed {seed}: one restart"
    );
    // The pool's own account agrees with what the callers were told.
    assert_eq!(
        stats_before_close.maybe_executed,
        errors.get("MaybeExecuted").copied().unwrap_or(0),
        "seed {seed}: maybe_executed counts every MaybeExecuted returned"
    );
    assert_eq!(
        stats_before_close.statement_timeouts,
        errors.get("StatementTimeout").copied().unwrap_or(0),
        "seed {seed}: statement_timeouts counts every StatementTimeout returned"
    );
}
