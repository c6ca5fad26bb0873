//! Finding the server and install programs on this machine.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TestkitError;

/// Server program names, most specific first. On MariaDB installs `mysqld` is
/// a link to `mariadbd`.
const SERVER_NAMES: &[&str] = &["mariadbd", "mysqld"];
const INSTALL_NAMES: &[&str] = &["mariadb-install-db", "mysql_install_db"];
/// Debian and most distributions keep the server out of a user's PATH.
const EXTRA_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/usr/local/mysql/bin"];

/// The programs needed to run a throwaway MariaDB server.
#[derive(Debug, Clone)]
pub(crate) struct ServerPrograms {
    pub(crate) server: PathBuf,
    pub(crate) install_db: PathBuf,
}

impl ServerPrograms {
    /// Looks in `PATH` and the usual system directories.
    pub(crate) fn find() -> Result<Self, TestkitError> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        dirs.extend(EXTRA_DIRS.iter().map(PathBuf::from));
        Self::find_in(&dirs)
    }

    pub(crate) fn find_in(dirs: &[PathBuf]) -> Result<Self, TestkitError> {
        let searched = || {
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        };
        let server = first_in(dirs, SERVER_NAMES).ok_or_else(|| TestkitError::NoServerBinary {
            searched: searched(),
        })?;
        check_flavour(&server)?;
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
        Ok(ServerPrograms { server, install_db })
    }
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
/// obscurely half-way through a start.
fn check_flavour(server: &Path) -> Result<(), TestkitError> {
    let output = Command::new(server)
        .arg("--version")
        .output()
        .map_err(|e| TestkitError::io(format!("running {} --version", server.display()), e))?;
    let version = String::from_utf8_lossy(&output.stdout);
    if version.contains("MariaDB") {
        Ok(())
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

/// Whether this process runs as root, where the server needs `--user=root`.
/// `/proc/self` belongs to the process's effective user.
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_server_names_the_searched_dirs_and_the_install_command() {
        let dirs = vec![
            PathBuf::from("/nonexistent/a"),
            PathBuf::from("/nonexistent/b"),
        ];
        let err = ServerPrograms::find_in(&dirs).unwrap_err();
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
    fn a_non_executable_file_is_not_a_server() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mariadbd"), "not a program").unwrap();
        let err = ServerPrograms::find_in(&[dir.path().to_path_buf()]).unwrap_err();
        assert!(
            matches!(err, TestkitError::NoServerBinary { .. }),
            "{err:?}"
        );
    }
}
