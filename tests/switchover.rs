//! A switchover behind a virtual IP (issue 15's scenario): 8 tasks insert
//! unique rows through a plain `Pool` pointed at the VIP; the test kit
//! demotes the primary, promotes the replica and moves the VIP. Open
//! connections keep pointing at the demoted server, as behind a real VIP
//! or DNS name, where every write fails with 1290. The pool must see that
//! the target moved, retire those connections at once and re-send the
//! write on a connection to the new primary, so that the caller sees
//! (nearly) nothing. The variant where the failover also kills the old
//! primary's sessions at the flip (its fencing) costs each writer at most
//! the write it had in flight: the first death the pool sees makes every
//! older idle connection suspect, so none is handed out unchecked. Both
//! are also measured with mysql_async's own pool, for the record.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{self, Conn, Opts};
use pool_runtime::testkit::TestCluster;
use pool_runtime::{Pool, PoolOptions, SslMode};

const TASKS: u64 = 8;
/// Rows each task writes before the flip, and after it, before the run ends.
const ROWS_EACH_SIDE: u64 = 25;

async fn create_table(cluster: &TestCluster) {
    let mut conn = Conn::new(Opts::from_url(&cluster.app_url(cluster.primary_index())).unwrap())
        .await
        .unwrap();
    conn.query_drop("CREATE TABLE t (id BIGINT PRIMARY KEY, task INT NOT NULL)")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
}

async fn ids_on(cluster: &TestCluster, i: usize) -> Vec<i64> {
    let mut conn = Conn::new(Opts::from_url(&cluster.app_url(i)).unwrap())
        .await
        .unwrap();
    let ids = conn.query("SELECT id FROM t ORDER BY id").await.unwrap();
    conn.disconnect().await.unwrap();
    ids
}

/// One write's outcome: its id, when it began and ended, and its error,
/// if any.
struct Outcome {
    id: i64,
    started: Instant,
    ended: Instant,
    error: Option<Failure>,
}

struct Failure {
    text: String,
    may_have_run: bool,
    duplicate: bool,
}

/// What the writers saw, when the VIP moved, and the kill, if any.
struct Run {
    per_task: Vec<Vec<Outcome>>,
    flip: Instant,
    kill: Option<Kill>,
}

/// The old primary's application sessions, killed.
struct Kill {
    /// When the test kit began listing the sessions to kill.
    began: Instant,
    /// When the last `KILL` had been sent and answered.
    done: Instant,
    sessions: usize,
}

/// Whether, and when, the failover also kills the old primary's sessions.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flip {
    Plain,
    /// Right after the VIP moved (fencing as the switchover's last step).
    KillAfterMove,
    /// Just before the demotion (fencing first): every session of the pool
    /// is still there to kill, and nothing has been refused yet.
    FenceFirst,
}

impl Flip {
    fn describe(self) -> &'static str {
        match self {
            Flip::Plain => "plain flip",
            Flip::KillAfterMove => "old sessions killed after the VIP move",
            Flip::FenceFirst => "old sessions killed before the demotion",
        }
    }
}

impl Run {
    fn ok_ids(&self) -> BTreeSet<i64> {
        self.all()
            .filter(|o| o.error.is_none())
            .map(|o| o.id)
            .collect()
    }

    fn all(&self) -> impl Iterator<Item = &Outcome> {
        self.per_task.iter().flatten()
    }

    fn errors_after_flip(&self, task: usize) -> Vec<&Failure> {
        self.per_task[task]
            .iter()
            .filter(|o| o.ended >= self.flip)
            .filter_map(|o| o.error.as_ref())
            .collect()
    }

    fn errors_total(&self) -> usize {
        self.all().filter(|o| o.error.is_some()).count()
    }

    fn errors_after_flip_total(&self) -> usize {
        (0..self.per_task.len())
            .map(|t| self.errors_after_flip(t).len())
            .sum()
    }

    /// Writes that failed with "may have run" since the kill began (or
    /// the flip, if that was first).
    fn maybe_run_since_kill(&self) -> impl Iterator<Item = &Outcome> {
        let since = self
            .kill
            .as_ref()
            .map_or(self.flip, |k| k.began.min(self.flip));
        self.all()
            .filter(move |o| o.ended >= since && o.error.as_ref().is_some_and(|e| e.may_have_run))
    }

    fn first_ok_after_flip(&self) -> Option<Duration> {
        self.all()
            .filter(|o| o.error.is_none() && o.ended >= self.flip)
            .map(|o| o.ended - self.flip)
            .min()
    }
}

/// The scenario: 8 writers through `write`; once each has written
/// `ROWS_EACH_SIDE` rows, the switchover to `to` and the VIP's move; the
/// writers stop once each has `ROWS_EACH_SIDE` more successes after the
/// flip, or 5 s after it (a writer that never recovers). The old
/// primary's sessions are killed as `flip_kind` says.
async fn scenario<W, Fut>(
    cluster: &mut TestCluster,
    to: usize,
    flip_kind: Flip,
    first_id: i64,
    write: W,
) -> Run
where
    W: Fn(i64, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<Failure>> + Send,
{
    let write = Arc::new(write);
    let stop = Arc::new(AtomicBool::new(false));
    let before = Arc::new(AtomicU64::new(0));
    let after = Arc::new(AtomicU64::new(0));
    let flipped = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let (write, stop, before, after, flipped) = (
            write.clone(),
            stop.clone(),
            before.clone(),
            after.clone(),
            flipped.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            let (mut ok_before, mut ok_after) = (0u64, 0u64);
            let mut n = 0i64;
            while !stop.load(SeqCst) {
                let id = first_id + task as i64 * 1_000_000 + n;
                n += 1;
                let was_flipped = flipped.load(SeqCst);
                let started = Instant::now();
                let error = write(id, task).await;
                if error.is_none() {
                    if was_flipped {
                        ok_after += 1;
                        if ok_after == ROWS_EACH_SIDE {
                            after.fetch_add(1, SeqCst);
                        }
                    } else {
                        ok_before += 1;
                        if ok_before == ROWS_EACH_SIDE {
                            before.fetch_add(1, SeqCst);
                        }
                    }
                }
                outcomes.push(Outcome {
                    id,
                    started,
                    ended: Instant::now(),
                    error,
                });
            }
            outcomes
        }));
    }
    eventually(
        "every writer has written before the flip",
        TEST_TIMEOUT,
        || {
            let before = before.clone();
            async move { (before.load(SeqCst) == TASKS).then_some(()) }
        },
    )
    .await;
    let old = cluster.primary_index();
    let mut kill = None;
    if flip_kind == Flip::FenceFirst {
        kill = Some(kill_sessions(cluster, old).await);
    }
    let demoted = Instant::now();
    cluster.switchover(to).await.unwrap();
    cluster.vip().retarget(cluster.server(to).addr());
    let flip = Instant::now();
    flipped.store(true, SeqCst);
    if flip_kind == Flip::KillAfterMove {
        kill = Some(kill_sessions(cluster, old).await);
    }
    eprintln!("switchover took {:?} (demote to VIP move)", flip - demoted);
    if let Some(kill) = &kill {
        eprintln!(
            "killed {} sessions on the old primary in {:?} ({})",
            kill.sessions,
            kill.done - kill.began,
            flip_kind.describe()
        );
    }
    // The writers run on until each has written again, or for 5 s: a peer
    // that never recovers must not hold the test.
    let recovered = tokio::time::timeout(Duration::from_secs(5), async {
        eventually(
            "every writer has written after the flip",
            TEST_TIMEOUT,
            || {
                let after = after.clone();
                async move { (after.load(SeqCst) == TASKS).then_some(()) }
            },
        )
        .await
    })
    .await
    .is_ok();
    eprintln!("every writer wrote again after the flip: {recovered}");
    stop.store(true, SeqCst);
    let mut per_task = Vec::new();
    for task in tasks {
        per_task.push(task.await.unwrap());
    }
    Run {
        per_task,
        flip,
        kill,
    }
}

async fn kill_sessions(cluster: &TestCluster, i: usize) -> Kill {
    let began = Instant::now();
    let sessions = cluster.kill_app_sessions(i).await.unwrap();
    Kill {
        began,
        done: Instant::now(),
        sessions,
    }
}

fn failure_of(e: &pool_runtime::Error) -> Failure {
    Failure {
        text: e.to_string(),
        may_have_run: e.may_have_run(),
        duplicate: e.server_code() == Some(1062),
    }
}

/// The scenarios measure how fast writers recover: one cluster at a time,
/// so that neither is timed while the other starts its servers.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_behind_the_vip_costs_writers_at_most_one_error_each_and_no_row_twice() {
    bounded("switchover behind the VIP", TEST_TIMEOUT, async {
        let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
        let mut cluster = TestCluster::start(1).await.unwrap();
        create_table(&cluster).await;
        let old = cluster.primary_index();
        let new = cluster.replica_indexes()[0];

        let mut options = PoolOptions::from_url(&cluster.vip_url()).unwrap();
        options.ssl_mode = SslMode::Disabled;
        options.max_open = 8;
        options.max_idle = 8;
        let pool = Pool::builder(options).connect().await.unwrap();
        let writer = pool.clone();
        let run = scenario(&mut cluster, new, Flip::Plain, 1, move |id, task| {
            let pool = writer.clone();
            async move {
                pool.exec("INSERT INTO t (id, task) VALUES (?, ?)", (id, task))
                    .await
                    .err()
                    .map(|e| failure_of(&e))
            }
        })
        .await;

        let stats = pool.stats();
        eprintln!(
            "pool-runtime: {} writes, {} errors in all, first success {:?} after the flip; \
             generations retired {}, read-only re-sends {}",
            run.all().count(),
            run.errors_total(),
            run.first_ok_after_flip(),
            stats.generations_retired,
            stats.read_only_retries,
        );
        for task in 0..TASKS as usize {
            let errors = run.errors_after_flip(task);
            for e in &errors {
                eprintln!("  task {task} after the flip: {}", e.text);
            }
            assert!(
                errors.len() <= 1,
                "task {task} saw {} errors after the flip (at most one)",
                errors.len()
            );
        }
        let first = run.first_ok_after_flip().expect("a write succeeded after the flip");
        assert!(
            first < Duration::from_secs(1),
            "the first write after the flip succeeded {first:?} after it (within 1 s)"
        );
        assert!(
            run.all()
                .filter_map(|o| o.error.as_ref())
                .all(|e| !e.duplicate && !e.may_have_run),
            "no write ran twice, and none was reported as maybe run: the refusals are proof it did not"
        );
        assert!(stats.generations_retired >= 1, "the switch is counted");
        assert!(stats.read_only_retries >= 1, "the re-sends are counted");

        // Every row reported written is on the new primary (the old rows
        // replicated before the promotion), and nothing else is.
        let on_new: BTreeSet<i64> = ids_on(&cluster, new).await.into_iter().collect();
        assert_eq!(on_new, run.ok_ids(), "the new primary holds exactly the rows reported Ok");
        pool.close().await;

        // For the record, in the same test: mysql_async's own pool through
        // the same VIP, switched back to the first server. Nothing asserted.
        record_peer(&mut cluster, Flip::Plain, [old, new]).await;
    })
    .await;
}

/// mysql_async's own pool (reset off, then on) through the VIP in the same
/// scenario, switching between the two servers of `pair`. Printed for the
/// record, nothing asserted: every error of it counts as "may have run"
/// (its errors do not say).
async fn record_peer(cluster: &mut TestCluster, flip: Flip, pair: [usize; 2]) {
    for reset in [false, true] {
        let target = if cluster.primary_index() == pair[0] {
            pair[1]
        } else {
            pair[0]
        };
        let opts = mysql_async::OptsBuilder::from_opts(Opts::from_url(&cluster.vip_url()).unwrap())
            .pool_opts(
                mysql_async::PoolOpts::default()
                    .with_reset_connection(reset)
                    .with_constraints(mysql_async::PoolConstraints::new(0, 8).unwrap()),
            );
        let peer = mysql_async::Pool::new(opts);
        let writer = peer.clone();
        let first_id = if reset { 200_000_000 } else { 100_000_000 };
        let run = scenario(cluster, target, flip, first_id, move |id, task| {
            let peer = writer.clone();
            async move {
                let written = async {
                    let mut conn = peer.get_conn().await?;
                    conn.exec_drop("INSERT INTO t (id, task) VALUES (?, ?)", (id, task))
                        .await
                }
                .await;
                written.err().map(|e| Failure {
                    duplicate: matches!(&e, mysql_async::Error::Server(s) if s.code == 1062),
                    text: e.to_string(),
                    may_have_run: true,
                })
            }
        })
        .await;
        let read_only = run
            .all()
            .filter(|o| o.ended >= run.flip)
            .filter_map(|o| o.error.as_ref())
            .filter(|e| e.text.contains("1290"))
            .count();
        // Its errors do not say whether a write may have run: those since
        // the kill that are not read-only refusals are the kill's.
        let killed = run.kill.as_ref().map_or(0, |kill| {
            run.all()
                .filter(|o| o.ended >= kill.began.min(run.flip))
                .filter_map(|o| o.error.as_ref())
                .filter(|e| !e.text.contains("1290"))
                .count()
        });
        eprintln!(
            "mysql_async::Pool (reset {}, {}): {} writes, {} errors after the flip ({} of them 1290), \
             {} other errors since the kill, first success {:?} after the flip",
            if reset { "on" } else { "off" },
            flip.describe(),
            run.all().count(),
            run.errors_after_flip_total(),
            read_only,
            killed,
            run.first_ok_after_flip(),
        );
        let _ = peer.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sessions_killed_after_the_vip_move_cost_each_writer_at_most_its_write_in_flight() {
    bounded(
        "switchover, old sessions killed after the VIP move",
        TEST_TIMEOUT,
        killed_sessions_cost_at_most_the_writes_in_flight(Flip::KillAfterMove),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sessions_killed_before_the_demotion_cost_each_writer_at_most_its_write_in_flight() {
    bounded(
        "switchover, old sessions killed before the demotion",
        TEST_TIMEOUT,
        killed_sessions_cost_at_most_the_writes_in_flight(Flip::FenceFirst),
    )
    .await;
}

/// The switchover with the old primary's sessions killed as `flip` says:
/// a write in flight on a killed session may fail ("may have run"), one per
/// writer at most; no write begun after the kill does, since the first
/// death makes every older connection suspect; the rest as for the plain
/// flip. Then the same without `validate_suspects` and with mysql_async's
/// pool, for the record.
async fn killed_sessions_cost_at_most_the_writes_in_flight(flip: Flip) {
    {
        let _alone = ONE_CLUSTER_AT_A_TIME.lock().await;
        let mut cluster = TestCluster::start(1).await.unwrap();
        create_table(&cluster).await;
        let old = cluster.primary_index();
        let new = cluster.replica_indexes()[0];

        let (pool, run) = pool_run(&mut cluster, new, flip, true, 1).await;
        let kill = run.kill.as_ref().expect("the old sessions were killed");
        let maybe_run: Vec<&Outcome> = run.maybe_run_since_kill().collect();
        for task in 0..TASKS {
            let n = maybe_run
                .iter()
                .filter(|o| o.id / 1_000_000 == task as i64)
                .count();
            assert!(
                n <= 1,
                "task {task}: {n} writes may have run (at most its write in flight)"
            );
        }
        for task in 0..TASKS as usize {
            let errors = run.errors_after_flip(task);
            for e in &errors {
                eprintln!("  task {task} after the flip: {}", e.text);
            }
            assert!(
                errors.len() <= 1,
                "task {task} saw {} errors after the flip (at most its write in flight)",
                errors.len()
            );
        }
        assert!(
            run.errors_after_flip_total() <= TASKS as usize,
            "{} errors reached the callers after the flip (at most one per writer)",
            run.errors_after_flip_total()
        );
        // "May have run" only for a write that was on its way when the
        // sessions were killed: one begun after the kill got a connection
        // the pool had checked, or a new one.
        for o in &maybe_run {
            assert!(
                o.started < kill.done,
                "write {} began {:?} after the kill and was reported as maybe run",
                o.id,
                o.started - kill.done
            );
        }
        let first = run
            .first_ok_after_flip()
            .expect("a write succeeded after the flip");
        assert!(
            first < Duration::from_secs(1),
            "the first write after the flip succeeded {first:?} after it (within 1 s)"
        );
        assert!(
            run.all()
                .filter_map(|o| o.error.as_ref())
                .all(|e| !e.duplicate),
            "no write ran twice"
        );

        // Every row reported Ok is on the new primary (the old one's rows
        // replicated before the promotion); a row there that was not
        // reported Ok can only be one of the writes reported "may have run".
        let on_new: BTreeSet<i64> = ids_on(&cluster, new).await.into_iter().collect();
        let ok = run.ok_ids();
        assert!(
            ok.is_subset(&on_new),
            "rows reported Ok missing: {:?}",
            ok.difference(&on_new)
        );
        let maybe: BTreeSet<i64> = run
            .all()
            .filter(|o| o.error.as_ref().is_some_and(|e| e.may_have_run))
            .map(|o| o.id)
            .collect();
        let unreported: BTreeSet<i64> = on_new.difference(&ok).copied().collect();
        assert!(
            unreported.is_subset(&maybe),
            "rows written that no caller was told may have run: {:?}",
            unreported.difference(&maybe)
        );
        pool.close().await;

        // For the record: the same without `validate_suspects`, back to the
        // first server, then mysql_async's pool. Nothing asserted.
        let (pool, _) = pool_run(&mut cluster, old, flip, false, 300_000_000).await;
        pool.close().await;
        record_peer(&mut cluster, flip, [old, new]).await;
    }
}

/// This pool through the VIP in a scenario with a kill, switching to `to`;
/// prints what the writers saw and the pool's counts.
async fn pool_run(
    cluster: &mut TestCluster,
    to: usize,
    flip: Flip,
    validate_suspects: bool,
    first_id: i64,
) -> (Pool, Run) {
    let mut options = PoolOptions::from_url(&cluster.vip_url()).unwrap();
    options.ssl_mode = SslMode::Disabled;
    options.max_open = 8;
    options.max_idle = 8;
    options.validate_suspects = validate_suspects;
    let pool = Pool::builder(options).connect().await.unwrap();
    let writer = pool.clone();
    let run = scenario(cluster, to, flip, first_id, move |id, task| {
        let pool = writer.clone();
        async move {
            pool.exec("INSERT INTO t (id, task) VALUES (?, ?)", (id, task))
                .await
                .err()
                .map(|e| failure_of(&e))
        }
    })
    .await;
    let stats = pool.stats();
    eprintln!(
        "pool-runtime ({}, validate_suspects {}): {} writes, {} errors after the flip, \
         {} may have run since the kill, first success {:?} after the flip; suspect events {}, \
         suspect validations {}, found dead {}; generations retired {}, read-only re-sends {}",
        flip.describe(),
        if validate_suspects { "on" } else { "off" },
        run.all().count(),
        run.errors_after_flip_total(),
        run.maybe_run_since_kill().count(),
        run.first_ok_after_flip(),
        stats.suspect_events,
        stats.suspect_validations,
        stats.suspect_found_dead,
        stats.generations_retired,
        stats.read_only_retries,
    );
    (pool, run)
}
