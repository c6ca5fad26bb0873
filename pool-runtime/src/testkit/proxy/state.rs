//! The state the proxy handle, its accept loop and its connection tasks
//! share, and the accept loop itself.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::connection::{self, Control};
use super::listener::Listener;
use super::{ConnectionId, Fault};

/// One proxy's state: its upstream, its standing rules, the registry of live
/// connections and the counters. The [`FaultProxy`](super::FaultProxy) handle,
/// its accept loop and its connection tasks each hold it through an `Arc`.
pub(super) struct ProxyState {
    /// Where new connections go; moved by [`FaultProxy::retarget`](super::FaultProxy::retarget).
    /// Read once per connection, at its connect: open connections keep theirs.
    upstream: Mutex<SocketAddr>,
    pub(super) idle_rule: watch::Sender<Option<IdleRule>>,
    registry: Mutex<Registry>,
    next_id: AtomicU64,
    pub(super) opened: AtomicU64,
    pub(super) faulted: AtomicU64,
    pub(super) refused: AtomicU64,
}

pub(super) struct Registry {
    pub(super) listener: Listener,
    pub(super) on_new: Option<Fault>,
    pub(super) connections: BTreeMap<ConnectionId, Entry>,
    /// The proxy was dropped: connections still connecting upstream close.
    pub(super) closed: bool,
}

/// A live connection, as the rest of the proxy sees it.
pub(super) struct Entry {
    pub(super) control: Arc<Control>,
    /// Duplicates of the client and upstream sockets, to shut them down
    /// without waiting for the connection's task (empty if duplicating failed).
    pub(super) sockets: Vec<std::net::TcpStream>,
}

/// The standing idle rule, and when it was set.
#[derive(Debug, Clone, Copy)]
pub(super) struct IdleRule {
    pub(super) idle: Duration,
    pub(super) fault: Fault,
    pub(super) since: Instant,
}

impl ProxyState {
    pub(super) fn new(upstream: SocketAddr, listener: Listener) -> Arc<ProxyState> {
        Arc::new(ProxyState {
            upstream: Mutex::new(upstream),
            idle_rule: watch::Sender::new(None),
            registry: Mutex::new(Registry {
                listener,
                on_new: None,
                connections: BTreeMap::new(),
                closed: false,
            }),
            next_id: AtomicU64::new(1),
            opened: AtomicU64::new(0),
            faulted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    /// Where a connection accepted now goes.
    pub(super) fn upstream(&self) -> SocketAddr {
        *self.upstream.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends connections accepted from now on to `upstream`; returns the
    /// previous one.
    pub(super) fn set_upstream(&self, upstream: SocketAddr) -> SocketAddr {
        let mut current = self.upstream.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, upstream)
    }

    /// The registry; never held across an await, so a poisoned lock only
    /// means a panic elsewhere, and its data is still consistent.
    pub(super) fn lock(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `fault` to one connection and counts it.
    pub(super) fn apply(
        &self,
        id: ConnectionId,
        control: &Control,
        fault: Fault,
        cause: &'static str,
    ) -> bool {
        let applied = control.apply(fault);
        if applied {
            self.faulted.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(connection = %id, ?fault, cause, "fault proxy applied a fault");
        }
        applied
    }

    /// Lists a connection that is connected upstream, applying the rule for
    /// new connections; `None` if that rule refuses it (its reset is armed).
    pub(super) fn register(
        self: &Arc<Self>,
        id: ConnectionId,
        control: &Arc<Control>,
        client: &TcpStream,
        upstream: &TcpStream,
    ) -> Option<Registration> {
        let mut registry = self.lock();
        if registry.closed {
            return None;
        }
        if registry.on_new == Some(Fault::RefuseNew) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            if let Err(error) = client.set_zero_linger() {
                tracing::debug!(connection = %id, %error, "could not arm the reset");
            }
            tracing::debug!(connection = %id, "fault proxy refused a connection");
            return None;
        }
        self.opened.fetch_add(1, Ordering::SeqCst);
        if let Some(fault) = registry.on_new {
            self.apply(id, control, fault, "new-connection rule");
        }
        let sockets = [client, upstream]
            .into_iter()
            .map(duplicate)
            .collect::<io::Result<Vec<_>>>()
            .unwrap_or_else(|error| {
                tracing::debug!(connection = %id, %error, "could not duplicate the sockets");
                Vec::new()
            });
        let control = Arc::clone(control);
        registry.connections.insert(id, Entry { control, sockets });
        Some(Registration {
            proxy: Arc::clone(self),
            id,
        })
    }
}

/// Another handle on the same socket, which can shut it down.
fn duplicate(stream: &TcpStream) -> io::Result<std::net::TcpStream> {
    #[cfg(unix)]
    let owned = std::os::fd::AsFd::as_fd(stream).try_clone_to_owned()?;
    #[cfg(windows)]
    let owned = std::os::windows::io::AsSocket::as_socket(stream).try_clone_to_owned()?;
    Ok(owned.into())
}

/// Unlists its connection when the connection's task ends or is aborted.
pub(super) struct Registration {
    proxy: Arc<ProxyState>,
    id: ConnectionId,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.proxy.lock().connections.remove(&self.id);
    }
}

/// Accepts clients and runs one task per connection. The task set lives in
/// this future, so aborting it aborts every connection.
pub(super) async fn accept_loop(proxy: Arc<ProxyState>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = std::future::poll_fn(|cx| proxy.lock().listener.poll_accept(cx)).await;
        while connections.try_join_next().is_some() {}
        match accepted {
            Ok((client, _peer)) => {
                let id = ConnectionId(proxy.next_id.fetch_add(1, Ordering::SeqCst));
                connections.spawn(connection::serve(Arc::clone(&proxy), id, client));
            }
            Err(error) => {
                // Such as running out of file descriptors: back off a little.
                // A pause before trying again, not a wait for an event: no
                // event says that a descriptor was freed.
                tracing::warn!(%error, "fault proxy could not accept a connection");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
