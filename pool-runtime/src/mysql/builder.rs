//! From options to a running pool, through the boot checks.
//!
//! The first connection is opened exactly as every pool connection is, the
//! server's limits are read on it and the config is judged
//! ([`crate::boot`]). [`PoolBuilder::connect`] then keeps that connection
//! in the new pool; [`PoolBuilder::check`] only reports and closes it, for
//! a service's `--check-config` flag or a deploy pipeline.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::Conn;

use super::credentials::{self, CredentialCache, CredentialSource, SharedSource};

use super::MySqlManager;
use super::exec::ExecCounters;
use super::handle::Pool;
use crate::boot::{self, BootError, BootPolicy, Report, ServerFacts};
use crate::config::{Loaded, PoolConfig};
use crate::options::PoolOptions;
use crate::source::Sources;

/// Builds a [`Pool`]; see [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    options: PoolOptions,
    sources: Option<Sources>,
    credentials: Option<SharedSource>,
    /// Whether the pool reports metrics (feature `metrics`).
    metrics: bool,
}

/// The first connection, and what the boot checks made of the server.
struct Judged {
    target: String,
    manager: MySqlManager,
    first: Conn,
    /// How long the first connection took to open (its create time).
    first_took: std::time::Duration,
    report: Report,
    /// The options to run with: as configured, or changed by `fix`.
    options: PoolOptions,
}

impl Pool {
    /// Starts building a pool with these options.
    pub fn builder(options: PoolOptions) -> PoolBuilder {
        PoolBuilder {
            options,
            sources: None,
            credentials: None,
            metrics: true,
        }
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
    /// [`Loaded::connect`]).
    pub fn sources(mut self, sources: Sources) -> Self {
        self.sources = Some(sources);
        self
    }

    /// Takes the user name and password of every new connection from
    /// `source` (a secrets manager, a token signer): see
    /// [`CredentialSource`]. The URL then carries no password, and
    /// `password_file` is unset; otherwise the boot refuses the ambiguity
    /// ([`BootError::Credentials`]).
    pub fn credentials(mut self, source: impl CredentialSource) -> Self {
        self.credentials = Some(SharedSource(Arc::new(source)));
        self
    }

    /// Makes [`connect`](Self::connect) wait until `min_idle` connections
    /// are open, up to `deadline` (the `warm_up` setting), so that a
    /// service is ready only when its pool is. A pool that cannot open them
    /// in time is closed again and `connect` fails with
    /// [`BootError::WarmUp`], naming `min_idle`, how many opened and the
    /// last connect error.
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # async fn demo() -> Result<(), pool_runtime::BootError> {
    /// let mut options = pool_runtime::PoolOptions::from_url("mysql://app:secret@db:3306/shop")
    ///     .map_err(pool_runtime::BootError::InvalidUrl)?;
    /// options.min_idle = 8;
    /// options.max_idle = 8;
    /// let pool = pool_runtime::Pool::builder(options)
    ///     .warm_up(Duration::from_secs(10))
    ///     .connect()
    ///     .await?;
    /// assert!(pool.stats().open >= 8);
    /// # Ok(()) }
    /// ```
    pub fn warm_up(mut self, deadline: Duration) -> Self {
        self.options.warm_up = Some(deadline);
        self
    }

    /// The boot policy, instead of the options' `on_violation`.
    pub fn on_violation(mut self, policy: BootPolicy) -> Self {
        self.options.on_violation = policy;
        self
    }

    /// Builds the pool without metrics, although the `metrics` feature is
    /// on: for a pool that should stay off dashboards (a one-off admin
    /// pool), or to measure what metrics cost.
    #[cfg(feature = "metrics")]
    pub fn without_metrics(mut self) -> Self {
        self.metrics = false;
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
        let judged = self.judge().await?;
        if judged.report.is_rejected() {
            let _ = judged.first.disconnect().await;
            return Err(BootError::Rejected(Box::new(judged.report)));
        }
        log_findings(&judged.report);
        let Judged {
            target,
            manager,
            first,
            first_took,
            report,
            options,
            ..
        } = judged;
        let manager = manager.watching(options.clone(), target.clone());
        let (inner, exec_metrics) =
            super::metrics::start_core(manager, &options, &report, self.metrics).map_err(|_| {
                BootError::NoRuntime {
                    target: target.clone(),
                }
            })?;
        inner.adopt(first, first_took);
        let counters = ExecCounters::with_metrics(exec_metrics);
        let pool = Pool::started(inner, &target, options, report, self.sources, counters);
        super::warm_up::at_boot(&pool, &target).await?;
        Ok(pool)
    }

    /// Runs the boot checks without keeping a pool: connects as the pool
    /// would, judges the config, closes the connection and returns the
    /// report, whether it rejects the config or not
    /// ([`Report::is_rejected`]). Errors are the ones `connect` would give
    /// before judging: unreachable server, wrong credentials, and so on.
    pub async fn check(self) -> Result<Report, BootError> {
        let judged = self.judge().await?;
        let _ = judged.first.disconnect().await;
        Ok(judged.report)
    }

    async fn judge(&self) -> Result<Judged, BootError> {
        let url = self.options.url.clone().ok_or(BootError::MissingUrl)?;
        let target = boot::error::target(&url);
        let manager = MySqlManager::try_new(&url, &self.options, self.sources.as_ref())
            .map_err(BootError::TlsConfig)?;
        let sources = self.sources.as_ref();
        let custom = self.credentials.as_ref().map(|s| &s.0);
        let provider = credentials::resolve(&self.options, &url, custom, sources)
            .map_err(BootError::Credentials)?;
        credentials::cleartext(&self.options, &url, manager.ssl_mode(), sources)
            .map_err(BootError::CleartextWithoutTls)?;
        let credentials_text = credentials::describe(provider.as_ref(), &url);
        let cache =
            provider.map(|p| Arc::new(CredentialCache::new(p, self.options.connect_timeout)));
        let manager = manager.with_credentials(cache);
        let plaintext = manager.ssl_mode() == crate::options::SslMode::Disabled;
        let limit = self.options.connect_timeout;
        let timed_out = || BootError::ConnectTimeout {
            target: target.clone(),
            after: limit,
        };
        let started = std::time::Instant::now();
        let mut first = match tokio::time::timeout(limit, manager.connect_raw()).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                let error = boot::error::from_connect(&url, plaintext, e);
                if let BootError::AccessDenied { target, source, .. } = error {
                    if plaintext
                        && tokio::time::timeout(limit, manager.requires_secure_transport())
                            .await
                            .unwrap_or(false)
                    {
                        return Err(BootError::SecureTransportRequired {
                            target,
                            code: boot::Code::TlsDisabledButRequired,
                            source,
                        });
                    }
                    return Err(boot::error::from_connect(&url, plaintext, source));
                }
                return Err(error);
            }
            Err(_) => return Err(timed_out()),
        };
        let first_took = started.elapsed();
        let loopback = crate::tls::is_loopback(url.opts().ip_or_hostname());
        // The server's TLS settings matter to a rule only when TLS is
        // disabled, the connection is encrypted, or the host is remote.
        let tls_settings = plaintext || !loopback || manager.tls_in_use();
        let read = ServerFacts::read_with(&mut first, tls_settings, self.options.role);
        let facts = match tokio::time::timeout(limit, read).await {
            Ok(Ok(mut facts)) => {
                facts.tls.loopback = loopback;
                facts
            }
            Ok(Err(source)) => {
                return Err(BootError::FactsUnreadable {
                    target: target.clone(),
                    source,
                });
            }
            Err(_) => return Err(timed_out()),
        };
        let (mut report, options) = boot::assess(
            url.to_string(),
            &self.options,
            self.sources.as_ref(),
            &self.options.on_violation,
            facts,
        );
        report.credentials = credentials_text;
        Ok(Judged {
            target,
            manager,
            first,
            first_took,
            report,
            options,
        })
    }
}

pub(super) fn log_findings(report: &Report) {
    for note in &report.notes {
        tracing::info!(target = %report.target, "pool boot check: {note}");
    }
    for finding in &report.findings {
        tracing::warn!(
            code = %finding.code,
            key = finding.key,
            value = %finding.value,
            source = %finding.source,
            fact = finding.fact.as_deref().unwrap_or("-"),
            action = ?finding.action,
            target = %report.target,
            "pool boot check: {} Fix: {}",
            finding.why,
            finding.fix
        );
    }
}

impl<T: PoolConfig> Loaded<T> {
    /// Opens the pool, checked at boot; the boot report names the file,
    /// key or environment variable behind each value it judges.
    pub async fn connect(&self) -> Result<Pool, BootError> {
        self.builder().connect().await
    }

    /// Judges the config against its server without keeping a pool, for a
    /// service's own `--check-config` flag: see [`PoolBuilder::check`].
    ///
    /// ```no_run
    /// use pool_runtime::PoolConfig;
    ///
    /// #[derive(PoolConfig)]
    /// #[pool(env_prefix = "APP_DB")]
    /// struct DbConfig {
    ///     url: String,
    /// }
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let report = DbConfig::load()?.check().await?;
    /// println!("{report}");
    /// std::process::exit(if report.is_rejected() { 1 } else { 0 });
    /// # }
    /// ```
    pub async fn check(&self) -> Result<Report, BootError> {
        self.builder().check().await
    }

    /// A builder with these options and their sources, to set more in code
    /// (e.g. [`PoolBuilder::on_violation`]) before connecting.
    pub fn builder(&self) -> PoolBuilder {
        Pool::builder(self.options()).sources(self.sources().clone())
    }
}
