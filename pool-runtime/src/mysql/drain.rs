//! `Pool::close_within` and `Pool::drain`: a deploy's stop, with a deadline.
//!
//! The generic core stops handing out connections, closes the idle ones
//! and waits for those in use up to the deadline
//! ([`GenericPool::close_within`](crate::pool::GenericPool::close_within)).
//! What the MySQL side adds is the interrupt: with
//! [`Drain::kill_running_queries`], the statements still holding
//! connections at the deadline are ended with `KILL QUERY <id>` (the
//! session's `CONNECTION_ID()`, read when the connection opened), sent over
//! one separate connection opened for it, so that their users get an error
//! (1317, query interrupted), give the connections back and the pool closes
//! them. `KILL QUERY` keeps the session; the pool closes it politely.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::MySqlManager;
use super::handle::Pool;
use crate::pool::DrainReport;

/// A drain being set up: [`Pool::drain`]. Await it to run it.
///
/// ```no_run
/// # use std::time::Duration;
/// # async fn demo(pool: pool_runtime::Pool) {
/// let report = pool
///     .drain(Duration::from_secs(20))
///     .kill_running_queries(true)
///     .await;
/// println!("{report}");
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a drain does nothing until it is awaited"]
pub struct Drain<'a> {
    pool: &'a Pool,
    deadline: Duration,
    kill: bool,
}

impl Pool {
    /// Closes the pool within `deadline` (see [`Drain`]): new acquires fail
    /// with [`PoolError::Closed`](crate::pool::PoolError::Closed) at once,
    /// waiters are woken with it, idle connections are closed, and those in
    /// use are waited for up to `deadline`; those still in use then are
    /// counted as forced and closed when they come back. Returns by
    /// `deadline`. [`close`](Self::close) instead waits for every one.
    pub async fn close_within(&self, deadline: Duration) -> DrainReport {
        self.drain(deadline).await
    }

    /// A drain within `deadline`, to set up further (kill the statements
    /// still running at the deadline) before awaiting it.
    pub fn drain(&self, deadline: Duration) -> Drain<'_> {
        Drain {
            pool: self,
            deadline,
            kill: false,
        }
    }
}

impl<'a> Drain<'a> {
    /// At the deadline, send `KILL QUERY` for each connection still in use
    /// (over one new connection, within `connect_timeout`), then wait up to
    /// `connect_timeout` more for them to come back. The report's
    /// `interrupted` counts the kills the server accepted.
    pub fn kill_running_queries(mut self, kill: bool) -> Self {
        self.kill = kill;
        self
    }

    async fn run(self) -> DrainReport {
        let core = self.pool.core();
        if !self.kill {
            return core.close_within(self.deadline).await;
        }
        let bound = self.pool.options().connect_timeout;
        let manager = core.manager();
        let kill = |sessions: Vec<u64>| async move {
            match tokio::time::timeout(bound, kill_queries(manager, &sessions)).await {
                Ok(killed) => killed,
                Err(_) => {
                    tracing::warn!(?bound, "KILL QUERY did not finish within connect_timeout");
                    0
                }
            }
        };
        core.close_within_interrupting(self.deadline, bound, kill)
            .await
    }
}

impl<'a> IntoFuture for Drain<'a> {
    type Output = DrainReport;
    type IntoFuture = Pin<Box<dyn Future<Output = DrainReport> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Sends `KILL QUERY` for each session over one new connection; how many
/// the server accepted (an unknown id, 1094, has ended on its own).
async fn kill_queries(manager: &MySqlManager, sessions: &[u64]) -> u64 {
    if sessions.is_empty() {
        return 0;
    }
    let mut conn = match manager.connect_raw().await {
        Ok(conn) => conn,
        Err(e) => {
            tracing::warn!(error = %e, "could not open a connection to send KILL QUERY");
            return 0;
        }
    };
    let mut killed = 0;
    for id in sessions {
        match conn.query_drop(format!("KILL QUERY {id}")).await {
            Ok(()) => killed += 1,
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
            Err(e) => tracing::warn!(session = id, error = %e, "KILL QUERY failed"),
        }
    }
    tracing::info!(
        killed,
        asked = sessions.len(),
        "drain: killed the statements still running"
    );
    let _ = conn.disconnect().await;
    killed
}
