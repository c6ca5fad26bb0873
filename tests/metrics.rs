//! The pool's metrics (feature `metrics`), read back from a real recorder
//! (`metrics-util`'s `DebuggingRecorder`) after known work: each metric's
//! name, unit, attributes and value.
//!
//! Each test has its own recorder. Pool-core tests register the pool's
//! handles with it explicitly (`PoolMetrics::register_with`); the MySQL
//! test installs it as the thread's default recorder while the pool is
//! built (`metrics::set_default_local_recorder`), which is how a pool finds
//! the recorder an application installs (the global one). Time runs on
//! tokio's paused clock where it matters.

mod common;
use common::{TEST_TIMEOUT, bounded, eventually};

use std::collections::HashMap;
use std::time::Duration;

use metrics::Unit;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use pool_runtime::metrics::{METRICS, MetricSpec, PoolMetrics};
use pool_runtime::pool::{GenericPool, Limits, Probe};
use pool_runtime::testkit::{MemoryManager, TestCluster, TestServer};
use pool_runtime::{Cluster, ClusterOptions, Pool, PoolOptions};

const POOL: &str = "db.client.connection.pool.name";
const STEP: Duration = Duration::from_secs(10);

type Labels = Vec<(String, String)>;

/// What a recorder saw, merged over snapshots: the debugging recorder's
/// snapshot drains counters and histograms (and zeroes gauges), so counters
/// are summed and samples appended here; a gauge is as of the latest
/// snapshot.
struct Seen {
    snapshotter: Snapshotter,
    pool: String,
    counters: HashMap<(String, Labels), u64>,
    gauges: HashMap<(String, Labels), f64>,
    histograms: HashMap<(String, Labels), Vec<f64>>,
    units: HashMap<String, Option<Unit>>,
    descriptions: HashMap<String, String>,
}

impl Seen {
    fn new(recorder: &DebuggingRecorder, pool: &str) -> Seen {
        Seen {
            snapshotter: recorder.snapshotter(),
            pool: pool.to_owned(),
            counters: HashMap::new(),
            gauges: HashMap::new(),
            histograms: HashMap::new(),
            units: HashMap::new(),
            descriptions: HashMap::new(),
        }
    }

    fn take(&mut self) {
        self.gauges.clear();
        for (key, unit, description, value) in self.snapshotter.snapshot().into_vec() {
            let (kind, key) = key.into_parts();
            let name = key.name().to_owned();
            let mut labels: Labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            self.units.insert(name.clone(), unit);
            if let Some(d) = description {
                self.descriptions.insert(name.clone(), d.to_string());
            }
            let id = (name, labels);
            match (kind, value) {
                (MetricKind::Counter, DebugValue::Counter(n)) => {
                    *self.counters.entry(id).or_default() += n;
                }
                (MetricKind::Gauge, DebugValue::Gauge(v)) => {
                    self.gauges.insert(id, v.into_inner());
                }
                (MetricKind::Histogram, DebugValue::Histogram(vs)) => {
                    self.histograms
                        .entry(id)
                        .or_default()
                        .extend(vs.into_iter().map(|v| v.into_inner()));
                }
                (kind, value) => panic!("{kind:?} with a {value:?}"),
            }
        }
    }

    /// The series' full label set: the pool's name plus `extra`.
    fn id(&self, name: &str, extra: &[(&str, &str)]) -> (String, Labels) {
        let mut labels: Labels = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.push((POOL.to_owned(), self.pool.clone()));
        labels.sort();
        (name.to_owned(), labels)
    }

    fn counter(&self, name: &str, extra: &[(&str, &str)]) -> u64 {
        let id = self.id(name, extra);
        *self
            .counters
            .get(&id)
            .unwrap_or_else(|| panic!("no counter {id:?}; have {:?}", self.counters.keys()))
    }

    fn gauge(&self, name: &str, extra: &[(&str, &str)]) -> f64 {
        let id = self.id(name, extra);
        *self
            .gauges
            .get(&id)
            .unwrap_or_else(|| panic!("no gauge {id:?}; have {:?}", self.gauges.keys()))
    }

    fn samples(&self, name: &str) -> Vec<f64> {
        self.histograms
            .get(&self.id(name, &[]))
            .cloned()
            .unwrap_or_default()
    }

    /// A counter of another pool than `self.pool` (a cluster's members).
    fn counter_in(&self, pool: &str, name: &str, extra: &[(&str, &str)]) -> u64 {
        let mut labels: Labels = extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        labels.push((POOL.to_owned(), pool.to_owned()));
        labels.sort();
        let id = (name.to_owned(), labels);
        *self
            .counters
            .get(&id)
            .unwrap_or_else(|| panic!("no counter {id:?}; have {:?}", self.counters.keys()))
    }

    /// `spec` was described with the table's unit and description, and
    /// has at least one series, each carrying exactly the table's
    /// attributes (and, given `pool`, naming that pool).
    fn assert_declared(&self, spec: &MetricSpec, pool: Option<&str>) {
        assert_eq!(
            self.units.get(spec.name),
            Some(&Some(spec.unit)),
            "{}",
            spec.name
        );
        assert_eq!(
            self.descriptions.get(spec.name).map(String::as_str),
            Some(spec.description)
        );
        let series: Vec<&Labels> = self
            .counters
            .keys()
            .chain(self.gauges.keys())
            .chain(self.histograms.keys())
            .filter(|(n, _)| n == spec.name)
            .map(|(_, l)| l)
            .collect();
        assert!(!series.is_empty(), "{} not registered", spec.name);
        let mut want: Vec<&str> = spec.attributes.to_vec();
        want.sort();
        for labels in series {
            let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(keys, want, "{}", spec.name);
            if let Some(pool) = pool {
                assert!(labels.contains(&(POOL.to_owned(), pool.to_owned())));
            }
        }
    }

    fn closed(&self, reason: &str) -> u64 {
        self.counter("pool_runtime.connection.closed", &[("reason", reason)])
    }
}

fn limits(max_open: u32, max_idle: u32) -> Limits {
    let mut l = Limits::default();
    l.max_open = max_open;
    l.max_idle = max_idle;
    // Maintenance is driven by hand.
    l.maintenance_interval = Duration::from_secs(3600);
    l
}

fn observed_pool(
    recorder: &DebuggingRecorder,
    name: &str,
    limits: Limits,
) -> (GenericPool<MemoryManager>, MemoryManager) {
    let manager = MemoryManager::new();
    let metrics = PoolMetrics::register_with(recorder, name);
    let pool = GenericPool::with_observer(manager.clone(), limits, metrics).unwrap();
    (pool, manager)
}

#[tokio::test(start_paused = true)]
async fn ten_acquires_with_three_waits_are_counted_exactly() {
    bounded("ten acquires with three waits", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "orders");
        let mut l = limits(3, 3);
        l.min_idle = 1;
        let (pool, manager) = observed_pool(&recorder, "orders", l);

        // 3 acquires open 3 connections, at once on the paused clock.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.get().await.unwrap());
        }
        // 3 more wait in line.
        let mut waiters = Vec::new();
        for _ in 0..3 {
            let pool = pool.clone();
            waiters.push(tokio::spawn(async move {
                let conn = pool.get().await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(conn);
            }));
        }
        eventually("three acquires in line", STEP, || async {
            (pool.stats().waiting == 3).then_some(())
        })
        .await;
        seen.take();
        assert_eq!(
            seen.gauge("db.client.connection.pending_requests", &[]),
            3.0
        );
        assert_eq!(
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", "used")]
            ),
            3.0
        );
        assert_eq!(
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", "idle")]
            ),
            0.0
        );
        assert_eq!(seen.gauge("db.client.connection.max", &[]), 3.0);
        assert_eq!(seen.gauge("db.client.connection.idle.max", &[]), 3.0);
        assert_eq!(seen.gauge("db.client.connection.idle.min", &[]), 1.0);

        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        // 4 more, each served at once by an idle connection.
        for _ in 0..4 {
            drop(pool.get().await.unwrap());
        }
        seen.take();

        let wait = seen.samples("db.client.connection.wait_time");
        assert_eq!(wait.len(), 10, "{wait:?}");
        let waited: Vec<f64> = wait.iter().copied().filter(|s| *s > 0.0).collect();
        assert_eq!(waited.len(), 3, "{wait:?}");
        assert!(
            waited.iter().all(|s| *s >= 0.1),
            "waited at least 100 ms: {wait:?}"
        );
        let used = seen.samples("db.client.connection.use_time");
        assert_eq!(used.len(), 10, "{used:?}");
        assert_eq!(used.iter().filter(|s| **s >= 0.1).count(), 3, "{used:?}");
        assert_eq!(seen.samples("db.client.connection.create_time").len(), 3);
        assert_eq!(manager.connects(), 3);
        assert_eq!(
            seen.gauge("db.client.connection.pending_requests", &[]),
            0.0
        );
        assert_eq!(
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", "used")]
            ),
            0.0
        );
        assert_eq!(
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", "idle")]
            ),
            3.0
        );
        assert_eq!(seen.counter("db.client.connection.timeouts", &[]), 0);

        // Every connection in use: an acquire times out, counted with its phase.
        let held: Vec<_> = [
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
        ]
        .into();
        assert!(pool.get_timeout(Duration::from_millis(50)).await.is_err());
        drop(held);
        seen.take();
        assert_eq!(seen.counter("db.client.connection.timeouts", &[]), 1);
        assert_eq!(
            seen.counter("pool_runtime.acquire.timeouts", &[("phase", "waiting")]),
            1
        );
        assert_eq!(
            seen.counter("pool_runtime.acquire.timeouts", &[("phase", "connecting")]),
            0
        );
        assert_eq!(pool.stats().timeouts, 1);
    })
    .await;
}

#[tokio::test]
async fn every_metric_is_described_with_its_unit_and_carries_the_pool_name() {
    bounded("described with units", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "p");
        let (pool, _) = observed_pool(&recorder, "p", limits(2, 2));
        drop(pool.get().await.unwrap());
        seen.take();
        let expected: HashMap<&str, Unit> = [
            ("db.client.connection.count", Unit::Count),
            ("db.client.connection.idle.max", Unit::Count),
            ("db.client.connection.idle.min", Unit::Count),
            ("db.client.connection.max", Unit::Count),
            ("db.client.connection.pending_requests", Unit::Count),
            ("db.client.connection.timeouts", Unit::Count),
            ("db.client.connection.create_time", Unit::Seconds),
            ("db.client.connection.wait_time", Unit::Seconds),
            ("db.client.connection.use_time", Unit::Seconds),
        ]
        .into();
        for (name, unit) in &expected {
            assert_eq!(seen.units.get(*name), Some(&Some(*unit)), "{name}");
        }
        // Every metric of the table (ours included) is registered for the
        // pool, described, and each of its series names the pool.
        for spec in METRICS {
            if spec.name == "pool_runtime.boot.findings" {
                continue; // only for a MySQL pool's boot; see the MySQL test
            }
            if spec.name.starts_with("pool_runtime.cluster.") {
                continue; // only for a `Cluster`; see the cluster test
            }
            seen.assert_declared(spec, Some("p"));
        }
        // The OTel names and units the table declares, exactly.
        for (name, unit) in expected {
            let spec = METRICS.iter().find(|m| m.name == name).unwrap();
            assert_eq!(spec.unit, unit);
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn closes_are_counted_by_reason() {
    bounded("closes by reason", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "closes");
        let mut l = limits(4, 1);
        // Paused time, all within the test's outer bound.
        l.max_idle_time = Some(Duration::from_secs(20));
        l.max_lifetime = Some(Duration::from_secs(50));
        l.validate_after_idle = Duration::from_secs(1);
        let (pool, manager) = observed_pool(&recorder, "closes", l);

        // max_idle = 1: of two returned, one is kept and one closed.
        let (a, b) = (pool.get().await.unwrap(), pool.get().await.unwrap());
        drop((a, b));
        // Broken on return, and discarded by its user.
        let mut broken = pool.get().await.unwrap();
        broken.break_it();
        drop(broken);
        pool.get().await.unwrap().discard();
        // The one idle connection is killed behind the pool's back; the next
        // acquire (past validate_after_idle) finds it dead and opens another.
        pool.get().await.unwrap(); // leaves one idle, just returned
        tokio::time::sleep(Duration::from_secs(2)).await;
        manager.kill_existing();
        drop(pool.get().await.unwrap());
        // Idle past max_idle_time, retired by maintenance.
        tokio::time::sleep(Duration::from_secs(21)).await;
        pool.run_maintenance().await;
        // Past max_lifetime on return.
        let old = pool.get().await.unwrap();
        tokio::time::sleep(Duration::from_secs(51)).await;
        drop(old);
        // Closing the pool closes the idle one.
        drop(pool.get().await.unwrap());
        pool.close().await;
        seen.take();

        let stats = pool.stats();
        assert_eq!(seen.closed("max_idle"), 1);
        assert_eq!(seen.closed("broken"), 1);
        assert_eq!(seen.closed("discarded"), 1);
        assert_eq!(seen.closed("validation_failed"), 1);
        assert_eq!(
            seen.counter("pool_runtime.connection.validation_failures", &[]),
            1
        );
        assert_eq!(seen.closed("max_idle_time"), 1);
        assert_eq!(seen.closed("max_lifetime"), 1);
        assert_eq!(seen.closed("pool_closed"), 1);
        assert_eq!(seen.closed("replaced"), 0);
        assert_eq!(stats.max_idle_closed, 1);
        assert_eq!(stats.validation_failed, 1);
        assert_eq!(stats.max_idle_time_closed, 1);
        assert_eq!(stats.max_lifetime_closed, 1);
        let created = seen.samples("db.client.connection.create_time").len() as u64;
        assert_eq!(created, manager.connects());
        assert_eq!(
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", "idle")]
            ),
            0.0
        );
    })
    .await;
}

/// A death that proves the server closed a connection is one suspect
/// event; its older siblings' pings are counted by outcome; a generation
/// switch is counted once, a stale second ask not at all.
#[tokio::test(start_paused = true)]
async fn suspect_siblings_and_generation_switches_are_counted() {
    bounded("suspects and generations", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "suspects");
        let mut l = limits(4, 4);
        l.validate_after_idle = Duration::from_secs(3600);
        let (pool, manager) = observed_pool(&recorder, "suspects", l);

        // Three connections, used a moment ago, then killed by the server.
        let held = [
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
        ];
        drop(held);
        manager.kill_existing();
        let first = pool.get().await.unwrap();
        let id = first.id();
        first.discard_after(&pool_runtime::testkit::MemoryError::Killed(id));
        // The two older siblings are pinged and found dead; then a new one.
        drop(pool.get().await.unwrap());
        drop(pool.get().await.unwrap());

        let generation = pool.generation();
        assert!(pool.retire_generation(generation).is_some());
        assert!(
            pool.retire_generation(generation).is_none(),
            "already switched"
        );
        seen.take();

        let suspects = "pool_runtime.connection.suspect_validations";
        assert_eq!(
            seen.counter("pool_runtime.connection.suspect_events", &[]),
            1
        );
        assert_eq!(seen.counter(suspects, &[("outcome", "dead")]), 2);
        assert_eq!(seen.counter(suspects, &[("outcome", "alive")]), 0);
        assert_eq!(
            seen.counter("pool_runtime.pool.generations_retired", &[]),
            1
        );
        let stats = pool.stats();
        assert_eq!(stats.suspect_found_dead, 2, "{stats:?}");
        assert_eq!(stats.generations_retired, 1, "{stats:?}");
    })
    .await;
}

/// The live operations: a reconfigure moves the limit gauges, a lowered
/// `max_open` closes its surplus as `max_open`, retired credentials' connections
/// close as `retired`, a drain's as `pool_closed`, and the occupancy gauges
/// follow every move.
#[tokio::test(start_paused = true)]
async fn live_limits_retirement_and_drain_show_in_gauges_and_close_reasons() {
    bounded("live operations", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "live");
        let (pool, _manager) = observed_pool(&recorder, "live", limits(4, 4));
        let used = [("db.client.connection.state", "used")];
        let idle = [("db.client.connection.state", "idle")];

        // Three open: two in use, one idle.
        let (a, b, c) = (
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
            pool.get().await.unwrap(),
        );
        drop(c);
        let mut one = pool.limits();
        one.max_open = 1;
        one.max_idle = 1;
        pool.reconfigure(one).await.unwrap();
        seen.take();
        assert_eq!(seen.gauge("db.client.connection.max", &[]), 1.0);
        assert_eq!(seen.gauge("db.client.connection.idle.max", &[]), 1.0);
        assert_eq!(seen.closed("max_open"), 1, "the idle surplus, at once");
        assert_eq!(seen.gauge("db.client.connection.count", &used), 2.0);
        assert_eq!(seen.gauge("db.client.connection.count", &idle), 0.0);

        // The in-use surplus closes as it comes back; the last one stays.
        drop(a);
        drop(b);
        seen.take();
        assert_eq!(seen.closed("max_open"), 2);
        assert_eq!(seen.closed("max_idle"), 0);
        assert_eq!(
            pool.stats().max_idle_closed,
            2,
            "Go counts both as MaxIdleClosed"
        );
        assert_eq!(seen.gauge("db.client.connection.count", &used), 0.0);
        assert_eq!(seen.gauge("db.client.connection.count", &idle), 1.0);

        // New credentials: the idle connection of the old generation goes.
        assert_eq!(pool.retire_older(), 1);
        seen.take();
        assert_eq!(seen.closed("retired"), 1);
        assert_eq!(seen.gauge("db.client.connection.count", &idle), 0.0);

        let mut three = pool.limits();
        three.max_open = 3;
        three.max_idle = 2;
        pool.reconfigure(three).await.unwrap();
        seen.take();
        assert_eq!(seen.gauge("db.client.connection.max", &[]), 3.0);
        assert_eq!(seen.gauge("db.client.connection.idle.max", &[]), 2.0);

        // A probe opens one (no idle left) and puts it back, once the
        // closed ones' goodbyes have freed their room; a drain closes it.
        eventually("a probe that connects", TEST_TIMEOUT, || async {
            matches!(pool.probe().await, Probe::Connected).then_some(())
        })
        .await;
        seen.take();
        assert_eq!(seen.gauge("db.client.connection.count", &used), 0.0);
        assert_eq!(seen.gauge("db.client.connection.count", &idle), 1.0);
        let report = pool.close_within(Duration::from_secs(5)).await;
        assert_eq!(report.forced, 0);
        seen.take();
        assert_eq!(seen.closed("pool_closed"), 1);
        assert_eq!(seen.gauge("db.client.connection.count", &idle), 0.0);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn failed_connects_are_counted() {
    bounded("failed connects", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "refused");
        let (pool, manager) = observed_pool(&recorder, "refused", limits(2, 2));
        manager.fail_next_connects(2);
        assert!(pool.get().await.is_err());
        assert!(pool.get().await.is_err());
        drop(pool.get().await.unwrap());
        seen.take();
        assert_eq!(
            seen.counter("pool_runtime.connection.connect_errors", &[]),
            2
        );
        assert_eq!(seen.samples("db.client.connection.create_time").len(), 1);
        assert_eq!(
            seen.samples("db.client.connection.wait_time").len(),
            1,
            "failed acquires are not samples"
        );
    })
    .await;
}

/// Under contention from many threads the gauges end exactly where the pool
/// is, and every acquire and return is one sample.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_stay_exact_under_concurrency() {
    bounded("gauges under concurrency", TEST_TIMEOUT, async {
        let recorder = DebuggingRecorder::new();
        let mut seen = Seen::new(&recorder, "busy");
        let (pool, manager) = observed_pool(&recorder, "busy", limits(8, 4));
        let (tasks, rounds) = (64, 200);
        let mut handles = Vec::new();
        for t in 0..tasks {
            let pool = pool.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..rounds {
                    let conn = pool.get().await.unwrap();
                    if (t + i) % 3 == 0 {
                        tokio::task::yield_now().await;
                    }
                    drop(conn);
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        seen.take();
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.waiting), (0, 0), "{stats:?}");
        let state = |s| {
            seen.gauge(
                "db.client.connection.count",
                &[("db.client.connection.state", s)],
            )
        };
        assert_eq!(state("used"), 0.0);
        assert_eq!(state("idle"), stats.idle as f64);
        assert_eq!(
            seen.gauge("db.client.connection.pending_requests", &[]),
            0.0
        );
        assert_eq!(
            seen.samples("db.client.connection.wait_time").len(),
            tasks * rounds
        );
        assert_eq!(
            seen.samples("db.client.connection.use_time").len(),
            tasks * rounds
        );
        let created = seen.samples("db.client.connection.create_time").len() as u64;
        assert_eq!(created, manager.connects());
        let closed: u64 = seen
            .counters
            .iter()
            .filter(|((n, _), _)| n == "pool_runtime.connection.closed")
            .map(|(_, v)| *v)
            .sum();
        assert_eq!(
            created - closed,
            stats.open,
            "opened minus closed is what is open"
        );
    })
    .await;
}

/// The MySQL pool registers with the recorder current when it is built,
/// named `host:port/db` unless `pool_name` says otherwise, and counts its
/// boot findings and the exec path's statement timeouts.
#[tokio::test]
async fn a_mysql_pool_reports_under_its_name_with_boot_findings_and_statement_timeouts() {
    bounded("mysql pool metrics", TEST_TIMEOUT, async {
        let server = TestServer::start().await.expect("a throwaway server");
        let url = server.url_at(server.addr()).expect("TCP URL");
        let addr = server.addr();
        let recorder = DebuggingRecorder::new();

        // Unnamed: host:port/db, and a finding warned instead of denied.
        let mut options = PoolOptions::from_url(&url).unwrap();
        options.max_open = 2;
        options.max_idle = 3;
        options.statement_timeout = Some(Duration::from_secs(1));
        options.on_violation = "warn".parse().unwrap();
        let pool = {
            let _local = metrics::set_default_local_recorder(&recorder);
            Pool::builder(options).connect().await.expect("pool starts")
        };
        let name = format!("{}:{}/test", addr.ip(), addr.port());
        let mut seen = Seen::new(&recorder, &name);
        let n: Option<i64> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(n, Some(1));
        let slow: Result<Option<i64>, _> = pool.query_first("SELECT SLEEP(3)", ()).await;
        assert!(slow.is_err(), "{slow:?}");
        seen.take();
        assert_eq!(
            seen.counter(
                "pool_runtime.boot.findings",
                &[("code", "max_idle_above_max_open")]
            ),
            1
        );
        assert_eq!(seen.counter("pool_runtime.exec.statement_timeouts", &[]), 1);
        assert_eq!(seen.counter("pool_runtime.exec.maybe_executed", &[]), 0);
        assert_eq!(
            seen.counter("pool_runtime.exec.retries", &[("kind", "bad_conn")]),
            0
        );
        assert_eq!(
            seen.closed("discarded"),
            1,
            "the timed-out statement's connection"
        );
        assert!(!seen.samples("db.client.connection.wait_time").is_empty());
        assert_eq!(seen.gauge("db.client.connection.max", &[]), 2.0);
        // A live reconfigure moves the limit gauges.
        let mut wider = PoolOptions::clone(&pool.options());
        wider.max_open = 4;
        pool.reconfigure(wider).await.expect("max_open is live");
        seen.take();
        assert_eq!(seen.gauge("db.client.connection.max", &[]), 4.0);
        assert_eq!(seen.gauge("db.client.connection.idle.max", &[]), 3.0);
        pool.close().await;

        // Named by the setting.
        let mut options = PoolOptions::from_url(&url).unwrap();
        options.pool_name = Some("orders-primary".into());
        let named = {
            let _local = metrics::set_default_local_recorder(&recorder);
            Pool::builder(options).connect().await.expect("pool starts")
        };
        let mut seen = Seen::new(&recorder, "orders-primary");
        drop(named.get().await.unwrap());
        seen.take();
        assert_eq!(seen.samples("db.client.connection.wait_time").len(), 1);
        named.close().await;

        // Built without metrics: nothing registered.
        let plain = {
            let _local = metrics::set_default_local_recorder(&recorder);
            let mut options = PoolOptions::from_url(&url).unwrap();
            options.pool_name = Some("silent".into());
            Pool::builder(options)
                .without_metrics()
                .connect()
                .await
                .expect("pool starts")
        };
        drop(plain.get().await.unwrap());
        let mut seen = Seen::new(&recorder, "silent");
        seen.take();
        assert!(
            seen.histograms
                .keys()
                .all(|(_, l)| !l.contains(&(POOL.to_owned(), "silent".to_owned())))
        );
        plain.close().await;
    })
    .await;
}

/// A `Cluster`'s routing in metrics, each series under the member it is
/// about: reads on each replica, read-your-writes and fallback reads on the
/// primary, rotation exits by reason on each replica; the members' own pool
/// metrics under `primary`, `replica-0`, `replica-1`. The series add up to
/// `ClusterStats`.
#[tokio::test]
async fn a_clusters_routing_is_counted_per_member() {
    bounded("cluster metrics", TEST_TIMEOUT, async {
        let kit = TestCluster::start(2).await.unwrap();
        kit.grant_app("SLAVE MONITOR").await.unwrap();
        let [a, b] = kit.replica_indexes()[..] else {
            panic!("two replicas")
        };
        let options = ClusterOptions::from_urls(
            &kit.app_url(kit.primary_index()),
            [kit.app_url(a), kit.app_url(b)],
        )
        .unwrap();
        let recorder = DebuggingRecorder::new();
        let cluster = {
            let _local = metrics::set_default_local_recorder(&recorder);
            Cluster::connect(options).await.unwrap()
        };
        let mut seen = Seen::new(&recorder, "primary");
        let reads = "pool_runtime.cluster.reads";

        for _ in 0..6 {
            let _: Option<i64> = cluster.query_first("SELECT 1", ()).await.unwrap();
        }
        cluster
            .exec("CREATE TABLE metered (id INT PRIMARY KEY)", ())
            .await
            .unwrap();
        let _: Option<i64> = cluster
            .query_first("SELECT COUNT(*) FROM metered", ())
            .await
            .unwrap();
        seen.take();
        let on =
            |seen: &Seen, member: &str| seen.counter_in(member, reads, &[("route", "replica")]);
        assert_eq!(on(&seen, "replica-0") + on(&seen, "replica-1"), 6);
        assert_eq!(seen.counter(reads, &[("route", "primary_ryw")]), 1);
        assert_eq!(seen.counter(reads, &[("route", "primary_no_replica")]), 0);
        assert_eq!(seen.counter(reads, &[("route", "refused")]), 0);
        // The members' own pool metrics, under the same names.
        for member in ["primary", "replica-0", "replica-1"] {
            let max = seen.gauges.keys().any(|(name, labels)| {
                name == "db.client.connection.max"
                    && labels.contains(&(POOL.to_owned(), member.to_owned()))
            });
            assert!(max, "no pool metrics for {member}");
        }

        // Both replicas stopped: each leaves once, reads fall back to the primary.
        kit.stop_replication(a).await.unwrap();
        kit.stop_replication(b).await.unwrap();
        cluster.check_replicas().await;
        let session = cluster.session();
        let _: Option<i64> = session.query_first("SELECT 1", ()).await.unwrap();
        seen.take();
        let exits = "pool_runtime.cluster.rotation_exits";
        for member in ["replica-0", "replica-1"] {
            assert_eq!(seen.counter_in(member, exits, &[("reason", "stopped")]), 1);
            assert_eq!(seen.counter_in(member, exits, &[("reason", "lagging")]), 0);
            assert_eq!(
                seen.counter_in(member, "pool_runtime.cluster.replica_retries", &[]),
                0
            );
        }
        assert_eq!(seen.counter(reads, &[("route", "primary_no_replica")]), 1);

        // Described, with the table's unit and attributes on every series.
        for spec in METRICS
            .iter()
            .filter(|m| m.name.starts_with("pool_runtime.cluster."))
        {
            seen.assert_declared(spec, None);
        }

        let stats = cluster.stats();
        assert_eq!(stats.reads_to_replicas, 6);
        assert_eq!(stats.reads_to_primary_ryw, 1);
        assert_eq!(stats.reads_to_primary_no_replica, 1);
        assert_eq!(stats.left_stopped, 2);
        cluster.close().await;
    })
    .await;
}
