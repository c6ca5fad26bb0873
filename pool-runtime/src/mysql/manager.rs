//! The MySQL connection manager: how pool connections are opened, checked
//! and cleaned.

use std::fmt;

use mysql_async::consts::StatusFlags;
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::credentials::{self, CredentialCache, Issued};
use crate::boot::{self, ServerFacts};
use crate::options::SslMode;
use crate::options::{PoolOptions, ResetPolicy};
use crate::pool::Manager;
use crate::tls::{self, TlsConfigError, TlsConnectError, TlsFailure, TlsPlan};
use crate::url::DatabaseUrl;

/// Opens `mysql_async` connections the way the pool wants them.
pub struct MySqlManager {
    /// Plaintext options.
    opts: Opts,
    /// The same with TLS, when the plan tries TLS.
    tls_opts: Option<Opts>,
    plan: TlsPlan,
    /// `preferred` found the server without TLS: later connects go
    /// plaintext at once (the first TLS attempt costs a connect).
    tls_absent: AtomicBool,
    /// Settings that cannot work (from [`MySqlManager::new`]): every connect
    /// fails with them.
    invalid: Option<TlsConfigError>,
    target: String,
    url: DatabaseUrl,
    reset_policy: ResetPolicy,
    watch: Option<Watch>,
    /// Where the user and password of each connect come from; `None`: the
    /// URL's.
    credentials: Option<Arc<CredentialCache>>,
}

/// What a manager needs to re-judge the server after it was unreachable.
struct Watch {
    /// Replaced by a live reconfigure.
    options: std::sync::Mutex<PoolOptions>,
    target: String,
    /// Set when a connect or a ping failed: the next successful connect
    /// reads the server's limits again (a restart may have changed them).
    suspect: AtomicBool,
}

impl MySqlManager {
    /// A manager for `url` with the pool's connection settings: `init_sql`
    /// (re-run after a reset, too) and TCP keepalive.
    ///
    /// TLS follows `ssl_mode` and its companions; settings that cannot work
    /// are [`TlsConfigError`] (see [`MySqlManager::try_new`]). `new` falls
    /// back to refusing every connect with that error then, rather than
    /// going out unencrypted.
    pub fn new(url: &DatabaseUrl, options: &PoolOptions) -> Self {
        match Self::try_new(url, options, None) {
            Ok(manager) => manager,
            Err(e) => {
                tracing::error!(error = %e, "TLS settings cannot work; connects will fail");
                let plan = TlsPlan {
                    mode: SslMode::VerifyIdentity,
                    ca: None,
                    identity: None,
                    server_name: None,
                    host: url.opts().ip_or_hostname().to_owned(),
                };
                let mut manager = Self::with_plan(url, options, plan);
                manager.invalid = Some(e);
                manager
            }
        }
    }

    /// A manager for `url`, with the TLS settings checked first (`sources`
    /// names where their values came from, for the error).
    pub fn try_new(
        url: &DatabaseUrl,
        options: &PoolOptions,
        sources: Option<&crate::source::Sources>,
    ) -> Result<Self, TlsConfigError> {
        let plan = TlsPlan::resolve(options, url, sources)?;
        Ok(Self::with_plan(url, options, plan))
    }

    fn with_plan(url: &DatabaseUrl, options: &PoolOptions, plan: TlsPlan) -> Self {
        // mysql_async runs setup statements last-first: reverse to keep order.
        let setup: Vec<String> = options.init_sql.iter().rev().cloned().collect();
        let mut opts = OptsBuilder::from_opts(url.opts())
            .setup(setup)
            .tcp_keepalive(options.tcp_keepalive);
        if options.allow_cleartext_password {
            // Only reached with verified TLS: the builder refuses it otherwise.
            opts = opts.enable_cleartext_plugin(true);
        }
        #[cfg(feature = "tls")]
        let tls_opts = plan
            .ssl_opts()
            .map(|ssl| Opts::from(opts.clone().ssl_opts(Some(ssl))));
        #[cfg(not(feature = "tls"))]
        let tls_opts = None;
        // Without the builder (which checks where the password comes
        // from), `password_file` still applies.
        let credentials = options.password_file.as_ref().map(|path| {
            let file = credentials::file::PasswordFile {
                path: path.clone(),
                origin: crate::source::Source::Code,
                user: url.opts().user().unwrap_or("").to_owned(),
            };
            Arc::new(CredentialCache::new(
                credentials::Provider::File(file),
                options.connect_timeout,
            ))
        });
        MySqlManager {
            opts: opts.into(),
            tls_opts,
            plan,
            tls_absent: AtomicBool::new(false),
            invalid: None,
            target: boot::error::target(url),
            url: url.clone(),
            reset_policy: options.reset_on_return,
            watch: None,
            credentials,
        }
    }

    /// Takes user and password from `cache` at every connect instead.
    pub(crate) fn with_credentials(mut self, cache: Option<Arc<CredentialCache>>) -> Self {
        self.credentials = cache;
        self
    }

    /// The credentials cache, when the password does not come from the URL.
    pub(crate) fn credentials(&self) -> Option<&Arc<CredentialCache>> {
        self.credentials.as_ref()
    }

    /// Re-checks the server's limits against `options` on the first
    /// connect after a failed connect or ping, logging what no longer fits.
    pub(crate) fn watching(mut self, options: PoolOptions, target: String) -> Self {
        self.watch = Some(Watch {
            options: std::sync::Mutex::new(options),
            target,
            suspect: AtomicBool::new(false),
        });
        self
    }

    /// The options later re-checks judge against (after a reconfigure).
    pub(crate) fn rewatch(&self, options: PoolOptions) {
        if let Some(watch) = &self.watch {
            *watch
                .options
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = options;
        }
    }

    /// A connection opened as pool connections are, outside any pool.
    pub(crate) async fn connect_raw(&self) -> Result<Conn, mysql_async::Error> {
        match &self.credentials {
            None => self.connect_as(None).await,
            Some(cache) => credentials::connect::with_cache(self, cache).await,
        }
    }

    /// Opens a connection, logging in with `login` instead of the URL's
    /// user and password when given.
    pub(crate) async fn connect_as(
        &self,
        login: Option<&Issued>,
    ) -> Result<Conn, mysql_async::Error> {
        if let Some(invalid) = &self.invalid {
            return Err(mysql_async::Error::Other(Box::new(invalid.clone())));
        }
        let with_login = |opts: &Opts| match login {
            None => opts.clone(),
            Some(issued) => {
                let c = &issued.credentials;
                OptsBuilder::from_opts(opts.clone())
                    .user(Some(c.user.as_str()))
                    .pass(Some(c.password.expose()))
                    .into()
            }
        };
        let preferred = self.plan.mode == SslMode::Preferred;
        if let Some(tls_opts) = &self.tls_opts {
            if !(preferred && self.tls_absent.load(Ordering::Relaxed)) {
                match Conn::new(with_login(tls_opts)).await {
                    Ok(conn) => return Ok(conn),
                    Err(e) => match tls::classify(&e) {
                        // `preferred` only: never a downgrade of `required`.
                        Some(TlsFailure::NotOffered) if preferred => {
                            tracing::debug!(target = %self.target, "the server offers no TLS: ssl_mode = preferred goes plaintext");
                            self.tls_absent.store(true, Ordering::Relaxed);
                        }
                        Some(failure) => {
                            return Err(mysql_async::Error::Other(Box::new(TlsConnectError::new(
                                failure,
                                &self.plan.checked(),
                                self.target.clone(),
                                e,
                            ))));
                        }
                        None => return Err(e),
                    },
                }
            }
        }
        Conn::new(with_login(&self.opts)).await
    }

    /// `user@host:port/db` of the URL.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    /// After `ssl_mode = disabled` was refused as access denied (MariaDB's
    /// answer to plaintext under `require_secure_transport = ON`): whether
    /// the server requires secure transport, asked over an unverified TLS
    /// connection with the same credentials. Boot-time diagnosis only.
    pub(crate) async fn requires_secure_transport(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            let ssl = mysql_async::SslOpts::default()
                .with_danger_accept_invalid_certs(true)
                .with_danger_skip_domain_validation(true);
            let opts = OptsBuilder::from_opts(self.opts.clone()).ssl_opts(Some(ssl));
            let Ok(mut conn) = Conn::new(opts).await else {
                return false;
            };
            let on: Result<Option<String>, _> = conn
                .query_first("SELECT @@global.require_secure_transport")
                .await;
            let _ = conn.disconnect().await;
            matches!(on.ok().flatten().as_deref(), Some("1" | "ON"))
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    /// Whether connects go out with TLS (not `disabled`, and `preferred`
    /// has not found the server without it).
    pub(crate) fn tls_in_use(&self) -> bool {
        self.tls_opts.is_some()
            && !(self.plan.mode == SslMode::Preferred && self.tls_absent.load(Ordering::Relaxed))
    }

    /// The TLS mode in force (`preferred` with a CA is `verify_identity`).
    pub fn ssl_mode(&self) -> SslMode {
        self.plan.mode
    }

    fn suspect(&self) {
        if let Some(watch) = &self.watch {
            watch.suspect.store(true, Ordering::Relaxed);
        }
    }

    async fn recheck(&self, conn: &mut Conn) {
        let Some(watch) = &self.watch else { return };
        if !watch.suspect.swap(false, Ordering::Relaxed) {
            return;
        }
        match ServerFacts::read(conn).await {
            Ok(facts) => {
                let options = watch
                    .options
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                boot::recheck(&watch.target, &options, &facts);
            }
            Err(e) => tracing::debug!(error = %e, "re-reading the server's limits failed"),
        }
    }

    /// The driver options every pool connection is opened with.
    pub fn opts(&self) -> &Opts {
        &self.opts
    }

    /// Where it connects, password redacted.
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
}

/// Whether a connection may carry state into the next checkout that the
/// next user did not ask for. The server reports its transaction state in
/// every OK packet (also the ones ending result sets); after an error there
/// is none, so the state is unknown and treated as dirty.
fn is_dirty(conn: &Conn) -> bool {
    match conn.last_ok_packet() {
        Some(ok) => {
            let flags = ok.status_flags();
            flags.contains(StatusFlags::SERVER_STATUS_IN_TRANS)
                || !flags.contains(StatusFlags::SERVER_STATUS_AUTOCOMMIT)
        }
        None => true,
    }
}

impl Manager for MySqlManager {
    type Connection = Conn;
    type Error = mysql_async::Error;

    async fn connect(&self) -> Result<Conn, mysql_async::Error> {
        match self.connect_raw().await {
            Ok(mut conn) => {
                self.recheck(&mut conn).await;
                Ok(conn)
            }
            Err(e) => {
                self.suspect();
                Err(e)
            }
        }
    }

    async fn validate(&self, conn: &mut Conn) -> Result<(), mysql_async::Error> {
        let outcome = conn.ping().await;
        if outcome.is_err() {
            self.suspect();
        }
        outcome
    }

    fn is_broken(&self, conn: &Conn) -> bool {
        // Set by the driver on fatal errors, and left set when an operation
        // was cancelled half-way: either way the protocol state is unknown.
        conn.is_disconnected()
    }

    fn peer_closed(&self, error: &mysql_async::Error) -> bool {
        super::exec::proves_peer_closed(error)
    }

    fn session_id(&self, conn: &Conn) -> Option<u64> {
        Some(u64::from(conn.id()))
    }

    fn needs_reset(&self, conn: &Conn) -> bool {
        is_dirty(conn)
    }

    async fn reset(&self, conn: &mut Conn) -> Result<(), mysql_async::Error> {
        if self.reset_policy == ResetPolicy::Always && conn.reset().await? {
            return Ok(());
        }
        // Targeted cleaning, one round trip: end any transaction and put
        // autocommit back, keeping the rest of the session.
        conn.query_drop("ROLLBACK").await?;
        if is_dirty(conn) {
            conn.query_drop("SET autocommit = 1").await?;
        }
        Ok(())
    }

    async fn close(&self, conn: Conn) {
        // COM_QUIT: the server frees the session at once instead of waiting
        // for a timeout. Failure means it is gone already.
        let _ = conn.disconnect().await;
    }
}

impl fmt::Debug for MySqlManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlManager")
            .field("url", &self.url)
            .field("reset_policy", &self.reset_policy)
            .field("ssl_mode", &self.plan.mode)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|c| c.provider().describe()),
            )
            .finish()
    }
}
