//! The directory a test server lives in, and filling it with a fresh data
//! directory.
//!
//! Everything one server reads or writes stays below one temporary
//! directory: its data, a private `--tmpdir`, its socket, pid file, error log
//! and the SQL it runs at start. Servers
//! share nothing with each other or with the machine's own MariaDB, so they
//! run side by side, and removing the directory removes every trace.
//!
//! Dropping a [`DataDir`] removes the directory at once. A server may still
//! be running in it, so the supervisor first takes the removal
//! ([`DataDir::take_removal`]) and carries it out once the server is gone.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;
use tokio::process::Command;

use super::programs::{ServerPrograms, output_within, running_as_root};
use crate::testkit::TestkitError;

/// How long `mariadb-install-db` may take. It takes a second or two on an
/// idle machine; a loaded CI box starting many servers at once is given slack.
const INSTALL_DEADLINE: Duration = Duration::from_secs(120);

/// A server's directory, kept until [`take_removal`](Self::take_removal)
/// hands its removal to whoever ends the server.
pub(super) struct DataDir {
    root: PathBuf,
    /// Removes the directory when dropped; `None` once handed over.
    removal: Option<TempDir>,
}

impl DataDir {
    /// Creates a fresh directory under the system's temporary directory,
    /// with an empty private temporary directory and `init_sql` for the
    /// server to run at every start.
    pub(super) fn create(init_sql: &str) -> Result<DataDir, TestkitError> {
        let dir = tempfile::Builder::new()
            .prefix("pool-testkit-")
            .tempdir()
            .map_err(|e| TestkitError::io("creating the test server's directory", e))?;
        let data_dir = DataDir {
            root: dir.path().to_path_buf(),
            removal: Some(dir),
        };
        // Each server gets its own temporary directory: servers sharing `/tmp`
        // were seen to trip over each other's temporary tables during bootstrap.
        let tmp = data_dir.tmp();
        std::fs::create_dir(&tmp)
            .map_err(|e| TestkitError::io(format!("creating {}", tmp.display()), e))?;
        let init = data_dir.init_file();
        std::fs::write(&init, init_sql)
            .map_err(|e| TestkitError::io(format!("writing {}", init.display()), e))?;
        Ok(data_dir)
    }

    /// The directory itself.
    pub(super) fn path(&self) -> &Path {
        &self.root
    }

    /// The server's `--datadir`.
    pub(super) fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// The server's private `--tmpdir`.
    pub(super) fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub(super) fn socket(&self) -> PathBuf {
        self.root.join("mysqld.sock")
    }

    pub(super) fn pid_file(&self) -> PathBuf {
        self.root.join("mysqld.pid")
    }

    pub(super) fn error_log(&self) -> PathBuf {
        self.root.join("error.log")
    }

    /// The server's `--init-file`.
    pub(super) fn init_file(&self) -> PathBuf {
        self.root.join("init.sql")
    }

    /// The last lines of the server's error log, for error messages.
    pub(super) fn log_tail(&self) -> String {
        let path = self.error_log();
        match std::fs::read_to_string(&path) {
            Ok(text) => tail(&text, 15),
            Err(e) => format!("(no log at {}: {e})", path.display()),
        }
    }

    /// Takes the directory's removal: from now on dropping the `DataDir`
    /// leaves the directory alone, and dropping the returned value removes it.
    pub(super) fn take_removal(&mut self) -> Option<TempDir> {
        self.removal.take()
    }

    /// Fills the data directory with a fresh system database
    /// (`mariadb-install-db`): root without a password, no test database.
    pub(super) async fn install(&self, programs: &ServerPrograms) -> Result<(), TestkitError> {
        install_into(programs, &self.data(), &self.tmp()).await
    }
}

/// The options `mariadb-install-db` gets besides its directories: everything
/// that decides what the installed data is (so they are part of the key of a
/// [template](super::template)).
pub(super) fn install_args() -> Vec<&'static str> {
    let mut args = vec![
        "--auth-root-authentication-method=normal",
        "--skip-test-db",
        "--innodb-log-file-size=8M",
    ];
    if running_as_root() {
        args.push("--user=root");
    }
    args
}

/// Runs `mariadb-install-db` into `datadir` (created by it), with `tmpdir`
/// (which must exist) as its temporary directory.
pub(super) async fn install_into(
    programs: &ServerPrograms,
    datadir: &Path,
    tmpdir: &Path,
) -> Result<(), TestkitError> {
    let program = &programs.install_db;
    let mut cmd = Command::new(program);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--tmpdir={}", tmpdir.display()))
        .args(install_args())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = output_within(&mut cmd, INSTALL_DEADLINE, || {
        format!("running {}", program.display())
    })
    .await?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(TestkitError::InitFailed {
        program: program.clone(),
        datadir: datadir.to_path_buf(),
        detail: format!("{}; output ends:\n{}", output.status, tail(&text, 20)),
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
