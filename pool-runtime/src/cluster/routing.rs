//! Which member serves a read: a replica in rotation (least in use, ties
//! round-robin), the primary under read-your-writes, and what happens when
//! a replica fails or none is left.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::error::{ClusterError, OutReason, ReplicaOut};
use super::handle::Shared;
use super::health::Replica;
use super::session::WriteMark;
use crate::error::{Error, ErrorKind};
use crate::mysql::Pool;
use pool_settings::ReplicaFallback;

/// Round-robin start for ties.
#[derive(Debug, Default)]
pub(crate) struct RoundRobin(AtomicUsize);

impl Shared {
    /// The replica in rotation with the fewest connections in use, ties
    /// broken round-robin; `skip` is one that just failed.
    pub(crate) fn pick(&self, skip: Option<usize>) -> Option<usize> {
        let n = self.replicas.len();
        if n == 0 {
            return None;
        }
        let start = self.round_robin.0.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, u64)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            let replica = &self.replicas[i];
            if Some(i) == skip || !replica.in_rotation() {
                continue;
            }
            let in_use = replica.pool.stats().in_use;
            if best.is_none_or(|(_, least)| in_use < least) {
                best = Some((i, in_use));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Every replica out of rotation, and why.
    pub(crate) fn out(&self) -> Vec<ReplicaOut> {
        self.replicas
            .iter()
            .filter_map(|r| {
                r.state().out.map(|reason| ReplicaOut {
                    member: r.name.clone(),
                    target: r.pool.name().to_string(),
                    reason,
                })
            })
            .collect()
    }

    /// Runs a read: on a replica, or on the primary (read-your-writes, or
    /// no replica left and `replica_fallback = primary`). A replica that
    /// loses its connection leaves rotation and the read is retried once
    /// on another.
    pub(crate) async fn read<T, F, Fut>(&self, mark: &WriteMark, run: F) -> Result<T, ClusterError>
    where
        F: Fn(Pool) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let c = &self.counters;
        if mark.recent(self.options.read_your_writes) {
            c.read_ryw();
            return Ok(run(self.primary.clone()).await?);
        }
        let Some(first) = self.pick(None) else {
            return self.fallback(run).await;
        };
        match run(self.replicas[first].pool.clone()).await {
            Ok(v) => {
                c.read_on_replica(first);
                Ok(v)
            }
            Err(e) if !connection_failure(&e) => Err(e.into()),
            Err(e) => {
                let replica = &self.replicas[first];
                tracing::warn!(member = %replica.name, error = %e, "read failed on a replica: retrying it on another");
                self.mark_unreachable(replica, &e);
                c.replica_retry(first);
                match self.pick(Some(first)) {
                    Some(second) => {
                        let v = run(self.replicas[second].pool.clone()).await?;
                        c.read_on_replica(second);
                        Ok(v)
                    }
                    None => self.fallback(run).await,
                }
            }
        }
    }

    async fn fallback<T, F, Fut>(&self, run: F) -> Result<T, ClusterError>
    where
        F: Fn(Pool) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        match self.options.replica_fallback {
            ReplicaFallback::Fail => {
                self.counters.read_refused();
                Err(ClusterError::NoReplica { out: self.out() })
            }
            _ => {
                self.counters.read_no_replica();
                Ok(run(self.primary.clone()).await?)
            }
        }
    }

    fn mark_unreachable(&self, replica: &Replica, e: &Error) {
        replica.set(
            Some(OutReason::Unreachable {
                error: e.kind().to_string(),
            }),
            None,
            &self.counters,
        );
    }
}

/// An error that says the replica (not the statement) failed: a read may
/// go to another one. The server's own refusals are the caller's.
fn connection_failure(e: &Error) -> bool {
    !matches!(e.kind(), ErrorKind::Server(_))
}
