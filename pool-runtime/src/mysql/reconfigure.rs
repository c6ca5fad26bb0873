//! `Pool::reconfigure`: Go's `Set*` at run time, checked first.
//!
//! New options are judged before anything changes, exactly as boot judges
//! them: on a pool connection (same init SQL), the server's limits are read
//! afresh and the boot rules run under the pool's boot policy
//! (`on_violation`). A change boot would refuse is refused with the same
//! [`Report`], and the pool is left as it was; a finding the policy fixes
//! is fixed, as at boot. Only then do the new limits go to the core
//! ([`GenericPool::reconfigure`](crate::pool::GenericPool::reconfigure)):
//! shrinking closes the idle surplus at once and the in-use surplus as it
//! comes back, growing lets waiters in at once.
//!
//! Settings that are baked into connections or into the pool's shape when
//! it opens (the URL, TLS, `init_sql`, the reset policy, ...) cannot change
//! live: a reconfigure that differs in any of them is refused, naming each.
//! Every change and every refusal is a `tracing` event.

use std::fmt;
use std::time::Duration;

use pool_settings::SETTINGS;

use super::handle::{AcquireError, Pool};
use crate::boot::{self, FactsError, Report, ServerFacts};
use crate::config::{Loaded, PoolConfig};
use crate::options::{PoolOptions, SslMode};
use crate::pool::{Limits, LimitsError};
use crate::source::{Source, Sources};

/// The settings a running pool can change. The others are fixed when it
/// opens: they shape every connection (URL, TLS, `init_sql`,
/// `tcp_keepalive`), the pool's machinery (`maintenance_interval`,
/// `reset_on_return`), the handles already given out (`statement_timeout`,
/// `retry_reads`) or the judgement itself (`on_violation`).
pub const LIVE_SETTINGS: &[&str] = &[
    "max_open",
    "max_idle",
    "min_idle",
    "max_lifetime",
    "max_idle_time",
    "acquire_timeout",
    "connect_timeout",
    "validation_timeout",
    "validate_after_idle",
    "validate_suspects",
    "keepalive_interval",
    "leak_threshold",
    "instances",
    "warm_up",
];

/// One setting a reconfigure changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettingChange {
    /// The setting's key.
    pub key: &'static str,
    /// Its value before, as configs write it.
    pub old: String,
    /// Its value now.
    pub new: String,
    /// Where the new value came from: the file and key or the environment
    /// variable for [`Pool::reconfigure_from`], code for
    /// [`Pool::reconfigure`].
    pub source: Source,
}

impl fmt::Display for SettingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} -> {} ({})",
            self.key, self.old, self.new, self.source
        )
    }
}

/// What a reconfigure did: the settings it changed, and the boot checks'
/// report on the new values (with warnings and fixes, if any).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Reconfigured {
    /// The settings that changed, in the settings table's order; empty when
    /// the new options were the current ones.
    pub changes: Vec<SettingChange>,
    /// The boot checks on the new values against the live server; `None`
    /// when nothing changed (nothing was judged).
    pub report: Option<Report>,
}

impl fmt::Display for Reconfigured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return f.write_str("no setting changed");
        }
        let changes: Vec<String> = self.changes.iter().map(SettingChange::to_string).collect();
        write!(f, "changed {}", changes.join(", "))
    }
}

/// Why a reconfigure was refused. The pool is left exactly as it was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconfigureError {
    /// Settings that cannot change on a running pool differ from the
    /// current ones.
    #[error(
        "{} cannot change on a running pool (fixed when it opens): keep the current value, \
         or restart the service (a new pool) to change it",
        keys.join(", ")
    )]
    NotLive {
        /// Each such key.
        keys: Vec<&'static str>,
    },

    /// The boot checks refuse the new values against the live server
    /// under the pool's policy: the same report boot would give.
    #[error("the new settings do not fit the server: {0}")]
    Rejected(Box<Report>),

    /// No connection to read the server's limits on, within
    /// `acquire_timeout`.
    #[error("cannot judge the new settings: no connection to the server")]
    NoConnection(#[source] AcquireError),

    /// The server's limits could not be read.
    #[error("cannot judge the new settings: the server's limits could not be read")]
    FactsUnreadable(#[source] FactsError),

    /// Reading the server's limits took longer than `connect_timeout`.
    #[error("cannot judge the new settings: reading the server's limits took longer than {0:?}")]
    TimedOut(Duration),

    /// The pool is closed.
    #[error("the pool is closed: there is nothing to reconfigure")]
    Closed,
}

impl ReconfigureError {
    /// The report, when the boot checks refused the change.
    pub fn report(&self) -> Option<&Report> {
        match self {
            ReconfigureError::Rejected(report) => Some(report),
            _ => None,
        }
    }
}

impl Pool {
    /// Applies new options to the running pool, after judging them against
    /// the live server with the boot rules and the pool's boot policy.
    ///
    /// What can change: [`LIVE_SETTINGS`] (`max_open`, `max_idle`,
    /// `min_idle`, `max_lifetime`, `max_idle_time`, `acquire_timeout`,
    /// `connect_timeout`, `validation_timeout`, `validate_after_idle`,
    /// `keepalive_interval`, `leak_threshold`, `instances`, `warm_up`). Any
    /// other setting that differs is [`ReconfigureError::NotLive`], naming
    /// each. A change boot would refuse is [`ReconfigureError::Rejected`]
    /// with the report. Either way nothing changes.
    ///
    /// Shrinking closes idle surplus at once and in-use surplus as it is
    /// returned (never a connection from its user); growing lets waiters in
    /// at once. The server's limits are read on a pool connection, acquired
    /// as any (within `acquire_timeout`), so the judgement never opens a
    /// session beyond `max_open`.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut bigger = (*pool.options()).clone();
    /// bigger.max_open = 40;
    /// bigger.max_idle = 40;
    /// let done = pool.reconfigure(bigger).await?;
    /// println!("{done}"); // changed max_open: 10 -> 40 (code), max_idle: ...
    /// # Ok(()) }
    /// ```
    pub async fn reconfigure(&self, new: PoolOptions) -> Result<Reconfigured, ReconfigureError> {
        self.reconfigure_with(new, None).await
    }

    /// [`reconfigure`](Self::reconfigure) with a config loaded again (the
    /// same layers: defaults < file < environment, as
    /// [`PoolConfig::load`]): the changes and the report name the file,
    /// key or variable of each new value. For a service's config reload
    /// (SIGHUP).
    ///
    /// ```no_run
    /// use pool_runtime::PoolConfig;
    ///
    /// #[derive(PoolConfig)]
    /// #[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
    /// struct DbConfig {
    ///     url: String,
    ///     max_open: u32,
    /// }
    ///
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), Box<dyn std::error::Error>> {
    /// let loaded = DbConfig::load()?;
    /// match pool.reconfigure_from(&loaded).await {
    ///     Ok(done) => println!("config reloaded: {done}"),
    ///     Err(refused) => eprintln!("config reload refused, pool unchanged: {refused}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn reconfigure_from<C: PoolConfig>(
        &self,
        loaded: &Loaded<C>,
    ) -> Result<Reconfigured, ReconfigureError> {
        self.reconfigure_with(loaded.options(), Some(loaded.sources()))
            .await
    }

    async fn reconfigure_with(
        &self,
        new: PoolOptions,
        sources: Option<&Sources>,
    ) -> Result<Reconfigured, ReconfigureError> {
        let _one_at_a_time = self.reconfigure_lock().lock().await;
        if self.is_closed() {
            return Err(refused(self, ReconfigureError::Closed));
        }
        let current = self.options();
        let differing: Vec<&'static str> = SETTINGS
            .iter()
            .map(|s| s.key)
            .filter(|key| current.value(key) != new.value(key))
            .collect();
        let fixed: Vec<&'static str> = differing
            .iter()
            .copied()
            .filter(|key| !LIVE_SETTINGS.contains(key))
            .collect();
        if !fixed.is_empty() {
            return Err(refused(self, ReconfigureError::NotLive { keys: fixed }));
        }
        if differing.is_empty() {
            return Ok(Reconfigured {
                changes: Vec::new(),
                report: None,
            });
        }
        let facts = match self.fresh_facts().await {
            Ok(facts) => facts,
            Err(e) => return Err(refused(self, e)),
        };
        let sources = sources.or(self.sources());
        let url = current.url.as_ref().map(ToString::to_string);
        let (report, judged) = boot::assess(
            url.unwrap_or_default(),
            &new,
            sources,
            &current.on_violation,
            facts,
        );
        if report.is_rejected() {
            for finding in report
                .findings
                .iter()
                .filter(|f| f.action == boot::Action::Denied)
            {
                tracing::warn!(
                    pool = %self.name(),
                    code = %finding.code,
                    key = finding.key,
                    value = %finding.value,
                    source = %finding.source,
                    fact = finding.fact.as_deref().unwrap_or("-"),
                    "reconfigure refused: {} Fix: {}",
                    finding.why,
                    finding.fix
                );
            }
            return Err(ReconfigureError::Rejected(Box::new(report)));
        }
        super::builder::log_findings(&report);
        match self.core().reconfigure(Limits::from(&judged)).await {
            Ok(_) => {}
            Err(LimitsError::Closed) => return Err(refused(self, ReconfigureError::Closed)),
            // The core's fixed limits come from settings that are not live
            // (checked above), so this is not reached; if it ever is, it is
            // still a refusal naming the limit.
            Err(LimitsError::NotLive { field }) => {
                let keys = vec![field];
                return Err(refused(self, ReconfigureError::NotLive { keys }));
            }
        }
        self.core().manager().rewatch(judged.clone());
        let changes: Vec<SettingChange> = SETTINGS
            .iter()
            .map(|s| s.key)
            .filter_map(|key| {
                let (old, now) = (current.value(key)?, judged.value(key)?);
                (old != now).then(|| SettingChange {
                    key,
                    old: old.to_string(),
                    new: now.to_string(),
                    source: sources.map_or(Source::Code, |s| s.of(key)),
                })
            })
            .collect();
        self.set_options(judged);
        for change in &changes {
            tracing::info!(
                pool = %self.name(),
                key = change.key,
                old = %change.old,
                new = %change.new,
                source = %change.source,
                "pool reconfigured"
            );
        }
        Ok(Reconfigured {
            changes,
            report: Some(report),
        })
    }

    /// The server's limits now, read on a pool connection as boot reads
    /// them; the pool's own other sessions are not counted as other
    /// clients'.
    async fn fresh_facts(&self) -> Result<ServerFacts, ReconfigureError> {
        let mut conn = self.get().await.map_err(ReconfigureError::NoConnection)?;
        let manager = self.core().manager();
        let plaintext = manager.ssl_mode() == SslMode::Disabled;
        let loopback = crate::tls::is_loopback(manager.url().opts().ip_or_hostname());
        let tls_settings = plaintext || !loopback || manager.tls_in_use();
        let limit = self.options().connect_timeout;
        let read = ServerFacts::read_with(&mut conn, tls_settings, self.options().role);
        let mut facts = match tokio::time::timeout(limit, read).await {
            Ok(Ok(facts)) => facts,
            Ok(Err(e)) => {
                conn.discard();
                return Err(ReconfigureError::FactsUnreadable(e));
            }
            Err(_) => {
                conn.discard();
                return Err(ReconfigureError::TimedOut(limit));
            }
        };
        drop(conn);
        facts.tls.loopback = loopback;
        let own_others = self.stats().open.saturating_sub(1);
        facts.threads_connected = facts.threads_connected.saturating_sub(own_others);
        facts.account_connections = facts.account_connections.saturating_sub(own_others);
        Ok(facts)
    }
}

/// Logs a refusal and hands it back.
fn refused(pool: &Pool, error: ReconfigureError) -> ReconfigureError {
    tracing::warn!(pool = %pool.name(), error = %error, "reconfigure refused; the pool is unchanged");
    error
}
