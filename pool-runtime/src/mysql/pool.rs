//! `Pool`: the generic core over MySQL connections.

use std::future::Future;
use std::time::Duration;

use std::sync::Arc;

use crate::boot::{self, BootError, BootPolicy, Report, ServerFacts};
use crate::config::Sources;
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
    /// What the boot checks found.
    report: Arc<Report>,
}

/// Builds a [`Pool`]; see [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    options: PoolOptions,
    sources: Option<Sources>,
}

impl Pool {
    /// Starts building a pool with these options.
    pub fn builder(options: PoolOptions) -> PoolBuilder {
        PoolBuilder {
            options,
            sources: None,
        }
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
            report: Arc::clone(&self.report),
        }
    }

    /// What the boot checks found when the pool started (warnings, fixes),
    /// with the server's limits.
    pub fn boot_report(&self) -> &Report {
        &self.report
    }

    /// Opens a pool for `url` with the default settings: the one-liner.
    /// The boot checks run as for [`PoolBuilder::connect`], and so do the
    /// first connection's checks (server reachable, credentials, database).
    /// For other settings use [`Pool::builder`] (or the derive).
    ///
    /// A URL that cannot be parsed is [`BootError::InvalidUrl`], which never
    /// shows the password.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pool_runtime::BootError> {
    /// let pool = pool_runtime::Pool::connect("mysql://app:secret@127.0.0.1:3306/shop").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Pool, BootError> {
        let options = PoolOptions::from_url(url).map_err(BootError::InvalidUrl)?;
        Pool::builder(options).connect().await
    }
}

impl PoolBuilder {
    /// Where the options' values came from, for the boot report (set by
    /// [`Loaded::connect`](crate::Loaded::connect)).
    pub fn sources(mut self, sources: Sources) -> Self {
        self.sources = Some(sources);
        self
    }

    /// The boot policy, instead of the options' `on_violation`.
    pub fn on_violation(mut self, policy: BootPolicy) -> Self {
        self.options.on_violation = policy;
        self
    }

    /// Opens the pool. Its first connection is opened exactly as pool
    /// connections are, within `connect_timeout`, so an unreachable server,
    /// wrong credentials or a missing database fail here, at boot. On it the
    /// server's limits are read and the boot checks run
    /// ([`crate::boot`]); a config that cannot work against this server is
    /// refused with [`BootError::Rejected`] and a report, unless the policy
    /// says to warn or fix. The connection then joins the pool.
    pub async fn connect(self) -> Result<Pool, BootError> {
        let url = self.options.url.clone().ok_or(BootError::MissingUrl)?;
        let target = boot::error::target(&url);
        let manager = MySqlManager::new(&url, &self.options);
        let limit = self.options.connect_timeout;
        let mut first = match tokio::time::timeout(limit, manager.connect_raw()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(boot::error::from_connect(&url, e)),
            Err(_) => {
                return Err(BootError::ConnectTimeout {
                    target,
                    after: limit,
                });
            }
        };
        let facts = match tokio::time::timeout(limit, ServerFacts::read(&mut first)).await {
            Ok(Ok(facts)) => facts,
            Ok(Err(e)) => {
                return Err(BootError::Other {
                    target,
                    message: format!("reading the server's limits failed: {e}"),
                });
            }
            Err(_) => {
                return Err(BootError::ConnectTimeout {
                    target,
                    after: limit,
                });
            }
        };
        let (report, options) = boot::assess(
            url.to_string(),
            &self.options,
            self.sources.as_ref(),
            &self.options.on_violation,
            facts,
        );
        if report.is_rejected() {
            let _ = first.disconnect().await;
            return Err(BootError::Rejected(Box::new(report)));
        }
        for finding in &report.findings {
            tracing::warn!(
                code = %finding.code,
                key = finding.key,
                value = %finding.value,
                source = %finding.source,
                fact = finding.fact.as_deref().unwrap_or("-"),
                action = ?finding.action,
                "pool boot check: {} Fix: {}",
                finding.why,
                finding.fix
            );
        }
        let manager = manager.watching(options.clone(), target.clone());
        let inner = GenericPool::new(manager, options).map_err(|e| BootError::Other {
            target,
            message: e.to_string(),
        })?;
        inner.adopt(first);
        let statement_timeout = inner.options().statement_timeout;
        Ok(Pool {
            inner,
            statement_timeout,
            report: Arc::new(report),
        })
    }
}
