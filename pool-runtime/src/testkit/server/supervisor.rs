//! Process supervision for one test server the kit owns: its directory and
//! port, starting it, stopping it, starting it again, and ending it when
//! dropped.
//!
//! [`TestServer`](super::TestServer) is the handle tests hold; it asks the
//! supervisor for these and knows nothing of processes or directories.

use std::path::Path;
use std::time::Duration;

use super::admin;
use super::data_dir::DataDir;
use super::process::{NotReady, ServerProcess};
use super::programs::ServerPrograms;
use super::teardown;
use super::template::{self, DataTemplate, TemplateChoice};
use super::tls::TestTls;
use crate::testkit::TestkitError;

/// How long a start may take before it is reported as failed. Startup takes
/// well under a second on an idle machine; a loaded CI box is given slack.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a graceful `SHUTDOWN` may take before the process is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// Attempts to find a port nobody else grabbed between probe and bind.
const PORT_ATTEMPTS: usize = 5;

/// One owned server: a data directory, a port, and the process while it runs.
///
/// Dropping it kills the process and removes the directory
/// ([`teardown`]).
pub(super) struct Supervisor {
    programs: ServerPrograms,
    port: u16,
    dir: DataDir,
    process: Option<ServerProcess>,
    /// The TLS files the server is started with, if any.
    tls: Option<TestTls>,
    /// Options beyond the kit's own, given at every start.
    extra_args: Vec<String>,
    /// The `server_id` of a server started for replication.
    server_id: Option<u32>,
    /// The template its data directory was copied from, if any.
    template: Option<DataTemplate>,
}

/// How a server is to be started, beyond the kit's defaults.
#[derive(Debug, Clone, Default)]
pub(super) struct ServerConfig {
    /// TLS with fresh material whose server certificate lives this long.
    pub(super) tls_valid_for: Option<Duration>,
    /// `--require-secure-transport=ON`.
    pub(super) require_secure_transport: bool,
    /// Binary log and GTIDs for replication, with this `server_id`.
    pub(super) server_id: Option<u32>,
    /// `--innodb-read-only=ON`.
    pub(super) innodb_read_only: bool,
    /// Where the data directory comes from.
    pub(super) template: TemplateChoice,
}

/// What a server that replicates needs beyond the kit's defaults: a binary
/// log (later than the kit's `--skip-log-bin`, so it wins), row events, and
/// what it applies as a replica logged too, so that after a switchover the
/// others can follow it from their GTID position.
fn replication_args(server_id: u32) -> Vec<String> {
    vec![
        format!("--server-id={server_id}"),
        "--log-bin=mysql-bin".into(),
        "--relay-log=relay-bin".into(),
        "--log-slave-updates=ON".into(),
        "--binlog-format=ROW".into(),
    ]
}

/// Why a launch failed: a port taken before the server bound it is worth
/// another port; anything else is reported.
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

impl Supervisor {
    /// Fills a fresh data directory (from a template when it may) and starts
    /// the server on a free port.
    pub(super) async fn start(config: &ServerConfig) -> Result<Supervisor, TestkitError> {
        let programs = ServerPrograms::find().await?;
        // Owned by the supervisor from here on, so that a failed or cancelled
        // start removes the directory (and ends a started process) too.
        let mut supervisor = Supervisor {
            programs,
            port: 0,
            dir: DataDir::create(admin::INIT_SQL)?,
            process: None,
            tls: None,
            extra_args: Vec::new(),
            server_id: config.server_id,
            template: None,
        };
        if let Some(server_id) = config.server_id {
            supervisor.extra_args.extend(replication_args(server_id));
        }
        if let Some(valid_for) = config.tls_valid_for {
            let tls = TestTls::generate(&supervisor.dir.path().join("tls"), valid_for)?;
            supervisor.extra_args.extend(tls.server_args());
            supervisor.tls = Some(tls);
        }
        if config.innodb_read_only {
            supervisor.extra_args.push("--innodb-read-only=ON".into());
        }
        if config.require_secure_transport {
            supervisor
                .extra_args
                .push("--require-secure-transport=ON".into());
        }
        supervisor.template =
            template::fill(&supervisor.dir, &supervisor.programs, &config.template).await?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            supervisor.port = free_port().await?;
            match supervisor.launch().await {
                Ok(()) => return Ok(supervisor),
                Err(LaunchError::PortTaken(e)) => {
                    tracing::debug!(
                        port = supervisor.port,
                        "port taken before the server bound it; retrying"
                    );
                    last_error = Some(e);
                }
                Err(LaunchError::Other(e)) => return Err(e),
            }
        }
        Err(last_error.unwrap_or_else(|| TestkitError::StartFailed {
            port: 0,
            detail: "no free port found".into(),
        }))
    }

    /// The TCP port, kept across restarts.
    pub(super) fn port(&self) -> u16 {
        self.port
    }

    /// The process id while the server runs.
    pub(super) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ServerProcess::pid)
    }

    /// The directory holding the data, socket and error log.
    pub(super) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `server_id` of a server started for replication.
    pub(super) fn server_id(&self) -> Option<u32> {
        self.server_id
    }

    /// The template its data directory was copied from, if any.
    pub(super) fn template(&self) -> Option<&DataTemplate> {
        self.template.as_ref()
    }

    /// The TLS files the server was started with.
    pub(super) fn tls(&self) -> Option<&TestTls> {
        self.tls.as_ref()
    }

    /// The kit's own sessions: over the Unix socket.
    pub(super) fn kit_opts(&self) -> mysql_async::Opts {
        admin::kit_opts(&self.dir.socket())
    }

    /// Root's sessions over the Unix socket, for `TestServer::conn`.
    pub(super) fn root_opts(&self) -> mysql_async::Opts {
        admin::root_opts(&self.dir.socket())
    }

    pub(super) fn is_running(&self) -> bool {
        self.process.is_some()
    }

    /// Shuts the server down gracefully (`SHUTDOWN`), killing it if it has
    /// not exited within [`STOP_DEADLINE`]. Keeps the directory and port.
    pub(super) async fn stop(&mut self) -> Result<(), TestkitError> {
        let Some(process) = self.process.as_mut() else {
            return Ok(());
        };
        let opts = admin::kit_opts(&self.dir.socket());
        let graceful = async {
            // The server closes this connection as it goes: an error here is
            // expected, and exit is what is waited for.
            if let Ok(mut conn) = admin::connect_with(opts).await {
                use mysql_async::prelude::Queryable as _;
                let _ = conn.query_drop("SHUTDOWN").await;
            }
            process.wait().await
        };
        let outcome = tokio::time::timeout(STOP_DEADLINE, graceful).await;
        match outcome {
            Ok(Ok(_status)) => {}
            Ok(Err(e)) => return Err(TestkitError::io("waiting for the test server to exit", e)),
            Err(_) => {
                tracing::warn!(port = self.port, "test server ignored SHUTDOWN; killing it");
                process
                    .kill()
                    .await
                    .map_err(|e| TestkitError::io("killing the test server", e))?;
            }
        }
        self.process = None;
        Ok(())
    }

    /// Starts a stopped server again on the same directory and port.
    pub(super) async fn start_again(&mut self) -> Result<(), TestkitError> {
        if self.process.is_some() {
            return Ok(());
        }
        self.launch().await.map_err(LaunchError::into_inner)
    }

    /// Spawns the server and waits until it answers on its socket (it binds
    /// its TCP port before that, and exits if the port is taken).
    async fn launch(&mut self) -> Result<(), LaunchError> {
        let process = ServerProcess::spawn(&self.programs, &self.dir, self.port, &self.extra_args)
            .map_err(|e| {
                LaunchError::Other(TestkitError::io(
                    format!("starting {}", self.programs.server.display()),
                    e,
                ))
            })?;
        let process = self.process.insert(process);
        let opts = admin::kit_opts(&self.dir.socket());
        let Err(not_ready) = process.wait_ready(&opts, START_DEADLINE).await else {
            return Ok(());
        };
        let (detail, exited) = match not_ready {
            NotReady::Exited(status) => (format!("the server exited ({status})"), true),
            NotReady::Lost(e) => (format!("the server could not be watched ({e})"), false),
            NotReady::Silent(last) => (
                format!("no connection accepted within {START_DEADLINE:?} (last: {last})"),
                false,
            ),
        };
        if !exited {
            // Ended here, where it can be awaited, before its directory is
            // used again or removed.
            if let Err(e) = process.kill().await {
                tracing::debug!(error = %e, "could not kill the test server that did not start");
            }
        }
        self.process = None;
        let log = self.dir.log_tail();
        let error = TestkitError::StartFailed {
            port: self.port,
            detail: format!("{detail}; its log ends:\n{log}"),
        };
        Err(if exited && log.contains("Address already in use") {
            LaunchError::PortTaken(error)
        } else {
            LaunchError::Other(error)
        })
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        teardown::dispose(self.process.take(), self.dir.take_removal());
    }
}

/// A loopback port that was free a moment ago.
async fn free_port() -> Result<u16, TestkitError> {
    // Bound and released at once: a tiny window in which another process may
    // take it, which `start` handles by retrying on a new port.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| TestkitError::io("finding a free loopback port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| TestkitError::io("finding a free loopback port", e))
}
