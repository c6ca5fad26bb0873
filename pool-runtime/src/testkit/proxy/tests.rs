//! The proxy against a plain TCP echo server: fast, and no database needed.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::timeout;

use super::connection::idle_kill_packet;
use super::{Fault, FaultProxy};

/// Longest any single step may take before the test fails instead of hanging.
const STEP: Duration = Duration::from_secs(5);

/// The outer bound of each test: a hang fails it by name instead of
/// stalling the suite.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a test body under [`TEST_TIMEOUT`].
async fn bounded<F: std::future::Future>(what: &str, body: F) -> F::Output {
    match timeout(TEST_TIMEOUT, body).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {TEST_TIMEOUT:?}"),
    }
}

/// An upstream that echoes every connection until it closes.
async fn echo_server() -> SocketAddr {
    counting_echo_server().await.0
}

/// An echo upstream that also counts every byte it received, on all
/// connections together.
async fn counting_echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let mut buf = vec![0; 64 * 1024];
                loop {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            counter.fetch_add(n, SeqCst);
                            if stream.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, received)
}

async fn proxy() -> FaultProxy {
    FaultProxy::start(echo_server().await).await.unwrap()
}

/// Sends `msg` and expects it back.
async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    stream.write_all(msg).await?;
    let mut back = vec![0; msg.len()];
    timeout(STEP, stream.read_exact(&mut back))
        .await
        .map_err(|_| std::io::Error::new(ErrorKind::TimedOut, "no echo"))??;
    assert_eq!(back, msg);
    Ok(())
}

/// What the next read on `stream` gives: Ok(bytes) up to EOF, or the error.
async fn read_rest(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut rest = Vec::new();
    timeout(STEP, stream.read_to_end(&mut rest))
        .await
        .expect("the proxy neither closed nor answered")?;
    Ok(rest)
}

async fn connected(proxy: &FaultProxy) -> TcpStream {
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    round_trip(&mut stream, b"hello").await.unwrap();
    stream
}

#[tokio::test]
async fn forwards_both_ways_and_counts() {
    bounded("forwards_both_ways_and_counts", async {
        let proxy = proxy().await;
        let mut stream = connected(&proxy).await;
        round_trip(&mut stream, &vec![7; 100_000]).await.unwrap();
        assert_eq!(proxy.opened(), 1);
        assert_eq!(proxy.faulted(), 0);
        assert_eq!(proxy.connections().len(), 1);
        assert!(proxy.addr().ip().is_loopback());
        assert!(format!("{proxy:?}").starts_with("FaultProxy"));
    })
    .await
}

#[tokio::test]
async fn fin_closes_gracefully() {
    bounded("fin_closes_gracefully", async {
        let proxy = proxy().await;
        let mut stream = connected(&proxy).await;
        proxy.inject(Fault::Fin);
        assert!(proxy.connections().is_empty());
        assert_eq!(read_rest(&mut stream).await.unwrap(), b"");
        assert_eq!(proxy.faulted(), 1);
    })
    .await
}

#[tokio::test]
async fn reset_resets() {
    bounded("reset_resets", async {
        let proxy = proxy().await;
        let mut stream = connected(&proxy).await;
        proxy.inject(Fault::Reset);
        let error = read_rest(&mut stream).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    })
    .await
}

#[tokio::test]
async fn idle_kill_sends_mysql_error_4031_then_closes() {
    bounded("idle_kill_sends_mysql_error_4031_then_closes", async {
        let proxy = proxy().await;
        let mut stream = connected(&proxy).await;
        proxy.inject(Fault::MySql8IdleKill);
        let packet = read_rest(&mut stream).await.unwrap();
        assert_eq!(packet, idle_kill_packet());
        let (header, payload) = packet.split_at(4);
        assert_eq!(
            usize::from(header[0]) + (usize::from(header[1]) << 8),
            payload.len()
        );
        assert_eq!(header[2..], [0, 0]); // length high byte, then sequence id 0
        assert_eq!(payload[..9], *b"\xff\xbf\x0f#HY000");
        assert!(
            payload[9..]
                .starts_with(b"The client was disconnected by the server because of inactivity.")
        );
    })
    .await
}

#[tokio::test]
async fn blackhole_forwards_nothing_until_closed() {
    bounded("blackhole_forwards_nothing_until_closed", async {
        let (upstream, received) = counting_echo_server().await;
        let proxy = FaultProxy::start(upstream).await.unwrap();
        let mut stream = connected(&proxy).await;
        let mut control = connected(&proxy).await;
        let id = proxy.connections()[0];
        proxy.inject_on(id, Fault::Blackhole);
        stream.write_all(b"anyone?").await.unwrap();
        // A negative can only be shown against something that did happen:
        // meanwhile another connection through the same proxy gets many
        // answers, so the proxy had every chance to forward the question.
        for _ in 0..20 {
            round_trip(&mut control, b"ping").await.unwrap();
        }
        let mut buf = [0; 16];
        let unanswered = stream.try_read(&mut buf);
        assert!(
            matches!(&unanswered, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "a blackholed connection answered: {unanswered:?}"
        );
        // Only the two greetings and the pings reached the upstream.
        assert_eq!(
            received.load(SeqCst),
            2 * b"hello".len() + 20 * b"ping".len()
        );
        assert_eq!(proxy.connections().len(), 2, "blackholed, not closed");
        // Still closable, and it never forwarded the question.
        assert!(proxy.inject_on(id, Fault::Fin));
        assert_eq!(read_rest(&mut stream).await.unwrap(), b"");
        assert_eq!(
            received.load(SeqCst),
            2 * b"hello".len() + 20 * b"ping".len()
        );
    })
    .await
}

#[tokio::test]
async fn latency_delays_each_direction() {
    bounded("latency_delays_each_direction", async {
        let proxy = proxy().await;
        let mut stream = connected(&proxy).await;
        let delay = Duration::from_millis(100);
        proxy.inject(Fault::Latency(delay));
        let started = Instant::now();
        round_trip(&mut stream, b"slow").await.unwrap();
        assert!(
            started.elapsed() >= 2 * delay,
            "took {:?}",
            started.elapsed()
        );
        proxy.inject(Fault::Latency(Duration::ZERO));
        round_trip(&mut stream, b"fast again").await.unwrap();
    })
    .await
}

#[tokio::test]
async fn refuse_new_refuses_for_real_and_clear_listens_again() {
    bounded(
        "refuse_new_refuses_for_real_and_clear_listens_again",
        async {
            let proxy = proxy().await;
            let addr = proxy.addr();
            let mut open = connected(&proxy).await;

            proxy.on_new_connections(Some(Fault::RefuseNew));
            let error = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
            round_trip(&mut open, b"still here").await.unwrap();

            // Linux lets the port stay reserved while nothing listens on it.
            #[cfg(target_os = "linux")]
            assert!(proxy.state.lock().listener.is_reserved());

            proxy.clear();
            let mut again = connected(&proxy).await;
            round_trip(&mut again, b"back").await.unwrap();
            assert_eq!(proxy.addr(), addr);

            proxy.inject(Fault::RefuseNew);
            let error = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
            proxy.on_new_connections(Some(Fault::Latency(Duration::ZERO)));
            connected(&proxy).await;
            assert_eq!((proxy.opened(), proxy.refused()), (3, 0));
        },
    )
    .await
}

#[tokio::test]
async fn new_connection_rule_applies_right_after_accept() {
    bounded("new_connection_rule_applies_right_after_accept", async {
        let proxy = proxy().await;
        proxy.on_new_connections(Some(Fault::Fin));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(read_rest(&mut stream).await.unwrap(), b"");
        assert_eq!((proxy.opened(), proxy.faulted()), (1, 1));

        let delay = Duration::from_millis(50);
        proxy.on_new_connections(Some(Fault::Latency(delay)));
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        let started = Instant::now();
        round_trip(&mut stream, b"slow").await.unwrap();
        // A lower bound from the injected delay: load can only add to it.
        let took = started.elapsed();
        assert!(took >= 2 * delay, "took {took:?}");
        assert_eq!((proxy.opened(), proxy.faulted()), (2, 2));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_rule_faults_idle_connections_only() {
    bounded("idle_rule_faults_idle_connections_only", async {
        let proxy = proxy().await;
        let mut idle = connected(&proxy).await;
        let mut busy = connected(&proxy).await;
        let busy_id = proxy.connections()[1];
        // Long against the busy side's pauses (a tenth of it), so that a
        // loaded scheduler cannot make the busy connection look idle.
        let idle_for = Duration::from_secs(1);
        let started = Instant::now();
        proxy.after_idle(idle_for, Fault::Fin);

        let keep_busy = tokio::spawn(async move {
            while started.elapsed() < 2 * idle_for {
                round_trip(&mut busy, b"ping").await.unwrap();
                // The busy side's think time: the scenario, not a wait.
                tokio::time::sleep(idle_for / 10).await;
            }
            busy
        });
        assert_eq!(read_rest(&mut idle).await.unwrap(), b"");
        let faulted_after = started.elapsed();
        eprintln!("the idle connection was closed after {faulted_after:?}");
        assert!(faulted_after >= idle_for, "closed after {faulted_after:?}");
        let mut busy = keep_busy.await.unwrap();
        round_trip(&mut busy, b"alive").await.unwrap();
        assert_eq!(proxy.connections(), [busy_id]);
        assert_eq!(proxy.faulted(), 1);

        proxy.clear();
        // Sitting idle past the old rule's time is the scenario itself.
        tokio::time::sleep(idle_for + idle_for / 2).await;
        round_trip(&mut busy, b"no rule, no fault").await.unwrap();
    })
    .await
}

#[tokio::test]
async fn inject_on_hits_one_connection() {
    bounded("inject_on_hits_one_connection", async {
        let proxy = proxy().await;
        let mut first = connected(&proxy).await;
        let mut second = connected(&proxy).await;
        let ids = proxy.connections();
        assert_eq!(ids.len(), 2);
        assert!(ids[0] < ids[1]);

        assert!(proxy.inject_on(ids[0], Fault::Reset));
        assert!(!proxy.inject_on(ids[0], Fault::Fin), "already closing");
        assert!(!proxy.inject_on(ids[1], Fault::RefuseNew));
        assert!(read_rest(&mut first).await.is_err());
        round_trip(&mut second, b"unharmed").await.unwrap();
        assert_eq!(proxy.connections(), [ids[1]]);
        assert_eq!((proxy.opened(), proxy.faulted()), (2, 1));
    })
    .await
}

#[tokio::test]
async fn dropping_the_proxy_closes_everything() {
    bounded("dropping_the_proxy_closes_everything", async {
        let proxy = proxy().await;
        let state = std::sync::Arc::clone(&proxy.state);
        let mut stream = connected(&proxy).await;
        drop(proxy);
        assert!(state.lock().listener.is_closed());
        assert_eq!(read_rest(&mut stream).await.unwrap(), b"");
    })
    .await
}

#[tokio::test]
async fn unreachable_upstream_closes_the_client() {
    bounded("unreachable_upstream_closes_the_client", async {
        // Bound but not listening: refuses, and no one else can take the port.
        let nobody = TcpSocket::new_v4().unwrap();
        nobody.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let proxy = FaultProxy::start(nobody.local_addr().unwrap())
            .await
            .unwrap();
        let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(read_rest(&mut stream).await.unwrap(), b"");
        assert_eq!(proxy.opened(), 0);
    })
    .await
}

/// A VIP or DNS move: connections accepted after `retarget` reach the new
/// upstream, the ones already open keep the old one (counted on each
/// upstream, byte for byte).
#[tokio::test]
async fn retarget_moves_new_connections_only() {
    bounded("retarget_moves_new_connections_only", async {
        let (first, first_received) = counting_echo_server().await;
        let (second, second_received) = counting_echo_server().await;
        let proxy = FaultProxy::start(first).await.unwrap();
        assert_eq!(proxy.upstream(), first);
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut open, b"one").await.unwrap();

        proxy.retarget(second);
        assert_eq!(proxy.upstream(), second);
        assert!(format!("{proxy:?}").contains(&second.to_string()));
        let mut moved = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut moved, b"two!").await.unwrap();
        round_trip(&mut open, b"three").await.unwrap();

        assert_eq!(first_received.load(SeqCst), "one".len() + "three".len());
        assert_eq!(second_received.load(SeqCst), "two!".len());
        assert_eq!(proxy.opened(), 2);
    })
    .await
}
