//! [`FaultProxy`]: a loopback TCP proxy that breaks connections on demand.

mod connection;
mod listener;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::Instant;

use self::listener::Listener;
use self::state::{IdleRule, ProxyState, accept_loop};
use crate::testkit::TestkitError;

/// Identifies one connection accepted by a [`FaultProxy`].
///
/// Ids are given in accept order, starting at 1, and never reused by the same
/// proxy, so they sort in the order the connections arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A way a [`FaultProxy`] breaks a connection, as production breaks them.
///
/// The errors named below are what a `mysql_async` 0.37 client sees at its
/// next query, measured against MariaDB on Linux loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Closes the client side gracefully (FIN), like a proxy or load balancer
    /// timing a flow out; the upstream connection is closed too. The client
    /// reads end-of-stream: `mysql_async` reports an I/O error of kind
    /// [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof) ("connection
    /// closed"), as for every later query on that connection.
    Fin,
    /// Resets the client side (RST, by closing with a zero linger time); the
    /// upstream connection is closed too. The client gets an I/O error of kind
    /// [`ConnectionReset`](std::io::ErrorKind::ConnectionReset).
    Reset,
    /// Keeps both sockets open and forwards nothing more in either direction,
    /// not even a close, until the proxy is dropped: a flow dropped silently
    /// by a middlebox. The client's next query hangs. The proxy's kernel still
    /// acknowledges what the client sends, so unlike a real black hole TCP
    /// keepalive does not detect it; use timeouts. A blackholed connection can
    /// still be closed with [`Fin`](Fault::Fin), [`Reset`](Fault::Reset) or
    /// [`MySql8IdleKill`](Fault::MySql8IdleKill), and the idle rule leaves it
    /// alone.
    Blackhole,
    /// Sends what MySQL 8.0.24+ sends to a connection idle past
    /// `wait_timeout`, then closes it (FIN); the upstream connection is closed
    /// too. That is an ERR packet with sequence id 0: error 4031, SQL state
    /// `HY000`, "The client was disconnected by the server because of
    /// inactivity. See wait_timeout and interactive_timeout for configuring
    /// this behavior." A client expecting the reply to a new command reads a
    /// packet out of order: `mysql_async` reports an I/O error of kind
    /// [`Other`](std::io::ErrorKind::Other) wrapping its codec's
    /// `PacketsOutOfSync`, not the server error.
    ///
    /// Inject it only where MySQL would send it: on a connection with no
    /// statement outstanding. The server sends 4031 to a session waiting
    /// for a command, never to one running a statement; injected while a
    /// statement is in flight, the proxy would let the statement run and
    /// then make it look unsent, and a retrying client would run it twice.
    /// The same holds for [`after_idle`](FaultProxy::after_idle), which
    /// counts a connection without traffic as idle even while the server
    /// is still running its statement.
    MySql8IdleKill,
    /// Holds every chunk forwarded, in either direction, for this long before
    /// writing it, so a query and its reply take at least twice the delay.
    /// Chunks stay in order, so a burst of several chunks accumulates delay.
    /// `Latency(Duration::ZERO)` removes the latency.
    Latency(Duration),
    /// Refuses new connections: the proxy stops listening, so connection
    /// attempts fail with [`ConnectionRefused`](std::io::ErrorKind::ConnectionRefused)
    /// (a connection accepted in the instant the refusal begins is reset
    /// instead). Connections already open are not affected, and listening
    /// resumes on the same address when the rule is cleared or replaced.
    /// Only a standing rule: see [`FaultProxy::on_new_connections`].
    RefuseNew,
    /// Forwards the next chunk the client sends (its next statement), lets
    /// the server run it and answer, then resets the client (RST) before the
    /// answer reaches it. The statement ran exactly once, but the client
    /// cannot know: `mysql_async` reports
    /// [`ConnectionReset`](std::io::ErrorKind::ConnectionReset). This is the
    /// case a retrying client must never answer by sending a write again.
    ResetBeforeReply,
    /// Like [`ResetBeforeReply`](Fault::ResetBeforeReply), but closes the
    /// client gracefully (FIN) instead: the statement ran exactly once and
    /// the client reads end-of-stream where the answer should be;
    /// `mysql_async` reports [`UnexpectedEof`](std::io::ErrorKind::UnexpectedEof).
    FinBeforeReply,
    /// Like [`FinBeforeReply`](Fault::FinBeforeReply), but lets the first
    /// bytes of the answer through (fewer than a packet header, at most 3)
    /// before the FIN: a connection that ends mid-reply. The statement ran
    /// exactly once; `mysql_async` reports an I/O error of kind
    /// [`Other`](std::io::ErrorKind::Other), its codec's "bytes remaining on
    /// stream".
    FinMidReply,
    /// Closes the client gracefully (FIN), then resets it (RST), as a peer
    /// that closed and then saw more data would; the upstream connection is
    /// closed too. A reset that arrives after the FIN leaves a broken pipe on
    /// the client's socket (Linux), so nothing the client writes next leaves
    /// it: `mysql_async` reports an I/O error of kind
    /// [`BrokenPipe`](std::io::ErrorKind::BrokenPipe) at its next query, the
    /// one I/O error that proves the statement was not delivered. The reset
    /// follows the fault's injection asynchronously: a client that queries
    /// at once may still read end-of-stream; wait for the upstream session to
    /// end (the server's processlist) to be sure the reset arrived.
    FinThenReset,
}

/// A TCP proxy on a free loopback port, in front of an upstream server, that
/// forwards bytes both ways and breaks connections on demand. Its upstream
/// can be moved for new connections ([`retarget`](Self::retarget)), so it
/// also stands in for a virtual IP or a DNS name that moves at a failover.
///
/// Faults can hit every current connection ([`inject`](Self::inject)), one
/// connection ([`inject_on`](Self::inject_on)), every connection accepted from
/// now on ([`on_new_connections`](Self::on_new_connections)), or any
/// connection idle for a while ([`after_idle`](Self::after_idle)). A fault
/// injected on a connection holds for every byte that reaches the proxy after
/// the call returns. The counters ([`opened`](Self::opened),
/// [`faulted`](Self::faulted), [`refused`](Self::refused)) let a test check
/// what actually happened.
///
/// Dropping the proxy stops listening and closes every proxied connection.
/// The proxy runs on the Tokio runtime it was started in, which needs its
/// time and I/O drivers (as `#[tokio::test]` runtimes have).
///
/// A MySQL client must connect to it over TCP: `mysql_async` otherwise
/// switches a loopback connection to the server's Unix socket
/// (`prefer_socket`), bypassing the proxy. [`TestServer::url_at`] gives a URL
/// that does this right.
///
/// # Example
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use pool_runtime::mysql_async::{self, prelude::*};
/// use pool_runtime::testkit::{Fault, FaultProxy, TestServer};
///
/// let server = TestServer::start().await?;
/// let proxy = FaultProxy::start(server.addr()).await?;
/// let mut conn = mysql_async::Conn::from_url(server.url_at(proxy.addr())?).await?;
/// conn.query_drop("SELECT 1").await?;
///
/// proxy.inject(Fault::Fin); // a load balancer times the flow out
/// assert!(conn.query_drop("SELECT 1").await.is_err());
/// assert_eq!((proxy.opened(), proxy.faulted()), (1, 1));
/// # Ok(()) }
/// ```
///
/// [`TestServer::url_at`]: crate::testkit::TestServer::url_at
pub struct FaultProxy {
    state: Arc<ProxyState>,
    addr: SocketAddr,
    accept: AbortHandle,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream`.
    ///
    /// Connections to the upstream are made as clients arrive; a client whose
    /// upstream connection fails is closed (it reads end-of-stream).
    ///
    /// # Errors
    ///
    /// [`TestkitError::Io`] when no loopback port can be bound, or when called
    /// outside a Tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Result<FaultProxy, TestkitError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|error| {
            TestkitError::io("starting the fault proxy", io::Error::other(error))
        })?;
        let listener = Listener::bind().map_err(|error| {
            TestkitError::io("binding the fault proxy to a loopback port", error)
        })?;
        let addr = listener.addr();
        let state = ProxyState::new(upstream, listener);
        let accept = runtime
            .spawn(accept_loop(Arc::clone(&state)))
            .abort_handle();
        tracing::debug!(%addr, %upstream, "fault proxy started");
        Ok(FaultProxy {
            state,
            addr,
            accept,
        })
    }

    /// Sends connections accepted from now on to `upstream`; connections
    /// already open keep talking to the server they were connected to, as
    /// they do when a virtual IP or a DNS name moves to another server.
    ///
    /// A client connecting in the instant of the call goes to either one.
    /// The standing rules ([`on_new_connections`](Self::on_new_connections),
    /// [`after_idle`](Self::after_idle)) stay as they are.
    pub fn retarget(&self, upstream: SocketAddr) {
        let previous = self.state.set_upstream(upstream);
        tracing::info!(addr = %self.addr, from = %previous, to = %upstream,
            "fault proxy retargeted");
    }

    /// Where connections accepted now go: the address given to
    /// [`start`](Self::start), or to the last [`retarget`](Self::retarget).
    pub fn upstream(&self) -> SocketAddr {
        self.state.upstream()
    }

    /// The address clients connect to (`127.0.0.1` and the proxy's port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Applies `fault` to every current connection, now.
    ///
    /// [`Fault::RefuseNew`] is about connections to come: here it is the same
    /// as `on_new_connections(Some(Fault::RefuseNew))`.
    pub fn inject(&self, fault: Fault) {
        if fault == Fault::RefuseNew {
            self.on_new_connections(Some(fault));
            return;
        }
        let registry = self.state.lock();
        for (id, entry) in &registry.connections {
            self.state.apply(*id, &entry.control, fault, "inject");
        }
    }

    /// Applies `fault` to connection `id`, now. Returns false, changing
    /// nothing, if that connection is closed or closing, and for
    /// [`Fault::RefuseNew`], which is not about one connection.
    pub fn inject_on(&self, id: ConnectionId, fault: Fault) -> bool {
        let registry = self.state.lock();
        match registry.connections.get(&id) {
            Some(entry) => self.state.apply(id, &entry.control, fault, "inject_on"),
            None => false,
        }
    }

    /// Sets (or with `None` removes) the standing rule for connections
    /// accepted from now on, replacing the previous one.
    ///
    /// [`Fault::RefuseNew`] stops listening at once; any other rule, or none,
    /// listens again on the same address. [`Fault::Latency`] gives each new
    /// connection that latency; the other faults hit each new connection right
    /// after it is accepted and connected upstream, so a MySQL client fails
    /// its handshake: with the same I/O errors as described on [`Fault`] for
    /// [`Fin`](Fault::Fin) and [`Reset`](Fault::Reset), and for
    /// [`MySql8IdleKill`](Fault::MySql8IdleKill) with server error 4031
    /// (`mysql_async` reads it as the handshake, before the protocol flags
    /// that would strip `#HY000` from the message are agreed).
    pub fn on_new_connections(&self, fault: Option<Fault>) {
        let mut registry = self.state.lock();
        registry.on_new = fault;
        if fault == Some(Fault::RefuseNew) {
            registry.listener.pause();
        } else if let Err(error) = registry.listener.resume() {
            tracing::warn!(addr = %self.addr, %error,
                "fault proxy could not listen again; new connections stay refused");
        }
        tracing::debug!(rule = ?fault, "fault proxy rule for new connections");
    }

    /// Sets the standing idle rule, replacing the previous one: any
    /// connection with no traffic in either direction for `idle` gets `fault`.
    ///
    /// Idleness is counted from the connection's last traffic, or from this
    /// call if that is later. A fault that leaves the connection open
    /// ([`Fault::Latency`]) is applied once per idle stretch; a blackholed
    /// connection is left alone; [`Fault::RefuseNew`] does nothing here.
    pub fn after_idle(&self, idle: Duration, fault: Fault) {
        let since = Instant::now();
        self.state
            .idle_rule
            .send_replace(Some(IdleRule { idle, fault, since }));
        tracing::debug!(?idle, ?fault, "fault proxy idle rule");
    }

    /// Removes the standing rules (for new connections and for idle ones);
    /// a refusing proxy listens again. Connections already faulted stay so.
    pub fn clear(&self) {
        self.on_new_connections(None);
        self.state.idle_rule.send_replace(None);
    }

    /// The connections open now, in accept order; a connection leaves the
    /// list as soon as a fault starts closing it, or once either side has
    /// closed it and the proxy has noticed.
    pub fn connections(&self) -> Vec<ConnectionId> {
        let registry = self.state.lock();
        registry
            .connections
            .iter()
            .filter(|(_, entry)| !entry.control.is_closing())
            .map(|(id, _)| *id)
            .collect()
    }

    /// How many connections were accepted and forwarded (connected upstream).
    pub fn opened(&self) -> u64 {
        self.state.opened.load(Ordering::SeqCst)
    }

    /// How many faults were applied, counting each connection once per fault:
    /// `inject(Fault::Fin)` on three connections adds three. A fault that
    /// could not apply (the connection was already closing) is not counted.
    pub fn faulted(&self) -> u64 {
        self.state.faulted.load(Ordering::SeqCst)
    }

    /// How many connections the proxy itself refused.
    ///
    /// A refusing proxy is not listening, so the kernel refuses attempts
    /// without the proxy seeing them: this counts only connections accepted
    /// in the instant the refusal began, which are reset. It is usually 0;
    /// assert on what the client saw instead.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.state.upstream())
            .finish_non_exhaustive()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Closing the listener refuses new attempts at once, and shutting
        // down every proxied socket sends FIN both ways at once. Aborting the
        // accept loop drops its task set, which aborts every connection task
        // and so closes the sockets for good.
        let mut registry = self.state.lock();
        registry.closed = true;
        registry.listener.close();
        for entry in registry.connections.values() {
            entry.control.apply(Fault::Fin);
            for socket in &entry.sockets {
                let _ = socket.shutdown(Shutdown::Both);
            }
        }
        drop(registry);
        self.accept.abort();
        tracing::debug!(addr = %self.addr, "fault proxy stopped");
    }
}
