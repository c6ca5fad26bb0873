//! Each replica's health: the background check of its replication state
//! and lag, and the rotation it decides.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::error::OutReason;
use super::stats::Counters;
use crate::boot::FactsError;
use crate::boot::replication::{self, ReplicaStatus, Replication};
use crate::mysql::Pool;

/// A replica member: its pool and what the last check found.
#[derive(Debug)]
pub(crate) struct Replica {
    /// Its place among the replicas (`replica-<index>`).
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) pool: Pool,
    state: Mutex<State>,
    /// The "no privilege to read lag" warning was logged.
    warned_privilege: AtomicBool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// `None`: in rotation.
    pub(crate) out: Option<OutReason>,
    /// The lag last read; `None`: unknown (not checked yet, no privilege,
    /// or the server reports none).
    pub(crate) lag: Option<Duration>,
}

/// What one check found.
enum Found {
    Lag(Option<Duration>),
    Out(OutReason),
}

impl Replica {
    pub(crate) fn new(index: usize, name: String, pool: Pool) -> Replica {
        Replica {
            index,
            name,
            pool,
            state: Mutex::new(State::default()),
            warned_privilege: AtomicBool::new(false),
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn in_rotation(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .out
            .is_none()
    }

    /// Puts the replica in or out of rotation, logging and counting a change.
    pub(crate) fn set(&self, out: Option<OutReason>, lag: Option<Duration>, counters: &Counters) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.lag = lag;
        match (&state.out, &out) {
            (None, Some(reason)) => {
                tracing::warn!(member = %self.name, pool = %self.pool.name(), %reason, "replica leaves the read rotation");
                counters.left(self.index, reason);
            }
            (Some(was), None) => {
                tracing::info!(member = %self.name, pool = %self.pool.name(), was = %was, "replica is back in the read rotation");
            }
            (Some(was), Some(now)) if was.word() != now.word() => {
                tracing::warn!(member = %self.name, pool = %self.pool.name(), reason = %now, "replica still out of the read rotation, for another reason");
                counters.left(self.index, now);
            }
            _ => {}
        }
        state.out = out;
    }

    /// Reads the replica's replication state once, within `limit`, and
    /// updates its rotation.
    pub(crate) async fn check(&self, max_lag: Duration, limit: Duration, counters: &Counters) {
        let found = match tokio::time::timeout(limit, self.read_status()).await {
            Ok(found) => found,
            Err(_) => Found::Out(OutReason::Unreachable {
                error: format!("the replication check took longer than {limit:?}"),
            }),
        };
        match found {
            Found::Lag(Some(lag)) if lag > max_lag => self.set(
                Some(OutReason::Lagging { lag, max: max_lag }),
                Some(lag),
                counters,
            ),
            Found::Lag(lag) => self.set(None, lag, counters),
            Found::Out(reason) => self.set(Some(reason), None, counters),
        }
    }

    async fn read_status(&self) -> Found {
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            Err(e) => {
                return Found::Out(OutReason::Unreachable {
                    error: e.to_string(),
                });
            }
        };
        match replication::read(&mut conn).await {
            Ok(Replication::Replica(status)) => judge(&status),
            Ok(Replication::NotReplica) => Found::Out(OutReason::Stopped {
                detail: "the server is not a replica (its replica status is empty)".into(),
            }),
            Ok(Replication::NoPrivilege { privilege }) => {
                if !self.warned_privilege.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        member = %self.name,
                        pool = %self.pool.name(),
                        %privilege,
                        "cannot read the replica's lag: its user lacks the privilege for its replica \
                         status (grant {privilege}; SLAVE MONITOR on MariaDB, REPLICATION CLIENT on \
                         MySQL); it stays in rotation with its lag unknown"
                    );
                }
                Found::Lag(None)
            }
            Ok(other) => Found::Lag({
                tracing::debug!(member = %self.name, replication = %other, "replica status not read");
                None
            }),
            Err(FactsError::Query { source, .. }) => Found::Out(OutReason::Unreachable {
                error: source.to_string(),
            }),
            Err(e) => Found::Out(OutReason::Unreachable {
                error: e.to_string(),
            }),
        }
    }
}

/// Judges the replica status: both threads running (IO may be
/// `Connecting`), and its lag.
fn judge(status: &ReplicaStatus) -> Found {
    let (sql, io) = (&status.sql_running, &status.io_running);
    if !sql.eq_ignore_ascii_case("yes") || io.eq_ignore_ascii_case("no") {
        return Found::Out(OutReason::Stopped {
            detail: format!("SQL thread {sql}, IO thread {io}"),
        });
    }
    Found::Lag(status.seconds_behind.map(Duration::from_secs))
}
