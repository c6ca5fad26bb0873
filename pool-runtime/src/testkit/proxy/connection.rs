//! One proxied connection: a pump per direction, the faults it can receive,
//! and how each fault is carried out on the sockets.

use std::future::pending;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, sleep, sleep_until};

use super::state::{IdleRule, ProxyState};
use super::{ConnectionId, Fault};

/// The error MySQL 8.0.24+ sends before closing a connection idle longer than
/// `wait_timeout` (`ER_CLIENT_INTERACTION_TIMEOUT`), with its real message.
const IDLE_KILL_CODE: u16 = 4031;
const IDLE_KILL_MESSAGE: &str = "The client was disconnected by the server because of inactivity. \
     See wait_timeout and interactive_timeout for configuring this behavior.";

/// How big a chunk one read forwards.
const CHUNK: usize = 16 * 1024;

// A connection's phase, in the order it can only move forward: once closing,
// nothing changes it any more.
const FORWARDING: u8 = 0;
const BLACKHOLED: u8 = 1;
const CLOSE_FIN: u8 = 2;
const CLOSE_RESET: u8 = 3;
const CLOSE_IDLE_KILL: u8 = 4;
const CLOSE_FIN_THEN_RESET: u8 = 5;

// How a connection armed with a cut (`Fault::ResetBeforeReply`,
// `Fault::FinBeforeReply`, `Fault::FinMidReply`) is ended once the server
// answers.
const CUT_HOW_RESET: u8 = 0;
const CUT_HOW_FIN: u8 = 1;
const CUT_HOW_PARTIAL: u8 = 2;

// The stages of a cut.
const CUT_NONE: u8 = 0;
const CUT_ARMED: u8 = 1;
const CUT_SENT: u8 = 2;

/// Which way a pump copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToUpstream,
    ToClient,
}

/// How a fault ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Fin,
    Reset,
    IdleKill,
    FinThenReset,
}

/// What the rest of the proxy may change on a running connection, without
/// waiting for its task: the pumps read it before forwarding every chunk, so
/// a fault holds for every byte that arrives after it was injected.
pub(super) struct Control {
    phase: AtomicU8,
    /// [`Fault::ResetBeforeReply`]: `CUT_ARMED`, then `CUT_SENT` once the
    /// client's next chunk went upstream.
    cut: AtomicU8,
    /// How the cut ends the connection: `CUT_HOW_*`.
    cut_how: AtomicU8,
    latency_nanos: AtomicU64,
    wake: Notify,
}

impl Control {
    pub(super) fn new() -> Self {
        Control {
            phase: AtomicU8::new(FORWARDING),
            cut: AtomicU8::new(CUT_NONE),
            cut_how: AtomicU8::new(CUT_HOW_RESET),
            latency_nanos: AtomicU64::new(0),
            wake: Notify::new(),
        }
    }

    /// Applies `fault`. False when it cannot be: the connection is closing
    /// already, or the fault is not about one connection ([`Fault::RefuseNew`]).
    pub(super) fn apply(&self, fault: Fault) -> bool {
        let target = match fault {
            Fault::Latency(delay) => {
                if self.is_closing() {
                    return false;
                }
                let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
                self.latency_nanos.store(nanos, Ordering::Release);
                return true;
            }
            Fault::RefuseNew => return false,
            Fault::ResetBeforeReply | Fault::FinBeforeReply | Fault::FinMidReply => {
                if self.is_closing() {
                    return false;
                }
                let how = match fault {
                    Fault::FinBeforeReply => CUT_HOW_FIN,
                    Fault::FinMidReply => CUT_HOW_PARTIAL,
                    _ => CUT_HOW_RESET,
                };
                self.cut_how.store(how, Ordering::Release);
                self.cut.store(CUT_ARMED, Ordering::Release);
                return true;
            }
            Fault::Blackhole => BLACKHOLED,
            Fault::Fin => CLOSE_FIN,
            Fault::Reset => CLOSE_RESET,
            Fault::MySql8IdleKill => CLOSE_IDLE_KILL,
            Fault::FinThenReset => CLOSE_FIN_THEN_RESET,
        };
        let moved = self
            .phase
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |phase| {
                (phase < CLOSE_FIN).then_some(target)
            });
        if moved.is_ok() {
            self.wake.notify_one();
        }
        moved.is_ok()
    }

    /// Whether a fault has started closing the connection.
    pub(super) fn is_closing(&self) -> bool {
        self.closing().is_some()
    }

    fn closing(&self) -> Option<Close> {
        match self.phase.load(Ordering::Acquire) {
            CLOSE_FIN => Some(Close::Fin),
            CLOSE_RESET => Some(Close::Reset),
            CLOSE_IDLE_KILL => Some(Close::IdleKill),
            CLOSE_FIN_THEN_RESET => Some(Close::FinThenReset),
            _ => None,
        }
    }

    fn is_forwarding(&self) -> bool {
        self.phase.load(Ordering::Acquire) == FORWARDING
    }

    fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Acquire))
    }
}

/// When bytes last arrived from either side.
struct Activity {
    base: Instant,
    last_nanos: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            base: Instant::now(),
            last_nanos: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_nanos.fetch_max(nanos, Ordering::AcqRel);
    }

    fn last(&self) -> Instant {
        later(
            self.base,
            Duration::from_nanos(self.last_nanos.load(Ordering::Acquire)),
        )
    }
}

/// Serves one accepted client until it closes, fails or is faulted.
pub(super) async fn serve(proxy: Arc<ProxyState>, id: ConnectionId, mut client: TcpStream) {
    // Read once: a retarget from now on concerns later connections only.
    let target = proxy.upstream();
    let mut upstream = match TcpStream::connect(target).await {
        Ok(upstream) => upstream,
        Err(error) => {
            // Dropping the client closes it: it reads EOF, as from a proxy
            // whose backend is down.
            tracing::warn!(connection = %id, upstream = %target, %error,
                "fault proxy could not reach its upstream; closing the client");
            return;
        }
    };
    for stream in [&client, &upstream] {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(connection = %id, %error, "could not set TCP_NODELAY");
        }
    }
    let control = Arc::new(Control::new());
    let Some(registration) = proxy.register(id, &control, &client, &upstream) else {
        return; // refused (reset armed) or the proxy is gone: dropping closes
    };
    let idle_rules = proxy.idle_rule.subscribe();
    let close = relay(&proxy, id, &control, &mut client, &mut upstream, idle_rules).await;
    match close {
        Some(Close::Fin) => {
            let _ = client.shutdown().await;
        }
        Some(Close::Reset) => {
            if let Err(error) = client.set_zero_linger() {
                tracing::debug!(connection = %id, %error, "could not arm the reset; closing instead");
            }
        }
        Some(Close::FinThenReset) => {
            // FIN first: the client's socket moves to CLOSE_WAIT; the reset
            // that follows then leaves EPIPE pending on it (Linux), so its
            // next write fails with a broken pipe.
            let _ = client.shutdown().await;
            if let Err(error) = client.set_zero_linger() {
                tracing::debug!(connection = %id, %error, "could not arm the reset; closing instead");
            }
        }
        Some(Close::IdleKill) => {
            // Best effort and never blocking: the client's buffer is empty
            // unless it stopped reading, and then it will not read this either.
            let _ = client.try_write(&idle_kill_packet());
            let _ = client.shutdown().await;
        }
        None => {}
    }
    // Unlisting drops the registry's duplicates of both sockets, so that
    // dropping the streams really closes them (with RST if so armed); the
    // upstream server sees EOF.
    drop(registration);
    drop(upstream);
    drop(client);
}

/// Forwards both ways until both sides are done, one fails, or a fault says
/// how to close.
async fn relay(
    proxy: &ProxyState,
    id: ConnectionId,
    control: &Control,
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    mut idle_rules: watch::Receiver<Option<IdleRule>>,
) -> Option<Close> {
    let activity = Activity::new();
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    let to_upstream = pump(
        &mut client_read,
        &mut upstream_write,
        Direction::ToUpstream,
        control,
        &activity,
    );
    let to_client = pump(
        &mut upstream_read,
        &mut client_write,
        Direction::ToClient,
        control,
        &activity,
    );
    tokio::pin!(to_upstream, to_client);
    let (mut to_upstream_done, mut to_client_done, mut rules_open) = (false, false, true);

    let mut rule = *idle_rules.borrow_and_update();
    // The activity stamp the idle rule last fired for: once per idle stretch.
    let mut fired_for = None;
    let idle_check = sleep_until(next_idle_check(rule, &activity));
    tokio::pin!(idle_check);

    loop {
        if let Some(close) = control.closing() {
            return Some(close);
        }
        tokio::select! {
            biased;
            () = control.wake.notified() => {}
            changed = idle_rules.changed(), if rules_open => {
                if changed.is_ok() {
                    rule = *idle_rules.borrow_and_update();
                    fired_for = None;
                    idle_check.as_mut().reset(next_idle_check(rule, &activity));
                } else {
                    rules_open = false;
                }
            }
            () = &mut idle_check, if rule.is_some() && control.is_forwarding() => {
                let Some(rule) = rule else { continue };
                let last = activity.last();
                let due = later(last.max(rule.since), rule.idle);
                let now = Instant::now();
                if due > now {
                    idle_check.as_mut().reset(due);
                } else {
                    if fired_for != Some(last) {
                        fired_for = Some(last);
                        proxy.apply(id, control, rule.fault, "idle rule");
                    }
                    idle_check.as_mut().reset(later(now, rule.idle));
                }
            }
            result = &mut to_upstream, if !to_upstream_done => {
                to_upstream_done = true;
                if let Err(error) = result {
                    tracing::debug!(connection = %id, %error, "client side failed; closing");
                    return None;
                }
                if to_client_done {
                    return None;
                }
            }
            result = &mut to_client, if !to_client_done => {
                to_client_done = true;
                if let Err(error) = result {
                    tracing::debug!(connection = %id, %error, "upstream side failed; closing");
                    return None;
                }
                if to_upstream_done {
                    return None;
                }
            }
        }
    }
}

/// Copies one direction, chunk by chunk, holding each chunk for the current
/// latency. Once the connection stops forwarding, it neither reads nor writes
/// again, not even the end of the stream.
async fn pump(
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    direction: Direction,
    control: &Control,
    activity: &Activity,
) -> io::Result<()> {
    let mut buf = vec![0; CHUNK];
    loop {
        if !control.is_forwarding() {
            return pending().await;
        }
        let read = from.read(&mut buf).await?;
        if read > 0 {
            activity.touch();
            let delay = control.latency();
            if !delay.is_zero() {
                sleep(delay).await;
            }
        }
        if !control.is_forwarding() {
            return pending().await;
        }
        if read == 0 {
            return to.shutdown().await;
        }
        if direction == Direction::ToClient
            && read > 0
            && control.cut.load(Ordering::Acquire) == CUT_SENT
        {
            // The server answered the statement: the client must not see
            // it (or, for a partial reply, not all of it).
            match control.cut_how.load(Ordering::Acquire) {
                CUT_HOW_FIN => {
                    control.apply(Fault::Fin);
                }
                CUT_HOW_PARTIAL => {
                    // At most half of the first chunk, and at most 3 bytes
                    // of it: never a whole packet (its header is 4 bytes).
                    let partial = (read / 2).clamp(1, 3);
                    let _ = to.write_all(&buf[..partial]).await;
                    control.apply(Fault::Fin);
                }
                _ => {
                    control.apply(Fault::Reset);
                }
            }
            return pending().await;
        }
        to.write_all(&buf[..read]).await?;
        if direction == Direction::ToUpstream {
            let _ = control.cut.compare_exchange(
                CUT_ARMED,
                CUT_SENT,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }
}

/// When to look at the idle rule next: far away when there is none.
fn next_idle_check(rule: Option<IdleRule>, activity: &Activity) -> Instant {
    match rule {
        Some(rule) => later(activity.last().max(rule.since), rule.idle),
        None => later(Instant::now(), Duration::MAX),
    }
}

/// `at + delay`, or about thirty years from `at` if that overflows.
fn later(at: Instant, delay: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 86_400);
    at.checked_add(delay)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

/// MySQL 8's idle-kill ERR packet, as the server sends it: sequence id 0.
pub(super) fn idle_kill_packet() -> Vec<u8> {
    let mut payload = vec![0xFF];
    payload.extend_from_slice(&IDLE_KILL_CODE.to_le_bytes());
    payload.push(b'#');
    payload.extend_from_slice(b"HY000");
    payload.extend_from_slice(IDLE_KILL_MESSAGE.as_bytes());
    let len = payload.len();
    let mut packet = vec![len as u8, (len >> 8) as u8, (len >> 16) as u8, 0];
    packet.append(&mut payload);
    packet
}
