//! One run of `mariadbd`: the command line that makes it a small, fast,
//! private server, and the events of its life the kit waits for (ready,
//! exited).
//!
//! The process is a [`tokio::process::Child`], so waiting for its exit is an
//! event rather than a poll. Readiness has no event: the kit tries to connect
//! until the server answers, the process exits or the deadline passes.

use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::admin;
use super::data_dir::DataDir;
use super::programs::{ServerPrograms, running_as_root};

/// How often a starting server is asked whether it accepts connections.
const READY_POLL: Duration = Duration::from_millis(10);

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

/// A running (or just exited) server process.
pub(super) struct ServerProcess {
    child: Child,
    pid: u32,
}

/// Why a server did not become ready.
pub(super) enum NotReady {
    /// The process exited first.
    Exited(ExitStatus),
    /// Waiting for its exit failed.
    Lost(io::Error),
    /// It neither answered nor exited in time; the last connect error.
    Silent(String),
}

impl ServerProcess {
    /// Starts `mariadbd` on `dir`, listening on 127.0.0.1:`port` only.
    pub(super) fn spawn(
        programs: &ServerPrograms,
        dir: &DataDir,
        port: u16,
        extra_args: &[String],
    ) -> io::Result<ServerProcess> {
        let mut cmd = Command::new(&programs.server);
        // --no-defaults must come first: no my.cnf on this machine may leak in.
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", dir.data().display()))
            .arg(format!("--socket={}", dir.socket().display()))
            .arg(format!("--pid-file={}", dir.pid_file().display()))
            .arg(format!("--log-error={}", dir.error_log().display()))
            .arg(format!("--tmpdir={}", dir.tmp().display()))
            .arg(format!("--init-file={}", dir.init_file().display()))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .args(FAST_SERVER_FLAGS)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A safety net only: whoever owns the process ends it explicitly.
            .kill_on_drop(true);
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let child = cmd.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| io::Error::other("the server exited before it could be watched"))?;
        Ok(ServerProcess { child, pid })
    }

    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits until the server accepts a connection with `opts` (the kit's
    /// own, over the Unix socket).
    pub(super) async fn wait_ready(
        &mut self,
        opts: &mysql_async::Opts,
        deadline: Duration,
    ) -> Result<(), NotReady> {
        // A mutex, not a cell, so that a start can be spawned on a runtime
        // (the future is `Send`): `TestCluster` starts its servers at once.
        let last_error = Mutex::new(String::from("none yet"));
        let remember = |error: String| {
            *last_error.lock().unwrap_or_else(PoisonError::into_inner) = error;
        };
        let accepting = async {
            loop {
                match admin::connect_with(opts.clone()).await {
                    Ok(conn) => return admin::disconnect(conn).await,
                    Err(e) => {
                        remember(e.to_string());
                        tokio::time::sleep(READY_POLL).await;
                    }
                }
            }
        };
        tokio::select! {
            exit = self.child.wait() => Err(match exit {
                Ok(status) => NotReady::Exited(status),
                Err(e) => NotReady::Lost(e),
            }),
            () = accepting => Ok(()),
            () = tokio::time::sleep(deadline) => {
                let last = std::mem::take(&mut *last_error.lock().unwrap_or_else(PoisonError::into_inner));
                Err(NotReady::Silent(last))
            }
        }
    }

    /// Waits for the process to exit.
    pub(super) async fn wait(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Kills the process and waits for it to exit.
    pub(super) async fn kill(&mut self) -> io::Result<()> {
        self.child.kill().await
    }

    /// The process, to end it where no `.await` is possible
    /// ([`super::teardown`]).
    pub(super) fn into_child(self) -> Child {
        self.child
    }
}
