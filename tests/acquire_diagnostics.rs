//! Slow-acquire diagnostics: an acquire that runs out of time says what it
//! was doing (waiting in line, connecting, validating), carries the pool's
//! stats at that moment, and its message gives the numbers and the fix for
//! that phase. On the in-memory manager and tokio's paused clock, so each
//! phase is reached exactly; then once on real sockets, through the test
//! kit's fault proxy.

mod common;
use common::{TEST_TIMEOUT, bounded};

use std::time::Duration;

use pool_runtime::pool::{AcquirePhase, GenericPool, Limits, PoolError};
use pool_runtime::testkit::{Fault, FaultProxy, MemoryError, MemoryManager, TestServer};
use pool_runtime::{AcquireError, Pool, PoolOptions, SslMode};

fn limits() -> Limits {
    let mut l = Limits::default();
    l.max_open = 2;
    l.max_idle = 2;
    l.acquire_timeout = Duration::from_secs(1);
    l.maintenance_interval = Duration::from_secs(3600);
    l
}

fn pool(limits: Limits) -> (GenericPool<MemoryManager>, MemoryManager) {
    let manager = MemoryManager::new();
    (GenericPool::new(manager.clone(), limits).unwrap(), manager)
}

/// The phase, the snapshot and the message of a timeout.
fn timed_out(err: PoolError<MemoryError>) -> (AcquirePhase, pool_runtime::pool::CoreStats, String) {
    let text = err.to_string();
    match err {
        PoolError::Timeout {
            phase,
            stats,
            waited,
            per_call: false,
            ..
        } => {
            assert_eq!(waited, Duration::from_secs(1));
            (phase, *stats, text)
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_every_connection_is_in_use_says_waiting() {
    bounded("waiting", TEST_TIMEOUT, async {
        let (pool, _) = pool(limits());
        let _held = (pool.get().await.unwrap(), pool.get().await.unwrap());
        let (phase, stats, text) = timed_out(pool.get().await.unwrap_err());
        assert_eq!(phase, AcquirePhase::Waiting);
        assert_eq!(
            (stats.in_use, stats.max_open, stats.idle),
            (2, 2, 0),
            "{stats:?}"
        );
        assert_eq!(stats.timeouts, 1);
        assert!(
            text.contains("waiting for a connection to be returned"),
            "{text}"
        );
        assert!(text.contains("2 of max_open 2 in use, 0 idle"), "{text}");
        assert!(
            text.contains("raise max_open") && text.contains("leak_threshold"),
            "{text}"
        );
        assert!(text.contains("acquire_timeout"), "{text}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_opening_a_connection_says_connecting() {
    bounded("connecting", TEST_TIMEOUT, async {
        let mut l = limits();
        // A connect slower than the acquire's bound, and allowed to be.
        l.connect_timeout = Duration::from_secs(30);
        let (pool, manager) = pool(l);
        manager.set_connect_delay(Duration::from_secs(10));
        let (phase, stats, text) = timed_out(pool.get().await.unwrap_err());
        assert_eq!(phase, AcquirePhase::Connecting);
        // The cancelled connect gave its permit back.
        assert_eq!(
            (stats.in_use, stats.open, stats.connections_created),
            (0, 0, 0),
            "{stats:?}"
        );
        assert!(text.contains("opening a new connection"), "{text}");
        assert!(text.contains("0 opened"), "{text}");
        assert!(
            text.contains("keep connect_timeout below acquire_timeout")
                && text.contains("min_idle"),
            "{text}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_timeout_while_pinging_a_silent_idle_connection_says_validating() {
    bounded("validating", TEST_TIMEOUT, async {
        let mut l = limits();
        // A validation bound longer than the acquire's: the ping of a
        // silently dropped connection outlasts the acquire.
        l.validation_timeout = Some(Duration::from_secs(5));
        l.validate_after_idle = Duration::from_millis(500);
        let (pool, manager) = pool(l);
        drop(pool.get().await.unwrap());
        tokio::time::sleep(Duration::from_secs(1)).await;
        manager.silence_existing();
        let (phase, stats, text) = timed_out(pool.get().await.unwrap_err());
        assert_eq!(phase, AcquirePhase::Validating);
        // The interrupted ping's connection was discarded, not returned.
        assert_eq!(
            (stats.idle, stats.in_use, stats.open),
            (0, 0, 0),
            "{stats:?}"
        );
        assert!(text.contains("validating an idle connection"), "{text}");
        assert!(text.contains("0 earlier validation pings failed"), "{text}");
        assert!(
            text.contains("validation_timeout") && text.contains("keepalive_interval"),
            "{text}"
        );
        // The next acquire finds nothing stale: it opens a new connection.
        drop(pool.get().await.unwrap());
        assert_eq!(manager.connects(), 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_validation_that_fails_fast_then_a_wait_reports_the_last_phase() {
    bounded("phase after a failed validation", TEST_TIMEOUT, async {
        let mut l = limits();
        l.max_open = 1;
        l.max_idle = 1;
        l.validate_after_idle = Duration::from_millis(500);
        l.connect_timeout = Duration::from_secs(30);
        let (pool, manager) = pool(l);
        drop(pool.get().await.unwrap());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // The idle one fails its ping at once; its replacement is slow.
        manager.kill_existing();
        manager.set_connect_delay(Duration::from_secs(10));
        let (phase, stats, text) = timed_out(pool.get().await.unwrap_err());
        assert_eq!(phase, AcquirePhase::Connecting, "{stats:?}");
        assert_eq!(stats.validation_failed, 1);
        assert!(text.contains("opening a new connection"), "{text}");
    })
    .await;
}

/// Over TCP through the fault proxy: a blackholed idle connection outlasts
/// the acquire while it is validated, then a blackholed handshake outlasts
/// it while it connects.
#[tokio::test]
async fn on_real_sockets_a_blackholed_flow_times_out_validating_then_connecting() {
    bounded(
        "real sockets: validating, connecting",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start().await.expect("a throwaway server");
            let proxy = FaultProxy::start(server.addr()).await.expect("fault proxy");
            let url = server.url_at(proxy.addr()).expect("URL through the proxy");
            let mut o = PoolOptions::from_url(&url).expect("URL");
            o.ssl_mode = SslMode::Disabled;
            o.max_open = 2;
            o.max_idle = 2;
            o.acquire_timeout = Duration::from_secs(1);
            o.connect_timeout = Duration::from_secs(10);
            o.validation_timeout = Some(Duration::from_secs(5));
            o.validate_after_idle = Duration::ZERO;
            let pool = Pool::builder(o).connect().await.expect("pool starts");
            drop(pool.get().await.expect("a first connection"));

            proxy.inject(Fault::Blackhole);
            let phase = |err: AcquireError| match err {
                AcquireError::Timeout { phase, .. } => phase,
                other => panic!("expected a timeout, got {other:?}"),
            };
            let err = pool.get().await.unwrap_err();
            assert!(
                err.to_string().contains("validating an idle connection"),
                "{err}"
            );
            assert_eq!(phase(err), AcquirePhase::Validating);

            proxy.on_new_connections(Some(Fault::Blackhole));
            let err = pool.get().await.unwrap_err();
            assert!(
                err.to_string().contains("opening a new connection"),
                "{err}"
            );
            assert_eq!(phase(err), AcquirePhase::Connecting);
            assert_eq!(pool.stats().timeouts, 2);
        },
    )
    .await;
}
