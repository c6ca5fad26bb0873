//! `Pool`: the handle services hold, the generic core over MySQL
//! connections plus what the MySQL side keeps beside it.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use super::exec::ExecCounters;
use crate::boot::Report;
use crate::options::PoolOptions;
use crate::pool::{GenericPool, Pooled};
use crate::source::Sources;

use super::{MySqlManager, PoolStats};

/// A connection checked out of a [`Pool`]; derefs to
/// [`mysql_async::Conn`]. Dropping it returns it.
pub type PooledConn = Pooled<MySqlManager>;

pub use crate::error::AcquireError;

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
    /// What every handle of this pool shares beside the core.
    context: Arc<PoolContext>,
}

/// What the MySQL pool keeps beside the generic core, which knows none of
/// it: the options it runs with, where they came from, what the boot
/// checks found, and the exec path's counters.
#[derive(Debug)]
struct PoolContext {
    /// `user@host:port/db`: how errors and logs name this pool.
    name: Arc<str>,
    /// Replaced whole by a live reconfigure.
    options: RwLock<Arc<PoolOptions>>,
    /// Where the options' values came from (a loaded config), for reports.
    sources: Option<Sources>,
    report: Report,
    exec_counters: ExecCounters,
    /// One reconfigure at a time, from judging to applying.
    reconfiguring: tokio::sync::Mutex<()>,
}

impl Pool {
    /// A pool over a started core, with what the builder learnt at boot.
    pub(super) fn started(
        inner: GenericPool<MySqlManager>,
        name: &str,
        options: PoolOptions,
        report: Report,
        sources: Option<Sources>,
        exec_counters: ExecCounters,
    ) -> Pool {
        Pool {
            inner,
            statement_timeout: options.statement_timeout,
            context: Arc::new(PoolContext {
                name: name.into(),
                options: RwLock::new(Arc::new(options)),
                sources,
                report,
                exec_counters,
                reconfiguring: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// A connection: idle and checked, new, or the next one returned,
    /// within `acquire_timeout`. See [`GenericPool::get`].
    #[track_caller]
    pub fn get(&self) -> impl Future<Output = Result<PooledConn, AcquireError>> + Send + '_ {
        self.inner.get()
    }

    /// Like [`get`](Self::get), bounded by `timeout` instead of
    /// `acquire_timeout`. See [`GenericPool::get_timeout`].
    #[track_caller]
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<PooledConn, AcquireError>> + Send + '_ {
        self.inner.get_timeout(timeout)
    }

    /// A connection without waiting for another task to return one: idle,
    /// or new if a permit is free; otherwise [`PoolError::Exhausted`](crate::pool::PoolError::Exhausted) at
    /// once. It may still ping an idle connection (validation timeout) or
    /// open one (`connect_timeout`). See [`GenericPool::try_get`].
    #[track_caller]
    pub fn try_get(&self) -> impl Future<Output = Result<PooledConn, AcquireError>> + Send + '_ {
        self.inner.try_get()
    }

    /// A newly opened connection, never an idle one: the exec path's last
    /// attempt.
    #[track_caller]
    pub(crate) fn get_new(
        &self,
    ) -> impl Future<Output = Result<PooledConn, AcquireError>> + Send + '_ {
        self.inner.get_new()
    }

    /// Counters and gauges: the pool core's and the exec path's, in one
    /// snapshot.
    pub fn stats(&self) -> PoolStats {
        PoolStats::join(self.inner.stats(), self.context.exec_counters.read())
    }

    /// The options the pool runs with now: after the boot checks' fixes,
    /// if the policy allowed any, and after every
    /// [`reconfigure`](Self::reconfigure). A snapshot: a later reconfigure
    /// does not change it.
    pub fn options(&self) -> Arc<PoolOptions> {
        let current = self.context.options.read();
        Arc::clone(&current.unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts new options in force (a reconfigure that passed its checks).
    pub(super) fn set_options(&self, options: PoolOptions) {
        let mut current = self
            .context
            .options
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *current = Arc::new(options);
    }

    /// Where the options' values came from, when the pool was opened from a
    /// loaded config.
    pub(super) fn sources(&self) -> Option<&Sources> {
        self.context.sources.as_ref()
    }

    pub(super) fn reconfigure_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.context.reconfiguring
    }

    /// The generic core under this pool.
    pub(crate) fn core(&self) -> &GenericPool<MySqlManager> {
        &self.inner
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Stops handing out connections, closes idle ones (`COM_QUIT`) and
    /// waits until those in use are returned and closed. Each goodbye gets
    /// `connect_timeout`; one that takes longer is abandoned, logged and
    /// counted in [`PoolStats::goodbyes_abandoned`] (see
    /// [`GenericPool::close`]).
    pub async fn close(&self) {
        self.inner.close().await;
    }

    /// Runs one maintenance pass now (retire, keepalives, `min_idle`, leak
    /// reports), so that tests need not wait for the timer.
    #[cfg(feature = "testkit")]
    pub async fn run_maintenance(&self) {
        self.inner.run_maintenance().await;
    }

    pub(crate) fn exec_counters(&self) -> &ExecCounters {
        &self.context.exec_counters
    }

    pub(crate) fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    pub(crate) fn with_timeout(&self, statement_timeout: Option<Duration>) -> Pool {
        Pool {
            inner: self.inner.clone(),
            statement_timeout,
            context: Arc::clone(&self.context),
        }
    }

    /// How errors and logs name this pool: `user@host:port/db`, never the
    /// password. Tells a primary from a replica in an error message.
    pub fn name(&self) -> &Arc<str> {
        &self.context.name
    }

    /// Fetches the credentials anew at the next connect (dropping cached
    /// ones, and any hold-back after refusals) and retires the connections
    /// opened so far: idle ones are closed now, those in use when they are
    /// returned. Call it when a password was revoked, so kept connections
    /// stop using it too. Returns how many idle connections were closed.
    pub fn refresh_credentials(&self) -> usize {
        if let Some(cache) = self.inner.manager().credentials() {
            cache.invalidate();
        }
        self.inner.retire_older()
    }

    /// What the boot checks found when the pool started (warnings, fixes),
    /// with the server's limits.
    pub fn boot_report(&self) -> &Report {
        &self.context.report
    }
}
