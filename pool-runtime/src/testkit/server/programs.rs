//! Finding the server and install programs on this machine, and refusing a
//! server the kit cannot drive before anything is started.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::process::Command;

use crate::testkit::TestkitError;

/// Server program names, most specific first. On MariaDB installs `mysqld` is
/// a link to `mariadbd`.
const SERVER_NAMES: &[&str] = &["mariadbd", "mysqld"];
const INSTALL_NAMES: &[&str] = &["mariadb-install-db", "mysql_install_db"];
/// Debian and most distributions keep the server out of a user's PATH.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"];
/// How long `mariadbd --version` may take; it answers at once unless the
/// binary is broken or the machine is drowning.
const VERSION_DEADLINE: Duration = Duration::from_secs(30);

/// The programs needed to run a throwaway MariaDB server.
#[derive(Debug, Clone)]
pub(super) struct ServerPrograms {
    pub(super) server: PathBuf,
    pub(super) install_db: PathBuf,
    /// What `server --version` printed (trimmed): part of the key of the
    /// data directory templates, so an upgraded server gets a new one.
    pub(super) version: String,
}

impl ServerPrograms {
    /// Looks in `PATH` and the usual system directories.
    pub(super) async fn find() -> Result<Self, TestkitError> {
        let path = std::env::var_os("PATH");
        Self::find_in(&search_dirs(path.as_deref(), EXTRA_DIRS)).await
    }

    pub(super) async fn find_in(dirs: &[PathBuf]) -> Result<Self, TestkitError> {
        let searched = || {
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        let server = first_in(dirs, SERVER_NAMES).ok_or_else(|| TestkitError::NoServerBinary {
            searched: searched(),
        })?;
        let version = check_flavour(&server).await?;
        // The install script sits beside the client tools, usually in /usr/bin,
        // or next to the server in tarball installs.
        let mut install_dirs = dirs.to_vec();
        if let Some(parent) = server.parent() {
            install_dirs.push(parent.to_path_buf());
            install_dirs.push(parent.join("../bin"));
            install_dirs.push(parent.join("../scripts"));
        }
        let install_db = first_in(&install_dirs, INSTALL_NAMES).ok_or_else(|| {
            TestkitError::UnsupportedServer {
                binary: server.clone(),
                reason: "found no mariadb-install-db or mysql_install_db beside it \
                         (install the full mariadb-server package)"
                    .into(),
            }
        })?;
        Ok(ServerPrograms {
            server,
            install_db,
            version,
        })
    }
}

/// Where the programs are looked for: the directories of `path` (the value
/// of `PATH`, if set), then `extra`. A function of its inputs, so tests
/// need not change the process's environment.
fn search_dirs(path: Option<&std::ffi::OsStr>, extra: &[&str]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    dirs.retain(|d| !d.as_os_str().is_empty());
    dirs.extend(extra.iter().map(PathBuf::from));
    dirs
}

fn first_in(dirs: &[PathBuf], names: &[&str]) -> Option<PathBuf> {
    names
        .iter()
        .flat_map(|name| dirs.iter().map(move |dir| dir.join(name)))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Oracle MySQL initialises its data directory differently (`--initialize`)
/// and has not been tested with this kit: refuse it clearly rather than fail
/// obscurely half-way through a start. Returns the version line.
async fn check_flavour(server: &Path) -> Result<String, TestkitError> {
    let mut cmd = Command::new(server);
    cmd.arg("--version").stdin(Stdio::null());
    let output = output_within(&mut cmd, VERSION_DEADLINE, || {
        format!("running {} --version", server.display())
    })
    .await?;
    let version = String::from_utf8_lossy(&output.stdout);
    if version.contains("MariaDB") {
        Ok(version.trim().to_owned())
    } else {
        Err(TestkitError::UnsupportedServer {
            binary: server.to_path_buf(),
            reason: format!(
                "only MariaDB servers are driven by the kit, this one reports `{}`",
                version.trim()
            ),
        })
    }
}

/// Runs `cmd` to its end and collects its output, killing it if it takes
/// longer than `deadline` (or if the caller stops waiting). `what` names the
/// step in the error.
pub(super) async fn output_within(
    cmd: &mut Command,
    deadline: Duration,
    what: impl Fn() -> String,
) -> Result<Output, TestkitError> {
    match tokio::time::timeout(deadline, cmd.kill_on_drop(true).output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(e)) => Err(TestkitError::io(what(), e)),
        Err(_) => {
            let late = io::Error::new(
                io::ErrorKind::TimedOut,
                format!("not done within {deadline:?}"),
            );
            Err(TestkitError::io(what(), late))
        }
    }
}

/// Whether this process runs as root, where the server needs `--user=root`.
/// `/proc/self` belongs to the process's effective user.
pub(super) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_server_names_the_searched_dirs_and_the_install_command() {
        let dirs = vec![
            PathBuf::from("/nonexistent/a"),
            PathBuf::from("/nonexistent/b"),
        ];
        let err = ServerPrograms::find_in(&dirs).await.unwrap_err();
        let message = err.to_string();
        assert!(
            matches!(err, TestkitError::NoServerBinary { .. }),
            "{err:?}"
        );
        assert!(
            message.contains("/nonexistent/a:/nonexistent/b"),
            "{message}"
        );
        assert!(
            message.contains("apt-get install -y mariadb-server"),
            "{message}"
        );
        assert!(message.contains("POOL_TEST_URL"), "{message}");
    }

    #[test]
    fn an_empty_or_unset_path_adds_no_directory() {
        for path in [None, Some(std::ffi::OsStr::new(""))] {
            assert_eq!(
                search_dirs(path, EXTRA_DIRS),
                EXTRA_DIRS.iter().map(PathBuf::from).collect::<Vec<_>>(),
                "PATH = {path:?}"
            );
        }
        let path = std::ffi::OsStr::new("/opt/a:/opt/b");
        assert_eq!(
            search_dirs(Some(path), &["/usr/sbin"]),
            ["/opt/a", "/opt/b", "/usr/sbin"]
                .map(PathBuf::from)
                .to_vec()
        );
    }

    /// A machine without a server: PATH empty, and nothing in the system
    /// directories (an empty one stands in for them). The error names the
    /// install command and the way out (`POOL_TEST_URL`).
    #[tokio::test]
    async fn an_empty_path_on_a_machine_without_a_server_names_the_install_command() {
        let empty = tempfile::tempdir().unwrap();
        let system = empty.path().display().to_string();
        let dirs = search_dirs(Some(std::ffi::OsStr::new("")), &[system.as_str()]);
        let err = ServerPrograms::find_in(&dirs).await.unwrap_err();
        assert!(
            matches!(err, TestkitError::NoServerBinary { ref searched } if *searched == system),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("install one with `apt-get install -y mariadb-server`"),
            "{message}"
        );
        assert!(message.contains("set POOL_TEST_URL"), "{message}");
    }

    /// A server binary without its install script beside it is refused
    /// before anything starts, naming the package to install.
    #[tokio::test]
    async fn a_server_without_its_install_script_names_the_package() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("mariadbd");
        std::fs::write(&fake, "#!/bin/sh\necho 'mariadbd  Ver 10.11.6-MariaDB'\n").unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut tries = 0;
        let err = loop {
            let err = ServerPrograms::find_in(&[dir.path().to_path_buf()])
                .await
                .unwrap_err();
            // A script just written may be "busy" while another thread's
            // child still holds it between fork and exec: look again.
            let busy = matches!(&err, TestkitError::Io { source, .. } if source.raw_os_error() == Some(26));
            tries += 1;
            if !busy || tries == 20 {
                break err;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(
            matches!(err, TestkitError::UnsupportedServer { ref binary, .. } if *binary == fake),
            "{err:?}"
        );
        assert!(err.to_string().contains("mariadb-server"), "{err}");
    }

    #[tokio::test]
    async fn a_non_executable_file_is_not_a_server() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mariadbd"), "not a program").unwrap();
        let err = ServerPrograms::find_in(&[dir.path().to_path_buf()])
            .await
            .unwrap_err();
        assert!(
            matches!(err, TestkitError::NoServerBinary { .. }),
            "{err:?}"
        );
    }
}
