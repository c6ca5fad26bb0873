//! Read-your-writes: the mark a write leaves on a handle or a `Session`,
//! and the transaction that sets it at commit.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mysql_async::Params;
use mysql_async::prelude::FromRow;

use super::error::ClusterError;
use super::handle::Shared;
use crate::mysql::exec::{ExecOutcome, RowStream, Tx, TxOptions};

/// When the last write through a handle happened.
#[derive(Debug)]
pub(crate) struct WriteMark {
    base: Instant,
    /// Nanoseconds after `base` of the last write plus one; 0: none.
    at: AtomicU64,
}

impl Default for WriteMark {
    fn default() -> Self {
        WriteMark {
            base: Instant::now(),
            at: AtomicU64::new(0),
        }
    }
}

impl WriteMark {
    pub(crate) fn wrote(&self) {
        let nanos = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.at.store(nanos + 1, Ordering::Relaxed);
    }

    /// Whether a write happened within `window`.
    pub(crate) fn recent(&self, window: Duration) -> bool {
        match self.at.load(Ordering::Relaxed) {
            0 => false,
            at => {
                let wrote = Duration::from_nanos(at - 1);
                self.base.elapsed().saturating_sub(wrote) < window
            }
        }
    }
}

/// A read-your-writes scope of its own (one request, one user): its writes
/// send its reads to the primary for `read_your_writes`, and no one else's.
/// Made by [`Cluster::session`](super::Cluster::session); cheap to clone
/// (clones share the scope).
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) shared: Arc<Shared>,
    pub(crate) mark: Arc<WriteMark>,
}

impl Session {
    /// A write (or any statement) on the primary.
    pub async fn exec(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<ExecOutcome, ClusterError> {
        self.shared.exec(&self.mark, sql, params.into()).await
    }

    /// A read: on a replica, or on the primary within `read_your_writes`
    /// of this session's last write.
    pub async fn query<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Vec<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared.query(&self.mark, sql, params.into()).await
    }

    /// The first row of a read, routed as [`query`](Self::query).
    pub async fn query_first<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Option<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared
            .query_first(&self.mark, sql, params.into())
            .await
    }

    /// A read whose rows come one at a time, routed as
    /// [`query`](Self::query): see [`Cluster::query_stream`](super::Cluster::query_stream).
    pub async fn query_stream<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<RowStream<'static, T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared
            .query_stream(&self.mark, sql, params.into())
            .await
    }

    /// A transaction on the primary; its commit counts as this session's
    /// write.
    pub async fn begin(&self) -> Result<ClusterTx, ClusterError> {
        self.shared.begin(&self.mark, TxOptions::new()).await
    }
}

/// A transaction on a cluster's primary: a [`Tx`] (it derefs to one) whose
/// commit sets the read-your-writes mark of the handle that began it.
#[derive(Debug)]
pub struct ClusterTx {
    pub(crate) tx: Tx,
    pub(crate) mark: Arc<WriteMark>,
}

impl ClusterTx {
    /// Commits; reads through the handle that began it then go to the
    /// primary for `read_your_writes`.
    pub async fn commit(self) -> Result<(), ClusterError> {
        let result = self.tx.commit().await;
        // Even a failed COMMIT may have committed.
        self.mark.wrote();
        Ok(result?)
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), ClusterError> {
        Ok(self.tx.rollback().await?)
    }
}

impl Deref for ClusterTx {
    type Target = Tx;

    fn deref(&self) -> &Tx {
        &self.tx
    }
}

impl DerefMut for ClusterTx {
    fn deref_mut(&mut self) -> &mut Tx {
        &mut self.tx
    }
}
