//! What a cluster says when it cannot serve a read or cannot start.

use std::fmt;
use std::time::Duration;

use crate::boot::BootError;
use crate::error::Error;

/// Why a replica is out of the read rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutReason {
    /// `Seconds_Behind_Master` above `max_replica_lag`.
    Lagging {
        /// The lag last read.
        lag: Duration,
        /// The setting it exceeded.
        max: Duration,
    },
    /// Replication is not running (SQL or IO thread stopped, or the server
    /// is not a replica at all).
    Stopped {
        /// What the server reported.
        detail: String,
    },
    /// The replica could not be reached (connect failed, connection lost,
    /// check timed out).
    Unreachable {
        /// The error, as the driver worded it (never a password).
        error: String,
    },
}

impl OutReason {
    /// A short word for stats and logs: `lagging`, `stopped`, `unreachable`.
    pub fn word(&self) -> &'static str {
        match self {
            OutReason::Lagging { .. } => "lagging",
            OutReason::Stopped { .. } => "stopped",
            OutReason::Unreachable { .. } => "unreachable",
        }
    }
}

impl fmt::Display for OutReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutReason::Lagging { lag, max } => {
                write!(
                    f,
                    "lagging {lag:?} behind the primary (max_replica_lag {max:?})"
                )
            }
            OutReason::Stopped { detail } => write!(f, "replication stopped: {detail}"),
            OutReason::Unreachable { error } => write!(f, "unreachable: {error}"),
        }
    }
}

/// One replica out of rotation, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaOut {
    /// Its member name, `replica-0`, ...
    pub member: String,
    /// Its target, `user@host:port/db` (never the password).
    pub target: String,
    /// Why it is out.
    pub reason: OutReason,
}

impl fmt::Display for ReplicaOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.member, self.target, self.reason)
    }
}

/// Why a statement through a [`Cluster`](super::Cluster) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The member pool that ran it failed: see [`Error`] (it names the pool).
    #[error(transparent)]
    Statement(#[from] Error),
    /// No replica is in rotation and `replica_fallback = fail`: the read was
    /// not sent anywhere. Each replica is named with the reason it is out;
    /// fix those, or set `replica_fallback: primary`.
    #[error("no replica can take the read (replica_fallback = fail): {}", list(.out))]
    NoReplica {
        /// Every replica, with why it is out (empty: the cluster has none).
        out: Vec<ReplicaOut>,
    },
}

fn list(out: &[ReplicaOut]) -> String {
    if out.is_empty() {
        return "the cluster has no replicas".to_owned();
    }
    out.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClusterError {
    /// Whether the statement may have taken effect; `false` means it
    /// certainly did not.
    pub fn may_have_run(&self) -> bool {
        match self {
            ClusterError::Statement(e) => e.may_have_run(),
            ClusterError::NoReplica { .. } => false,
        }
    }

    /// The statement error, when a member pool ran it.
    pub fn statement(&self) -> Option<&Error> {
        match self {
            ClusterError::Statement(e) => Some(e),
            ClusterError::NoReplica { .. } => None,
        }
    }
}

/// Why [`Cluster::connect`](super::Cluster::connect) failed: a member's boot
/// checks refused, or it could not be reached. The members that did start
/// were closed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterBootError {
    /// A member did not start: its boot error (its report names each key
    /// and its source).
    #[error("cluster member {member} did not start: {source}")]
    Member {
        /// `primary`, `replica-0`, ...
        member: String,
        /// The member's boot error.
        #[source]
        source: BootError,
    },
    /// A member's start was cancelled or panicked (a bug: please report it).
    #[error("a cluster member's start did not finish (cancelled or panicked)")]
    Interrupted,
}
