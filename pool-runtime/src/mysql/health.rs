//! `Pool::health`: what a readiness probe asks.
//!
//! A probe must tell "the database is unreachable or refusing" from "the
//! pool is busy": killing a pod because its pool is saturated turns load
//! into an outage. So [`Pool::health`] never waits in line behind users.
//! With a connection idle it pings it; with none idle but a permit free it
//! opens one; with neither, the pool is [`HealthState::Saturated`] and the
//! server is not asked at all (see [`GenericPool::probe`]). The whole
//! probe is bounded by `connect_timeout` (or the bound given to
//! [`Pool::health_within`]); the ping inside it by the validation bound.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PoolStats;
use super::handle::Pool;
use crate::boot::{self, BootError};
use crate::options::SslMode;
use crate::pool::{PoolError, Probe};

/// What [`Pool::health`] found: the state, a stats snapshot and how long
/// it took. `Display` renders one line, for a probe's response body.
///
/// ```no_run
/// # async fn demo(pool: pool_runtime::Pool) {
/// let health = pool.health().await;
/// let status = if health.is_ready() { 200 } else { 503 };
/// println!("{status} {health}");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Health {
    state: HealthState,
    stats: PoolStats,
    took: Duration,
    pool: Arc<str>,
}

/// The state [`Pool::health`] found the pool and its server in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthState {
    /// The server answered (a ping on an idle connection, or a new
    /// connection opened).
    Up,
    /// Every connection is in use (or acquires are waiting): the server was
    /// not asked. Busy, not down: still ready.
    Saturated,
    /// The server did not answer, or refused the connection.
    Down {
        /// Why, as a kind a program can act on.
        reason: DownReason,
        /// What happened, in words: the target (`user@host:port/db`) and the
        /// server's or the OS's message; never a password.
        error: String,
    },
    /// The pool was closed (or is draining): it hands out nothing.
    Closed,
}

/// Why [`HealthState::Down`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DownReason {
    /// Nothing answered at the address (refused, no route, DNS).
    Unreachable,
    /// No answer within the bound (connect, ping, or the whole probe).
    TimedOut,
    /// The server refused the credentials.
    AccessDenied,
    /// The database in the URL does not exist.
    UnknownDatabase,
    /// The server is at its connection limit (`max_connections`, or the
    /// account's `max_user_connections`).
    TooManyConnections,
    /// TLS failed (certificate, name, mode).
    Tls,
    /// An idle connection failed its ping and no permit was free to open a
    /// new one.
    PingFailed,
    /// The server refused the connection for another reason, or the
    /// connect failed on the client side.
    Refused,
}

impl DownReason {
    /// A stable word for logs and probe bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            DownReason::Unreachable => "unreachable",
            DownReason::TimedOut => "timed_out",
            DownReason::AccessDenied => "access_denied",
            DownReason::UnknownDatabase => "unknown_database",
            DownReason::TooManyConnections => "too_many_connections",
            DownReason::Tls => "tls",
            DownReason::PingFailed => "ping_failed",
            DownReason::Refused => "refused",
        }
    }
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Health {
    /// The state found.
    pub fn state(&self) -> &HealthState {
        &self.state
    }

    /// Whether a readiness probe should pass: [`Up`](HealthState::Up) and
    /// [`Saturated`](HealthState::Saturated) are ready.
    pub fn is_ready(&self) -> bool {
        matches!(self.state, HealthState::Up | HealthState::Saturated)
    }

    /// The pool's stats as the probe left them.
    pub fn stats(&self) -> &PoolStats {
        &self.stats
    }

    /// How long the probe took.
    pub fn took(&self) -> Duration {
        self.took
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        match &self.state {
            HealthState::Up => write!(
                f,
                "up: {} open ({} in use, {} idle), {} waiting",
                s.open, s.in_use, s.idle, s.waiting
            )?,
            HealthState::Saturated => write!(
                f,
                "saturated: {} of max_open {} in use, {} waiting",
                s.in_use, s.max_open, s.waiting
            )?,
            HealthState::Down { reason, error } => write!(f, "down ({reason}): {error}")?,
            HealthState::Closed => f.write_str("closed: the pool hands out no connections")?,
        }
        write!(f, " [{}, {:?}]", self.pool, self.took)
    }
}

impl Pool {
    /// Whether the pool can serve, for a readiness probe: at most one
    /// round trip, bounded by `connect_timeout`, never waiting in line
    /// behind users. A pool whose connections are all in use is
    /// [`Saturated`](HealthState::Saturated) (ready), found without asking
    /// the server; a server that does not answer or refuses is
    /// [`Down`](HealthState::Down) with the reason. See the module docs of
    /// `mysql::health` and [`GenericPool::probe`](crate::pool::GenericPool::probe).
    pub async fn health(&self) -> Health {
        self.health_within(self.options().connect_timeout).await
    }

    /// Like [`health`](Self::health), bounded by `bound` instead of
    /// `connect_timeout` (the ping inside it keeps the validation bound).
    pub async fn health_within(&self, bound: Duration) -> Health {
        let started = Instant::now();
        let state = match tokio::time::timeout(bound, self.core().probe()).await {
            Ok(Probe::Pinged | Probe::Connected) => HealthState::Up,
            Ok(Probe::Saturated) => HealthState::Saturated,
            Ok(Probe::Closed) => HealthState::Closed,
            Ok(Probe::PingFailed) => HealthState::Down {
                reason: DownReason::PingFailed,
                error: format!(
                    "{}: an idle connection failed its ping and every other is in use",
                    self.name()
                ),
            },
            Ok(Probe::Failed(e)) => self.down(e),
            Err(_) => HealthState::Down {
                reason: DownReason::TimedOut,
                error: format!("{}: no answer within {bound:?}", self.name()),
            },
        };
        let health = Health {
            state,
            stats: self.stats(),
            took: started.elapsed(),
            pool: Arc::clone(self.name()),
        };
        match &health.state {
            HealthState::Down { reason, error } => {
                tracing::warn!(pool = %health.pool, %reason, %error, "health: the database is down");
            }
            _ => tracing::debug!(%health, "health"),
        }
        health
    }

    fn down(&self, error: PoolError<mysql_async::Error>) -> HealthState {
        let (reason, error) = match error {
            PoolError::Connect(e) => describe_connect_error(self, e),
            PoolError::ConnectTimeout(after) => (
                DownReason::TimedOut,
                format!(
                    "{}: opening a connection took longer than {after:?} (connect_timeout)",
                    self.name()
                ),
            ),
            other => (DownReason::Refused, format!("{}: {other}", self.name())),
        };
        HealthState::Down { reason, error }
    }
}

/// A failed connect, sorted as the boot checks sort the first one, in
/// words with the driver's cause (no password: neither carries one).
pub(crate) fn describe_connect_error(pool: &Pool, e: mysql_async::Error) -> (DownReason, String) {
    let manager = pool.core().manager();
    let plaintext = manager.ssl_mode() == SslMode::Disabled;
    let sorted = boot::error::from_connect(manager.url(), plaintext, e);
    let reason = match &sorted {
        BootError::Unreachable { .. } => DownReason::Unreachable,
        BootError::ConnectTimeout { .. } => DownReason::TimedOut,
        BootError::AccessDenied { .. } => DownReason::AccessDenied,
        BootError::UnknownDatabase { .. } => DownReason::UnknownDatabase,
        BootError::TooManyConnections { .. } => DownReason::TooManyConnections,
        BootError::Tls(_) | BootError::TlsConfig(_) | BootError::SecureTransportRequired { .. } => {
            DownReason::Tls
        }
        _ => DownReason::Refused,
    };
    (reason, with_causes(&sorted))
}

/// An error and its sources, one line.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}
