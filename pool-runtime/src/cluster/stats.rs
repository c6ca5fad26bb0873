//! The cluster's routing counters and each member's stats.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::OutReason;
use crate::mysql::PoolStats;

/// Routing counters, shared by a cluster's handles, and (feature
/// `metrics`) the same counts per member in metrics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) reads_to_replicas: AtomicU64,
    pub(crate) reads_to_primary_ryw: AtomicU64,
    pub(crate) reads_to_primary_no_replica: AtomicU64,
    pub(crate) reads_failed_no_replica: AtomicU64,
    pub(crate) replica_retries: AtomicU64,
    pub(crate) left_lagging: AtomicU64,
    pub(crate) left_stopped: AtomicU64,
    pub(crate) left_unreachable: AtomicU64,
    #[cfg(feature = "metrics")]
    metrics: Option<crate::metrics::ClusterMetrics>,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Counters for a cluster with members named `primary` and `replicas`
    /// (their `pool_name`s), registered in metrics with the recorder
    /// current now when the feature is on.
    pub(crate) fn new(primary: &str, replicas: &[String]) -> Counters {
        #[cfg(feature = "metrics")]
        {
            Counters {
                metrics: Some(crate::metrics::ClusterMetrics::register(primary, replicas)),
                ..Counters::default()
            }
        }
        #[cfg(not(feature = "metrics"))]
        {
            let _ = (primary, replicas);
            Counters::default()
        }
    }

    #[cfg(feature = "metrics")]
    fn metrics(&self, f: impl FnOnce(&crate::metrics::ClusterMetrics)) {
        if let Some(m) = &self.metrics {
            f(m);
        }
    }

    /// A read replica `i` served.
    pub(crate) fn read_on_replica(&self, i: usize) {
        bump(&self.reads_to_replicas);
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.read_on_replica(i));
        let _ = i;
    }

    /// A read sent to the primary by read-your-writes.
    pub(crate) fn read_ryw(&self) {
        bump(&self.reads_to_primary_ryw);
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.read_ryw());
    }

    /// A read sent to the primary for want of a replica in rotation.
    pub(crate) fn read_no_replica(&self) {
        bump(&self.reads_to_primary_no_replica);
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.read_no_replica());
    }

    /// A read refused for want of a replica (`replica_fallback = fail`).
    pub(crate) fn read_refused(&self) {
        bump(&self.reads_failed_no_replica);
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.read_refused());
    }

    /// A read that lost replica `i`'s connection, sent on elsewhere.
    pub(crate) fn replica_retry(&self, i: usize) {
        bump(&self.replica_retries);
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.replica_retry(i));
        let _ = i;
    }

    /// Replica `i` left rotation.
    pub(crate) fn left(&self, i: usize, reason: &OutReason) {
        bump(match reason {
            OutReason::Lagging { .. } => &self.left_lagging,
            OutReason::Stopped { .. } => &self.left_stopped,
            OutReason::Unreachable { .. } => &self.left_unreachable,
        });
        #[cfg(feature = "metrics")]
        self.metrics(|m| m.left(i, reason.word()));
        let _ = i;
    }
}

/// One member of a cluster: its name, whether it takes reads, and its
/// pool's own stats.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MemberStats {
    /// `primary`, `replica-0`, ... (its pool's `pool_name`, as in metrics).
    pub pool_name: String,
    /// Whether it is the primary.
    pub primary: bool,
    /// For a replica: why it is out of rotation, `None` when in.
    pub out: Option<OutReason>,
    /// For a replica: the lag last read; `None` when unknown (no privilege
    /// to read it, not replicating, not checked yet).
    pub lag: Option<Duration>,
    /// Its pool's counters and gauges.
    pub pool: PoolStats,
}

/// A cluster's stats: each member's, and where reads went.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterStats {
    /// The primary first, then the replicas in order.
    pub members: Vec<MemberStats>,
    /// Reads a replica served.
    pub reads_to_replicas: u64,
    /// Reads sent to the primary because of read-your-writes.
    pub reads_to_primary_ryw: u64,
    /// Reads sent to the primary because no replica was in rotation.
    pub reads_to_primary_no_replica: u64,
    /// Reads refused because no replica was in rotation
    /// (`replica_fallback = fail`).
    pub reads_failed_no_replica: u64,
    /// Reads retried on another replica after theirs lost its connection.
    pub replica_retries: u64,
    /// Times a replica left rotation for lag.
    pub left_lagging: u64,
    /// Times a replica left rotation because replication stopped.
    pub left_stopped: u64,
    /// Times a replica left rotation because it could not be reached.
    pub left_unreachable: u64,
}

impl ClusterStats {
    pub(crate) fn new(members: Vec<MemberStats>, c: &Counters) -> ClusterStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClusterStats {
            members,
            reads_to_replicas: get(&c.reads_to_replicas),
            reads_to_primary_ryw: get(&c.reads_to_primary_ryw),
            reads_to_primary_no_replica: get(&c.reads_to_primary_no_replica),
            reads_failed_no_replica: get(&c.reads_failed_no_replica),
            replica_retries: get(&c.replica_retries),
            left_lagging: get(&c.left_lagging),
            left_stopped: get(&c.left_stopped),
            left_unreachable: get(&c.left_unreachable),
        }
    }

    /// The member named `pool_name`.
    pub fn member(&self, pool_name: &str) -> Option<&MemberStats> {
        self.members.iter().find(|m| m.pool_name == pool_name)
    }
}
