//! `Pool`: the generic core over MySQL connections.

use std::future::Future;
use std::time::Duration;

use crate::boot::BootError;
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
    inner: GenericPool<MySqlManager>,
    /// This handle's statement timeout (see `with_statement_timeout`).
    statement_timeout: Option<Duration>,
}

/// Builds a [`Pool`]; see [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    options: PoolOptions,
}

impl Pool {
    /// Starts building a pool with these options.
    pub fn builder(options: PoolOptions) -> PoolBuilder {
        PoolBuilder { options }
    }

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
        }
    }
}

impl PoolBuilder {
    /// Opens the pool: checks the options, opens a first connection exactly
    /// as pool connections are opened (so an unreachable server or a wrong
    /// password fails here, at boot, not at the first query), and keeps it.
    pub async fn connect(self) -> Result<Pool, BootError> {
        let url = self.options.url.clone().ok_or(BootError::MissingUrl)?;
        let manager = MySqlManager::new(&url, &self.options);
        let inner = GenericPool::new(manager, self.options)
            .map_err(|e| BootError::from_acquire(&url, e))?;
        let first = inner
            .get()
            .await
            .map_err(|e| BootError::from_acquire(&url, e))?;
        drop(first);
        let statement_timeout = inner.options().statement_timeout;
        Ok(Pool {
            inner,
            statement_timeout,
        })
    }
}
