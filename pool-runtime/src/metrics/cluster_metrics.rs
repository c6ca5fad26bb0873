//! A cluster's routing metrics: where reads went, replica retries and
//! rotation exits, each series under the member it is about.

use metrics::Counter;

use super::pool_metrics::{Registrar, describe_all};
use super::table::{self, REASON, ROUTE};

/// The reasons a replica leaves rotation, in `OutReason::word` terms.
pub(crate) const EXIT_REASONS: [&str; 3] = ["lagging", "stopped", "unreachable"];

/// One replica's handles.
#[derive(Debug)]
struct ReplicaHandles {
    reads: Counter,
    retries: Counter,
    exits: [Counter; EXIT_REASONS.len()],
}

/// Every handle of one cluster, registered once at connect.
#[derive(Debug)]
pub(crate) struct ClusterMetrics {
    primary_ryw: Counter,
    primary_no_replica: Counter,
    refused: Counter,
    replicas: Vec<ReplicaHandles>,
}

impl ClusterMetrics {
    /// Registers the handles of a cluster whose primary is named `primary`
    /// and whose replicas `replicas` (their `pool_name`s), with the
    /// recorder current now.
    pub(crate) fn register(primary: &str, replicas: &[String]) -> ClusterMetrics {
        metrics::with_recorder(|recorder| {
            describe_all(recorder);
            let p = Registrar {
                recorder,
                pool: primary,
            };
            ClusterMetrics {
                primary_ryw: p.counter_with(&table::CLUSTER_READS, ROUTE, "primary_ryw"),
                primary_no_replica: p.counter_with(
                    &table::CLUSTER_READS,
                    ROUTE,
                    "primary_no_replica",
                ),
                refused: p.counter_with(&table::CLUSTER_READS, ROUTE, "refused"),
                replicas: replicas
                    .iter()
                    .map(|name| {
                        let r = Registrar {
                            recorder,
                            pool: name,
                        };
                        ReplicaHandles {
                            reads: r.counter_with(&table::CLUSTER_READS, ROUTE, "replica"),
                            retries: r.counter(&table::CLUSTER_REPLICA_RETRIES),
                            exits: EXIT_REASONS.map(|reason| {
                                r.counter_with(&table::CLUSTER_ROTATION_EXITS, REASON, reason)
                            }),
                        }
                    })
                    .collect(),
            }
        })
    }

    pub(crate) fn read_on_replica(&self, i: usize) {
        if let Some(r) = self.replicas.get(i) {
            r.reads.increment(1);
        }
    }

    pub(crate) fn read_ryw(&self) {
        self.primary_ryw.increment(1);
    }

    pub(crate) fn read_no_replica(&self) {
        self.primary_no_replica.increment(1);
    }

    pub(crate) fn read_refused(&self) {
        self.refused.increment(1);
    }

    pub(crate) fn replica_retry(&self, i: usize) {
        if let Some(r) = self.replicas.get(i) {
            r.retries.increment(1);
        }
    }

    /// Replica `i` left rotation for `reason` (one of [`EXIT_REASONS`]).
    pub(crate) fn left(&self, i: usize, reason: &str) {
        let Some(r) = self.replicas.get(i) else {
            return;
        };
        if let Some(k) = EXIT_REASONS.iter().position(|w| *w == reason) {
            r.exits[k].increment(1);
        }
    }
}
