//! [`TestServer`]: the handle a test holds on a throwaway MariaDB server, or
//! on the shared one named by `POOL_TEST_URL`.
//!
//! The handle is what tests call: URLs, globals, connection kills, stop and
//! restart. Running the server is the [`Supervisor`]'s job (in its own
//! modules: finding the programs, the data directory, the process, and how a
//! dropped server goes away without blocking the runtime), so the handle
//! reads as the kit's public promise and nothing else.

mod accounts;
mod admin;
mod data_dir;
mod process;
mod programs;
mod supervisor;
mod teardown;
mod template;
mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use self::supervisor::{ServerConfig, Supervisor};
pub use self::template::DataTemplate;
use self::template::TemplateChoice;
pub use self::tls::TestTls;
use super::TestkitError;

/// The variable that points the kit at an existing server instead.
const SHARED_URL_VAR: &str = "POOL_TEST_URL";
/// How long the host of `POOL_TEST_URL` may take to resolve.
const RESOLVE_DEADLINE: Duration = Duration::from_secs(10);

/// A MariaDB server for one test: private data directory, free loopback port,
/// root without a password, database `test`.
///
/// Dropping it kills the process at once; reaping it and removing its
/// directory happen on the runtime's blocking pool, so dropping never blocks
/// an async runtime's thread, and are done by the time that runtime is
/// dropped (the end of a `#[tokio::test]` or `#[tokio::main]`), also when the
/// test panics. Outside a runtime, dropping does all of it before returning.
/// Several may run at once. Each starts in well under a second on an idle
/// machine once the kit's data directory template exists (a copy plus the
/// server's start; the first start installs the template with
/// `mariadb-install-db`, see [`TestServerBuilder::template_cache`]).
///
/// Tests that change globals, kill connections or restart the server must use
/// [`TestServer::start`]; [`TestServer::shared_or_start`] may hand out a
/// shared server, on which those operations are refused.
///
/// ```no_run
/// # async fn demo() -> Result<(), pool_runtime::testkit::TestkitError> {
/// use pool_runtime::testkit::TestServer;
///
/// let mut server = TestServer::start().await?;
/// server.set_global("wait_timeout", 2).await?;
/// server.stop().await?;
/// server.start_again().await?; // same data, same port
/// # Ok(()) }
/// ```
pub struct TestServer {
    kind: Kind,
}

enum Kind {
    /// Boxed: a supervisor is many times the size of the other variant.
    Owned(Box<Owned>),
    /// From `POOL_TEST_URL`; its URL may carry a password and is never printed.
    External { url: String, addr: SocketAddr },
}

struct Owned {
    server: Supervisor,
    url: String,
    started_in: Duration,
}

/// How to start a [`TestServer`] that is not the plain default: with TLS,
/// with `require_secure_transport=ON`. From [`TestServer::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), pool_runtime::testkit::TestkitError> {
/// use std::time::Duration;
/// use pool_runtime::testkit::TestServer;
///
/// let server = TestServer::builder()
///     .tls()
///     .require_secure_transport()
///     .tls_valid_for(Duration::from_secs(3 * 86400))
///     .start()
///     .await?;
/// let tls = server.tls().expect("started with TLS");
/// println!("trust {} to verify {}", tls.ca_path().display(), tls.server_name());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `start()` is awaited"]
pub struct TestServerBuilder {
    tls: bool,
    valid_for: Option<Duration>,
    require_secure_transport: bool,
    server_id: Option<u32>,
    innodb_read_only: bool,
    template: TemplateChoice,
}

impl TestServerBuilder {
    /// Starts the server with TLS: a CA, a server certificate it signed (for
    /// `localhost` and `127.0.0.1`), a client identity and an unrelated CA,
    /// made at start in the server's directory ([`TestServer::tls`] has
    /// their paths). The server gets `ssl_ca`, `ssl_cert` and `ssl_key`, so
    /// `have_ssl` is `YES`; plaintext logins are still accepted unless
    /// [`require_secure_transport`](Self::require_secure_transport).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Starts the server with `require_secure_transport=ON`: TCP logins
    /// without TLS are refused (the kit's own sessions use the Unix socket,
    /// which the server counts as secure, and keep working). Implies
    /// [`tls`](Self::tls). MariaDB 10.11 refuses such a login as a failed
    /// login, error 1045 (`Access denied for user …`), with no error code of
    /// its own for the transport.
    pub fn require_secure_transport(mut self) -> Self {
        self.tls = true;
        self.require_secure_transport = true;
        self
    }

    /// The server certificate expires `valid_for` from the start (one year
    /// by default), e.g. days, for "expires soon" tests. Implies
    /// [`tls`](Self::tls). `Duration::ZERO` makes a certificate that has
    /// expired a second after the start (the server still starts with it and
    /// presents it), for "expired" tests. A lifetime past the year 9999 fails
    /// the start with [`TestkitError::TlsMaterial`].
    pub fn tls_valid_for(mut self, valid_for: Duration) -> Self {
        self.tls = true;
        self.valid_for = Some(valid_for);
        self
    }

    /// Starts the server ready for replication, as `server_id` (which must
    /// be unique among the servers that replicate with each other, and not
    /// 0): binary log on (row format, with the GTIDs of what it applies as a
    /// replica, `log_slave_updates`), so it can be a primary or a replica and
    /// change roles. Replication itself is set up by
    /// [`TestCluster`](crate::testkit::TestCluster), or by the test.
    ///
    /// The kit's own start-up statements are kept out of the binary log, so
    /// a fresh server's GTID position is empty.
    pub fn replication(mut self, server_id: u32) -> Self {
        self.server_id = Some(server_id);
        self
    }

    /// Starts the server with `innodb_read_only=ON` (a startup-only
    /// setting): InnoDB refuses every write, from every account, root
    /// included, as on an Aurora MySQL reader. The kit's start-up
    /// statements touch no InnoDB table, so it starts as usual.
    pub fn innodb_read_only(mut self) -> Self {
        self.innodb_read_only = true;
        self
    }

    /// Copies the data directory from a template kept in `dir` (created if
    /// missing), instead of the default cache
    /// `$TMPDIR/pool-testkit-templates-<uid>`.
    ///
    /// By default a server's data directory is a copy of a template that
    /// `mariadb-install-db` filled once for this server binary, version and
    /// install options: a start costs a copy of some megabytes instead of an
    /// install (one to four seconds under load). Concurrent starts, also in
    /// several processes, share it safely; an incomplete template (no
    /// `TEMPLATE-COMPLETE` marker) is ignored and rebuilt. Setting
    /// `POOL_TESTKIT_NO_TEMPLATE=1` turns templates off for every server,
    /// as [`fresh_install`](Self::fresh_install) does for one.
    /// [`TestServer::template`] tells which template a server used.
    pub fn template_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.template = TemplateChoice::Cache(dir.into());
        self
    }

    /// Runs `mariadb-install-db` for this server alone instead of copying a
    /// template (see [`template_cache`](Self::template_cache)).
    pub fn fresh_install(mut self) -> Self {
        self.template = TemplateChoice::FreshInstall;
        self
    }

    /// Starts the server as configured and waits until it accepts
    /// connections; see [`TestServer::start`].
    pub async fn start(self) -> Result<TestServer, TestkitError> {
        let config = ServerConfig {
            tls_valid_for: self
                .tls
                .then(|| self.valid_for.unwrap_or(tls::DEFAULT_VALID_FOR)),
            require_secure_transport: self.require_secure_transport,
            server_id: self.server_id,
            innodb_read_only: self.innodb_read_only,
            template: self.template.clone(),
        };
        let begun = Instant::now();
        let server = Supervisor::start(&config).await?;
        let port = server.port();
        let owned = Owned {
            url: admin::test_url(port),
            started_in: begun.elapsed(),
            server,
        };
        tracing::info!(
            port,
            tls = self.tls,
            require_secure_transport = self.require_secure_transport,
            server_id = self.server_id,
            template = owned.server.template().is_some(),
            millis = owned.started_in.as_millis(),
            "test server started"
        );
        Ok(TestServer {
            kind: Kind::Owned(Box::new(owned)),
        })
    }
}

impl TestServer {
    /// Starts a fresh server and waits until it accepts connections.
    ///
    /// Fails with [`TestkitError::NoServerBinary`] (naming the install
    /// command) when no `mariadbd`/`mysqld` is on `PATH` or in `/usr/sbin`.
    /// Needs a Tokio runtime with I/O and time enabled (as `#[tokio::test]`
    /// runtimes have). The same as `TestServer::builder().start()`.
    pub async fn start() -> Result<TestServer, TestkitError> {
        Self::builder().start().await
    }

    /// A builder for a server with TLS or `require_secure_transport`.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// The TLS files of a server started with
    /// [`TestServerBuilder::tls`]; `None` otherwise (and for the shared
    /// server).
    pub fn tls(&self) -> Option<&TestTls> {
        match &self.kind {
            Kind::Owned(o) => o.server.tls(),
            Kind::External { .. } => None,
        }
    }

    /// Uses the server named by `POOL_TEST_URL` when it is set, else starts
    /// one. The shared server is never changed: [`set_global`](Self::set_global),
    /// [`kill_all_client_connections`](Self::kill_all_client_connections),
    /// [`stop`](Self::stop) and [`start_again`](Self::start_again) refuse it.
    pub async fn shared_or_start() -> Result<TestServer, TestkitError> {
        match std::env::var(SHARED_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::external(url).await,
            _ => Self::start().await,
        }
    }

    async fn external(url: String) -> Result<TestServer, TestkitError> {
        let bad = |reason: String| TestkitError::BadUrl {
            what: SHARED_URL_VAR,
            reason,
        };
        Opts::from_url(&url).map_err(|e| bad(e.to_string()))?;
        let parsed = url::Url::parse(&url).map_err(|e| bad(e.to_string()))?;
        let port = parsed.port().unwrap_or(3306);
        let addr = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => SocketAddr::from((ip, port)),
            Some(url::Host::Ipv6(ip)) => SocketAddr::from((ip, port)),
            Some(url::Host::Domain(host)) => resolve(host, port).await.map_err(bad)?,
            None => return Err(bad("it names no host".into())),
        };
        Ok(TestServer {
            kind: Kind::External { url, addr },
        })
    }

    /// The server's URL, e.g.
    /// `mysql://root@127.0.0.1:40123/test?prefer_socket=false`.
    ///
    /// TCP only, like production traffic: by default mysql_async moves a
    /// loopback TCP connection to the server's Unix socket, and for a moment
    /// holds two sessions for it, which skews connection counts.
    pub fn url(&self) -> &str {
        match &self.kind {
            Kind::Owned(o) => &o.url,
            Kind::External { url, .. } => url,
        }
    }

    /// The server's TCP address.
    pub fn addr(&self) -> SocketAddr {
        match &self.kind {
            Kind::Owned(o) => SocketAddr::from(([127, 0, 0, 1], o.server.port())),
            Kind::External { addr, .. } => *addr,
        }
    }

    /// This server's URL aimed at `addr` (a [`FaultProxy`](super::FaultProxy),
    /// say) over TCP only: `prefer_socket=false`, so the driver cannot bypass
    /// the address through the Unix socket.
    pub fn url_at(&self, addr: SocketAddr) -> Result<String, TestkitError> {
        let bad = |reason: String| TestkitError::BadUrl {
            what: "the test server URL",
            reason,
        };
        let mut url = url::Url::parse(self.url()).map_err(|e| bad(e.to_string()))?;
        url.set_ip_host(addr.ip())
            .map_err(|()| bad("its host cannot be replaced".into()))?;
        url.set_port(Some(addr.port()))
            .map_err(|()| bad("its port cannot be replaced".into()))?;
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "prefer_socket")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("prefer_socket", "false");
        Ok(url.into())
    }

    /// The TCP port (the port of [`addr`](Self::addr)).
    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    /// The `server_id` given to [`TestServerBuilder::replication`]; `None`
    /// for a server started without binary log (and for the shared one).
    pub fn server_id(&self) -> Option<u32> {
        match &self.kind {
            Kind::Owned(o) => o.server.server_id(),
            Kind::External { .. } => None,
        }
    }

    /// The template this server's data directory was copied from; `None`
    /// when it was installed afresh ([`TestServerBuilder::fresh_install`],
    /// `POOL_TESTKIT_NO_TEMPLATE`, or a template that could not be used) and
    /// for the shared server.
    pub fn template(&self) -> Option<&DataTemplate> {
        match &self.kind {
            Kind::Owned(o) => o.server.template(),
            Kind::External { .. } => None,
        }
    }

    /// Whether the kit started this server (and so may change or stop it).
    pub fn is_owned(&self) -> bool {
        matches!(self.kind, Kind::Owned(_))
    }

    /// The server's process id while it runs (owned servers only).
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Owned(o) => o.server.pid(),
            Kind::External { .. } => None,
        }
    }

    /// The directory holding the data, socket and error log (owned servers only).
    pub fn dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Owned(o) => Some(o.server.dir()),
            Kind::External { .. } => None,
        }
    }

    /// How long [`start`](Self::start) took, from finding the binary to the
    /// first accepted connection (owned servers only).
    pub fn started_in(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Owned(o) => Some(o.started_in),
            Kind::External { .. } => None,
        }
    }

    /// A fresh connection straight to the server, for setup and inspection:
    /// as root to database `test`. On a server the kit owns it goes over the
    /// server's Unix socket, so it works with `require_secure_transport=ON`
    /// too; it counts in [`client_connections`](Self::client_connections).
    /// On the shared server it logs in as `POOL_TEST_URL` says.
    pub async fn conn(&self) -> Result<Conn, TestkitError> {
        self.not_stopped("conn")?;
        match &self.kind {
            Kind::Owned(o) => admin::connect_with(o.server.root_opts()).await,
            Kind::External { url, .. } => admin::connect(url).await,
        }
    }

    /// `SET GLOBAL name = value`. Sessions opened afterwards see the value;
    /// for `wait_timeout`, open sessions keep the one they started with.
    pub async fn set_global(
        &self,
        name: &str,
        value: impl Into<mysql_async::Value>,
    ) -> Result<(), TestkitError> {
        const ACTION: &str = "set_global";
        self.running(ACTION)?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TestkitError::BadVariableName { name: name.into() });
        }
        let statement = format!("SET GLOBAL {name} = ?");
        let mut conn = self.kit_conn(ACTION).await?;
        conn.exec_drop(statement.as_str(), (value.into(),))
            .await
            .map_err(|e| TestkitError::query(statement.clone(), e))?;
        admin::disconnect(conn).await;
        Ok(())
    }

    /// Kills every client connection but the kit's own, as the server does
    /// when `wait_timeout` expires. Returns how many were killed.
    pub async fn kill_all_client_connections(&self) -> Result<usize, TestkitError> {
        const ACTION: &str = "kill_all_client_connections";
        self.running(ACTION)?;
        let mut conn = self.kit_conn(ACTION).await?;
        let ids = admin::client_connection_ids(&mut conn).await?;
        let killed = admin::kill_sessions(&mut conn, ids).await;
        admin::disconnect(conn).await;
        killed
    }

    /// The number of client connections the server sees, not counting the
    /// kit's own (nor the server's threads). On the shared server the kit
    /// logs in as the URL says, so a session it closed just before may still
    /// be counted for a moment.
    pub async fn client_connections(&self) -> Result<usize, TestkitError> {
        const ACTION: &str = "client_connections";
        let mut conn = self.kit_conn(ACTION).await?;
        let ids = admin::client_connection_ids(&mut conn).await?;
        admin::disconnect(conn).await;
        Ok(ids.len())
    }

    /// Shuts the server down gracefully (`SHUTDOWN`), keeping its data
    /// directory and port for [`start_again`](Self::start_again). A server
    /// that does not exit within 30 seconds is killed.
    pub async fn stop(&mut self) -> Result<(), TestkitError> {
        self.supervisor("stop")?.stop().await
    }

    /// Starts a stopped server again on the same data directory and port.
    pub async fn start_again(&mut self) -> Result<(), TestkitError> {
        self.supervisor("start_again")?.start_again().await
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop().await?;
        self.start_again().await
    }

    /// A session for the kit's own statements: as the kit's user over the
    /// Unix socket on an owned server, as the URL says on the shared one.
    async fn kit_conn(&self, action: &'static str) -> Result<Conn, TestkitError> {
        self.not_stopped(action)?;
        match &self.kind {
            Kind::Owned(o) => admin::connect_with(o.server.kit_opts()).await,
            Kind::External { url, .. } => admin::connect(url).await,
        }
    }

    /// Refuses `action` on an owned server that is stopped.
    fn not_stopped(&self, action: &'static str) -> Result<(), TestkitError> {
        match &self.kind {
            Kind::Owned(o) if !o.server.is_running() => Err(TestkitError::Stopped { action }),
            _ => Ok(()),
        }
    }

    /// Refuses `action` unless this is an owned server that runs.
    fn running(&self, action: &'static str) -> Result<(), TestkitError> {
        match &self.kind {
            Kind::Owned(_) => self.not_stopped(action),
            Kind::External { .. } => Err(TestkitError::NotOwned { action }),
        }
    }

    /// The supervisor, refusing `action` on a server the kit does not own.
    fn supervisor(&mut self, action: &'static str) -> Result<&mut Supervisor, TestkitError> {
        match &mut self.kind {
            Kind::Owned(o) => Ok(&mut o.server),
            Kind::External { .. } => Err(TestkitError::NotOwned { action }),
        }
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Owned(o) => f
                .debug_struct("TestServer")
                .field("url", &o.url)
                .field("pid", &self.pid())
                .field("dir", &o.server.dir())
                .field("tls", &o.server.tls().is_some())
                .finish(),
            // The shared URL may carry a password: show the address only.
            Kind::External { addr, .. } => f
                .debug_struct("TestServer")
                .field("shared", addr)
                .finish_non_exhaustive(),
        }
    }
}

/// The first address `host` resolves to, without blocking the runtime.
async fn resolve(host: &str, port: u16) -> Result<SocketAddr, String> {
    match tokio::time::timeout(RESOLVE_DEADLINE, tokio::net::lookup_host((host, port))).await {
        Err(_) => Err(format!(
            "its host did not resolve within {RESOLVE_DEADLINE:?}"
        )),
        Ok(Err(e)) => Err(format!("its host does not resolve: {e}")),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .ok_or_else(|| "its host resolves to no address".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn external_addr(url: &str) -> Result<SocketAddr, TestkitError> {
        let server = TestServer::external(url.to_owned()).await?;
        assert!(!server.is_owned());
        Ok(server.addr())
    }

    #[tokio::test]
    async fn a_shared_url_is_resolved_without_a_server() {
        let v4 = external_addr("mysql://app:secret@127.0.0.1:3307/db").await;
        assert_eq!(v4.unwrap(), SocketAddr::from(([127, 0, 0, 1], 3307)));
        let v6 = external_addr("mysql://app@[::1]/db").await;
        assert_eq!(v6.unwrap(), "[::1]:3306".parse().unwrap());
        let name = external_addr("mysql://app@localhost:3308/db")
            .await
            .unwrap();
        assert!(name.ip().is_loopback() && name.port() == 3308, "{name}");
    }

    #[tokio::test]
    async fn a_bad_shared_url_is_described_without_its_text() {
        for url in ["not a url", "mysql://app:secret@no-such-host.invalid/db"] {
            let err = external_addr(url).await.unwrap_err();
            assert!(matches!(err, TestkitError::BadUrl { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains("POOL_TEST_URL"), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    /// The server from `POOL_TEST_URL` is shared: every operation that
    /// would change it is refused before anything is sent (the address
    /// here has no server at all), and the refusal says what to use.
    #[tokio::test]
    async fn a_shared_server_is_never_changed() {
        let mut server = TestServer::external("mysql://app:secret@127.0.0.1:9/db".into())
            .await
            .unwrap();
        let refused = [
            (
                "set_global",
                server.set_global("wait_timeout", 1).await.err(),
            ),
            (
                "kill_all_client_connections",
                server.kill_all_client_connections().await.err(),
            ),
            ("create_user", server.create_user("app", "pw").await.err()),
            ("set_password", server.set_password("app", "pw").await.err()),
            (
                "kill_user_connections",
                server.kill_user_connections("app").await.err(),
            ),
            ("stop", server.stop().await.err()),
            ("start_again", server.start_again().await.err()),
            ("restart", server.restart().await.err()),
        ];
        for (action, err) in refused {
            let err = err.unwrap_or_else(|| panic!("{action} was allowed on a shared server"));
            assert!(
                matches!(err, TestkitError::NotOwned { .. }),
                "{action}: {err:?}"
            );
            let text = err.to_string();
            assert!(text.contains("TestServer::start()"), "{text}");
            assert!(!text.contains("secret"), "{text}");
        }
        assert!(!format!("{server:?}").contains("secret"));
    }
}
