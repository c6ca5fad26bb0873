//! A throwaway MariaDB server per test.

use std::fmt;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};
use tempfile::TempDir;

use super::TestkitError;
use super::binary::{ServerPrograms, running_as_root};

/// The variable that points the kit at an existing server instead.
const SHARED_URL_VAR: &str = "POOL_TEST_URL";
/// How long a start may take before it is reported as failed. Startup takes
/// well under a second on an idle machine; a loaded CI box is given slack.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a graceful `SHUTDOWN` may take before the process is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// How often readiness and exit are polled; neither has an event to wait on.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Attempts to find a port nobody else grabbed between probe and bind.
const PORT_ATTEMPTS: usize = 5;

/// A MariaDB server for one test: private data directory, free loopback port,
/// root without a password, database `test`.
///
/// Dropping it kills the process and removes its directory, also when the
/// test panics. Several may run at once. Each starts in well under a second
/// on a idle machine (`mariadb-install-db` plus server start).
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
    Owned(Owned),
    /// From `POOL_TEST_URL`; its URL may carry a password and is never printed.
    Shared {
        url: String,
        addr: SocketAddr,
    },
}

struct Owned {
    programs: ServerPrograms,
    port: u16,
    url: String,
    started_in: Duration,
    /// Declared before `dir`: fields drop in order, so the process is gone
    /// before its directory is removed.
    child: Option<ServerProcess>,
    dir: TempDir,
}

impl TestServer {
    /// Starts a fresh server and waits until it accepts connections.
    ///
    /// Fails with [`TestkitError::NoServerBinary`] (naming the install
    /// command) when no `mariadbd`/`mysqld` is on `PATH` or in `/usr/sbin`.
    pub async fn start() -> Result<TestServer, TestkitError> {
        let programs = ServerPrograms::find()?;
        let begun = Instant::now();
        let mut dir = tempfile::Builder::new()
            .prefix("pool-testkit-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating the test server's directory", e))?;
        install_data_dir(&programs, dir.path())?;

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut owned = Owned {
                programs: programs.clone(),
                port,
                url: format!("mysql://root@127.0.0.1:{port}/test?prefer_socket=false"),
                started_in: Duration::ZERO,
                child: None,
                dir,
            };
            match owned.launch().await {
                Ok(()) => {
                    owned.create_test_database().await?;
                    owned.started_in = begun.elapsed();
                    let server = TestServer {
                        kind: Kind::Owned(owned),
                    };
                    tracing::info!(
                        port,
                        millis = server.started_in().map(|d| d.as_millis()),
                        "test server started"
                    );
                    return Ok(server);
                }
                Err(LaunchError::PortTaken(e)) => {
                    tracing::debug!(port, "port taken before the server bound it; retrying");
                    last_error = Some(e);
                    dir = owned.dir;
                }
                Err(LaunchError::Other(e)) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| TestkitError::StartFailed {
            port: 0,
            detail: "no free port found".into(),
        }))
    }

    /// Uses the server named by `POOL_TEST_URL` when it is set, else starts
    /// one. The shared server is never changed: [`set_global`](Self::set_global),
    /// [`kill_all_client_connections`](Self::kill_all_client_connections),
    /// [`stop`](Self::stop) and [`start_again`](Self::start_again) refuse it.
    pub async fn shared_or_start() -> Result<TestServer, TestkitError> {
        match std::env::var(SHARED_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::shared(url),
            _ => Self::start().await,
        }
    }

    fn shared(url: String) -> Result<TestServer, TestkitError> {
        let bad = |reason: String| TestkitError::BadUrl {
            what: SHARED_URL_VAR,
            reason,
        };
        Opts::from_url(&url).map_err(|e| bad(e.to_string()))?;
        let parsed = url::Url::parse(&url).map_err(|e| bad(e.to_string()))?;
        let host = parsed
            .host_str()
            .ok_or_else(|| bad("it names no host".into()))?;
        let port = parsed.port().unwrap_or(3306);
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| bad(format!("its host does not resolve: {e}")))?
            .next()
            .ok_or_else(|| bad("its host resolves to no address".into()))?;
        Ok(TestServer {
            kind: Kind::Shared { url, addr },
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
            Kind::Shared { url, .. } => url,
        }
    }

    /// The server's TCP address.
    pub fn addr(&self) -> SocketAddr {
        match &self.kind {
            Kind::Owned(o) => SocketAddr::from(([127, 0, 0, 1], o.port)),
            Kind::Shared { addr, .. } => *addr,
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

    /// Whether the kit started this server (and so may change or stop it).
    pub fn is_owned(&self) -> bool {
        matches!(self.kind, Kind::Owned(_))
    }

    /// The server's process id while it runs (owned servers only).
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Owned(o) => o.child.as_ref().map(|p| p.0.id()),
            Kind::Shared { .. } => None,
        }
    }

    /// The directory holding the data, socket and error log (owned servers only).
    pub fn dir(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Owned(o) => Some(o.dir.path()),
            Kind::Shared { .. } => None,
        }
    }

    /// How long [`start`](Self::start) took, from finding the binary to the
    /// first accepted connection (owned servers only).
    pub fn started_in(&self) -> Option<Duration> {
        match &self.kind {
            Kind::Owned(o) => Some(o.started_in),
            Kind::Shared { .. } => None,
        }
    }

    /// A fresh connection straight to the server, for setup and inspection.
    pub async fn conn(&self) -> Result<Conn, TestkitError> {
        if let Kind::Owned(o) = &self.kind {
            if o.child.is_none() {
                return Err(TestkitError::Stopped { action: "conn" });
            }
        }
        connect(self.url()).await
    }

    /// `SET GLOBAL name = value`. Sessions opened afterwards see the value;
    /// for `wait_timeout`, open sessions keep the one they started with.
    pub async fn set_global(
        &self,
        name: &str,
        value: impl Into<mysql_async::Value>,
    ) -> Result<(), TestkitError> {
        self.owned("set_global")?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(TestkitError::BadVariableName { name: name.into() });
        }
        let statement = format!("SET GLOBAL {name} = ?");
        let mut conn = self.conn().await?;
        conn.exec_drop(statement.as_str(), (value.into(),))
            .await
            .map_err(|e| TestkitError::query(statement.clone(), e))?;
        disconnect(conn).await;
        Ok(())
    }

    /// Kills every client connection but the kit's own, as the server does
    /// when `wait_timeout` expires. Returns how many were killed.
    pub async fn kill_all_client_connections(&self) -> Result<usize, TestkitError> {
        self.owned("kill_all_client_connections")?;
        let mut conn = self.conn().await?;
        let ids = client_connection_ids(&mut conn).await?;
        let mut killed = 0;
        for id in ids {
            match conn.query_drop(format!("KILL CONNECTION {id}")).await {
                Ok(()) => killed += 1,
                // Unknown thread id: it ended on its own in the meantime.
                Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
                Err(e) => return Err(TestkitError::query("KILL CONNECTION", e)),
            }
        }
        disconnect(conn).await;
        Ok(killed)
    }

    /// The number of client connections the server sees, not counting the
    /// one used to ask (nor the server's own threads).
    pub async fn client_connections(&self) -> Result<usize, TestkitError> {
        let mut conn = self.conn().await?;
        let ids = client_connection_ids(&mut conn).await?;
        disconnect(conn).await;
        Ok(ids.len())
    }

    /// Shuts the server down gracefully (`SHUTDOWN`), keeping its data
    /// directory and port for [`start_again`](Self::start_again).
    pub async fn stop(&mut self) -> Result<(), TestkitError> {
        let url = self.url().to_owned();
        let owned = self.owned_mut("stop")?;
        if owned.child.is_none() {
            return Ok(());
        }
        if let Ok(mut conn) = connect(&url).await {
            // The server closes this connection as it goes: an error here is
            // expected, and exit is what is waited for below.
            let _ = conn.query_drop("SHUTDOWN").await;
        }
        owned.wait_for_exit(STOP_DEADLINE).await
    }

    /// Starts a stopped server again on the same data directory and port.
    pub async fn start_again(&mut self) -> Result<(), TestkitError> {
        let owned = self.owned_mut("start_again")?;
        if owned.child.is_some() {
            return Ok(());
        }
        owned.launch().await.map_err(LaunchError::into_inner)
    }

    /// [`stop`](Self::stop), then [`start_again`](Self::start_again).
    pub async fn restart(&mut self) -> Result<(), TestkitError> {
        self.stop().await?;
        self.start_again().await
    }

    fn owned(&self, action: &'static str) -> Result<&Owned, TestkitError> {
        match &self.kind {
            Kind::Owned(o) if o.child.is_some() => Ok(o),
            Kind::Owned(_) => Err(TestkitError::Stopped { action }),
            Kind::Shared { .. } => Err(TestkitError::NotOwned { action }),
        }
    }

    fn owned_mut(&mut self, action: &'static str) -> Result<&mut Owned, TestkitError> {
        match &mut self.kind {
            Kind::Owned(o) => Ok(o),
            Kind::Shared { .. } => Err(TestkitError::NotOwned { action }),
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
                .field("dir", &o.dir.path())
                .finish(),
            // The shared URL may carry a password: show the address only.
            Kind::Shared { addr, .. } => f
                .debug_struct("TestServer")
                .field("shared", addr)
                .finish_non_exhaustive(),
        }
    }
}

/// The server process; killed and reaped when dropped.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A throwaway server needs no clean shutdown: kill, then reap, so
        // neither a process nor a zombie outlives the test.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

enum LaunchError {
    PortTaken(TestkitError),
    Other(TestkitError),
}

impl LaunchError {
    fn into_inner(self) -> TestkitError {
        match self {
            LaunchError::PortTaken(e) | LaunchError::Other(e) => e,
        }
    }
}

impl Owned {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn error_log(&self) -> PathBuf {
        self.dir.path().join("error.log")
    }

    /// A URL without a database, over TCP, for the kit's own setup.
    fn root_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/?prefer_socket=false", self.port)
    }

    async fn create_test_database(&self) -> Result<(), TestkitError> {
        const STATEMENT: &str = "CREATE DATABASE IF NOT EXISTS test";
        let mut conn = connect(&self.root_url()).await?;
        conn.query_drop(STATEMENT)
            .await
            .map_err(|e| TestkitError::query(STATEMENT, e))?;
        disconnect(conn).await;
        Ok(())
    }

    /// Spawns the server and waits until it answers on its TCP port.
    async fn launch(&mut self) -> Result<(), LaunchError> {
        let child = self.command().spawn().map_err(|e| {
            LaunchError::Other(TestkitError::io(
                format!("starting {}", self.programs.server.display()),
                e,
            ))
        })?;
        self.child = Some(ServerProcess(child));
        let tcp_url = self.root_url();
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|p| p.0.try_wait().ok().flatten())
            {
                self.child = None;
                let log = log_tail(&self.error_log());
                let error = TestkitError::StartFailed {
                    port: self.port,
                    detail: format!("the server exited ({status}); its log ends:\n{log}"),
                };
                return Err(if log.contains("Address already in use") {
                    LaunchError::PortTaken(error)
                } else {
                    LaunchError::Other(error)
                });
            }
            match connect(&tcp_url).await {
                Ok(conn) => {
                    disconnect(conn).await;
                    return Ok(());
                }
                Err(e) if Instant::now() >= deadline => {
                    let log = log_tail(&self.error_log());
                    self.child = None; // killed and reaped by its Drop
                    return Err(LaunchError::Other(TestkitError::StartFailed {
                        port: self.port,
                        detail: format!(
                            "no connection accepted within {START_DEADLINE:?} (last: {e}); \
                             its log ends:\n{log}"
                        ),
                    }));
                }
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    }

    fn command(&self) -> Command {
        let dir = self.dir.path();
        let mut cmd = Command::new(&self.programs.server);
        // --no-defaults must come first: no my.cnf on this machine may leak in.
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir().display()))
            .arg(format!("--socket={}", dir.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", self.error_log().display()))
            .arg(format!("--tmpdir={}", dir.join("tmp").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .args(FAST_SERVER_FLAGS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if running_as_root() {
            cmd.arg("--user=root");
        }
        cmd
    }

    /// Polls for the process to exit (there is no exit event for a
    /// `std::process::Child`), killing it when the deadline passes.
    async fn wait_for_exit(&mut self, deadline: Duration) -> Result<(), TestkitError> {
        let Some(mut process) = self.child.take() else {
            return Ok(());
        };
        let child = &mut process.0;
        let until = Instant::now() + deadline;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < until => tokio::time::sleep(POLL_INTERVAL).await,
                Ok(None) => {
                    tracing::warn!(port = self.port, "test server ignored SHUTDOWN; killing it");
                    return Ok(()); // `process` kills and reaps it as it drops
                }
                Err(e) => return Err(TestkitError::io("waiting for the test server to exit", e)),
            }
        }
    }
}

/// Small buffers and no durability: a test server holds little data and is
/// thrown away, so it should start fast and use little memory.
const FAST_SERVER_FLAGS: &[&str] = &[
    "--skip-name-resolve",
    "--skip-log-bin",
    "--performance-schema=OFF",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=0",
    "--character-set-server=utf8mb4",
];

fn install_data_dir(programs: &ServerPrograms, dir: &Path) -> Result<(), TestkitError> {
    let datadir = dir.join("data");
    let tmpdir = private_tmpdir(dir)?;
    let mut cmd = Command::new(&programs.install_db);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--tmpdir={}", tmpdir.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--innodb-log-file-size=8M")
        .stdin(Stdio::null());
    if running_as_root() {
        cmd.arg("--user=root");
    }
    let output = cmd
        .output()
        .map_err(|e| TestkitError::io(format!("running {}", programs.install_db.display()), e))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(TestkitError::InitFailed {
        program: programs.install_db.clone(),
        datadir,
        detail: format!("{}; output ends:\n{}", output.status, tail(&text, 20)),
    })
}

/// Each server gets its own temporary directory: servers sharing `/tmp`
/// were seen to trip over each other's temporary tables during bootstrap.
fn private_tmpdir(dir: &Path) -> Result<PathBuf, TestkitError> {
    let tmpdir = dir.join("tmp");
    std::fs::create_dir_all(&tmpdir)
        .map_err(|e| TestkitError::io(format!("creating {}", tmpdir.display()), e))?;
    Ok(tmpdir)
}

fn free_port() -> Result<u16, TestkitError> {
    // Bound and released at once: a tiny window in which another process may
    // take it, which `start` handles by retrying on a new port.
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| TestkitError::io("finding a free loopback port", e))
}

async fn connect(url: &str) -> Result<Conn, TestkitError> {
    let opts = Opts::from_url(url).map_err(|e| TestkitError::BadUrl {
        what: "the test server URL",
        reason: e.to_string(),
    })?;
    Conn::new(opts)
        .await
        .map_err(|e| TestkitError::query("connect", e))
}

async fn disconnect(conn: Conn) {
    // Best effort: the server forgets the session either way.
    let _ = conn.disconnect().await;
}

async fn client_connection_ids(conn: &mut Conn) -> Result<Vec<u64>, TestkitError> {
    const QUERY: &str = "SELECT ID FROM information_schema.PROCESSLIST \
                         WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump') \
                         AND USER NOT IN ('system user', 'event_scheduler')";
    conn.query(QUERY)
        .await
        .map_err(|e| TestkitError::query(QUERY, e))
}

fn log_tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => tail(&text, 15),
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
