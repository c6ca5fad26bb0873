//! `Pool`: the generic core over MySQL connections.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use crate::boot::Report;
use crate::options::PoolOptions;
use crate::pool::{Counters, GenericPool, PoolError, PoolStats, Pooled};

use super::MySqlManager;

/// A connection checked out of a [`Pool`]; derefs to
/// [`mysql_async::Conn`]. Dropping it returns it.
pub type PooledConn = Pooled<MySqlManager>;

/// Why [`Pool::get`] failed.
pub type AcquireError = PoolError<mysql_async::Error>;

/// A MySQL/MariaDB connection pool. Cheap to clone: clones share one pool.
///
/// ```no_run
/// use pool_runtime::mysql_async::prelude::*;
/// use pool_runtime::{Pool, PoolOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let mut options = PoolOptions::from_url("mysql://app:secret@127.0.0.1:3306/shop")?;
/// options.max_open = 16;
/// options.max_idle = 16;
/// let pool = Pool::builder(options).connect().await?;
///
/// let mut conn = pool.get().await?;
/// let one: Option<i64> = conn.query_first("SELECT 1").await?;
/// drop(conn); // back to the pool
///
/// pool.close().await;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Pool {
    pub(super) inner: GenericPool<MySqlManager>,
    /// This handle's statement timeout (see `with_statement_timeout`).
    pub(super) statement_timeout: Option<Duration>,
    /// What the boot checks found.
    pub(super) report: Arc<Report>,
}

impl Pool {
    /// A connection: idle and checked, new, or the next one returned.
    /// See [`GenericPool::get`].
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<PooledConn, AcquireError>> + Send + '_ {
        self.inner.get()
    }

    /// Counters and gauges.
    pub fn stats(&self) -> PoolStats {
        self.inner.stats()
    }

    /// The options the pool runs with.
    pub fn options(&self) -> &PoolOptions {
        self.inner.options()
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Stops handing out connections, closes idle ones (`COM_QUIT`) and
    /// waits until those in use are returned and closed.
    pub async fn close(&self) {
        self.inner.close().await;
    }

    /// The generic core, for what `Pool` does not wrap.
    pub fn generic(&self) -> &GenericPool<MySqlManager> {
        &self.inner
    }

    pub(crate) fn counters(&self) -> &Counters {
        self.inner.counters()
    }

    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    pub(crate) fn with_timeout(&self, statement_timeout: Option<Duration>) -> Pool {
        Pool {
            inner: self.inner.clone(),
            statement_timeout,
            report: Arc::clone(&self.report),
        }
    }

    /// What the boot checks found when the pool started (warnings, fixes),
    /// with the server's limits.
    pub fn boot_report(&self) -> &Report {
        &self.report
    }
}
