//! The proxy's listening socket, which can stop listening and listen again on
//! the same address so that refused connections get a real `ECONNREFUSED`.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::task::{Context, Poll, Waker};

use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// The accepting socket and the port reservation behind it.
///
/// Refusing connections means closing the listening socket: the kernel then
/// answers every SYN with RST, which the client sees as `ECONNREFUSED`. To get
/// the same port back afterwards, a second socket (`guard`) stays bound to the
/// address, without listening, for the proxy's whole life: no other socket can
/// take the port while the listener is closed, and `SO_REUSEADDR` lets a new
/// listener bind next to it. Where the platform does not allow that pairing
/// (BSD-style `SO_REUSEADDR`), there is no guard and the address is simply
/// bound again, which can fail if something else took the port meanwhile.
pub(super) struct Listener {
    addr: SocketAddr,
    state: State,
    guard: Option<TcpSocket>,
    /// The accept loop's waker, woken when listening starts again.
    waker: Option<Waker>,
}

enum State {
    /// Registered with the runtime and accepting.
    Accepting(TcpListener),
    /// Listening already (the kernel queues connections), but not yet
    /// registered with the runtime: that needs the accept loop's context.
    Listening(std::net::TcpListener),
    /// Not listening: connection attempts are refused by the kernel.
    Paused,
    /// The proxy is gone.
    Closed,
}

impl Listener {
    /// Binds a free loopback port and starts listening on it.
    pub(super) fn bind() -> io::Result<Listener> {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let guard = TcpSocket::new_v4()?;
        guard.set_reuseaddr(true)?;
        guard.bind(loopback)?;
        let reserved = guard.local_addr()?;
        let (guard, listener) = match listen(reserved) {
            Ok(listener) => (Some(guard), listener),
            Err(error) => {
                tracing::debug!(%error, "cannot listen next to a port guard; the proxy port is not reserved");
                drop(guard);
                (None, listen(loopback)?)
            }
        };
        Ok(Listener {
            addr: listener.local_addr()?,
            state: State::Listening(listener),
            guard,
            waker: None,
        })
    }

    /// The address clients connect to.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether a guard socket keeps the port while not listening.
    #[cfg(test)]
    pub(super) fn is_reserved(&self) -> bool {
        self.guard.is_some()
    }

    /// Whether the listener was closed for good.
    #[cfg(test)]
    pub(super) fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed) && self.guard.is_none()
    }

    /// Stops listening, now: from this call on, connection attempts are
    /// refused by the kernel. Connections not yet accepted are reset.
    pub(super) fn pause(&mut self) {
        if matches!(self.state, State::Accepting(_) | State::Listening(_)) {
            self.state = State::Paused;
        }
    }

    /// Listens again on the same address, now, if paused.
    pub(super) fn resume(&mut self) -> io::Result<()> {
        if matches!(self.state, State::Paused) {
            self.state = State::Listening(listen(self.addr)?);
            if let Some(waker) = self.waker.take() {
                waker.wake();
            }
        }
        Ok(())
    }

    /// Stops listening for good and releases the port.
    pub(super) fn close(&mut self) {
        self.state = State::Closed;
        self.guard = None;
    }

    /// Accepts the next connection; pending while paused.
    pub(super) fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        match &mut self.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => self.waker = Some(cx.waker().clone()),
        }
        if let State::Listening(_) = self.state {
            // On failure the listener is closed and the proxy stays paused
            // until the next `resume`.
            if let State::Listening(listener) = std::mem::replace(&mut self.state, State::Paused) {
                self.state = State::Accepting(TcpListener::from_std(listener)?);
            }
        }
        match &self.state {
            State::Accepting(listener) => listener.poll_accept(cx),
            State::Listening(_) | State::Paused | State::Closed => Poll::Pending,
        }
    }
}

/// A non-blocking listener on `addr`; the standard library sets
/// `SO_REUSEADDR` on Unix, which is what lets it bind next to the guard.
fn listen(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}
