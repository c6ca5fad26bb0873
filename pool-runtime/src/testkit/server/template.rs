//! Install once, copy many: a cache of freshly installed data directories.
//!
//! `mariadb-install-db` takes one to four seconds under load, and every
//! [`TestServer`](super::TestServer) used to run it. Its output depends only
//! on the install program, the server binary and the install options, so
//! the kit installs it once into a *template* and each server copies the
//! template into its own data directory (a plain recursive copy: no links,
//! InnoDB files are written in place).
//!
//! Layout: `<cache>/<key>/data/…` plus `<cache>/<key>/TEMPLATE-COMPLETE`,
//! where `<cache>` is `$TMPDIR/pool-testkit-templates-<uid>` unless
//! [`template_cache`](super::TestServerBuilder::template_cache) names
//! another, and `<key>` a hash of everything that changes the installed data
//! ([`TemplateKey`]).
//!
//! Concurrency: a template is installed into a private staging directory in
//! the cache, the marker is written last, then the directory is renamed into
//! place (atomic on one file system). Processes that race each install one;
//! the first rename wins and the losers discard theirs. A directory at the
//! key without the marker (a crash, or a hand-made mess) is ignored, moved
//! aside and rebuilt. Only complete templates are ever read, and a copy that
//! fails anyway falls back to a fresh install.
//!
//! Nothing per server is in a template: the kit's users and the `test`
//! database come from the server's `--init-file` at every start, `server_id`,
//! binary log and TLS from its command line, all outside the data directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::data_dir::{self, DataDir};
use super::programs::ServerPrograms;
use crate::testkit::TestkitError;

/// Set to anything but empty or `0` to make every server install its own
/// data directory.
pub(super) const NO_TEMPLATE_VAR: &str = "POOL_TESTKIT_NO_TEMPLATE";
/// Written last into a template: without it the template is not used.
pub(super) const MARKER: &str = "TEMPLATE-COMPLETE";
/// Bumped when the kit changes what it installs in a way the key does not see.
const LAYOUT_VERSION: u32 = 1;

/// Where a server's data directory comes from, as asked of the builder.
#[derive(Debug, Clone, Default)]
pub(super) enum TemplateChoice {
    /// The default cache, unless `POOL_TESTKIT_NO_TEMPLATE` is set.
    #[default]
    Default,
    /// This cache directory, unless `POOL_TESTKIT_NO_TEMPLATE` is set.
    Cache(PathBuf),
    /// `mariadb-install-db` for this server alone.
    FreshInstall,
}

/// The template a [`TestServer`](super::TestServer)'s data directory was
/// copied from ([`TestServer::template`](super::TestServer::template)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTemplate {
    path: PathBuf,
    built_now: bool,
}

impl DataTemplate {
    /// The template's directory: `<cache>/<key>`, holding `data/` and the
    /// `TEMPLATE-COMPLETE` marker.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this server's start installed the template (the first start
    /// with this key and cache); `false` when it found one complete, or
    /// another process won the race to install it.
    pub fn built_by_this_start(&self) -> bool {
        self.built_now
    }
}

/// Everything that changes what `mariadb-install-db` leaves behind.
struct TemplateKey {
    text: String,
}

impl TemplateKey {
    fn new(programs: &ServerPrograms) -> TemplateKey {
        let mut text = format!("pool-testkit data directory template, layout {LAYOUT_VERSION}\n");
        for program in [&programs.server, &programs.install_db] {
            let _ = writeln!(text, "program: {}", program.display());
            // An upgrade in place keeps the path; size and mtime change.
            if let Ok(meta) = std::fs::metadata(program) {
                let mtime = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs());
                let _ = writeln!(text, "  size {} mtime {mtime}", meta.len());
            }
        }
        let _ = writeln!(text, "version: {}", programs.version);
        let _ = writeln!(text, "install args: {}", data_dir::install_args().join(" "));
        TemplateKey { text }
    }

    /// The directory name: FNV-1a 64 of the text, stable across Rust
    /// versions (unlike `DefaultHasher`).
    fn dir_name(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in self.text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
}

/// The cache directory `choice` asks for, or `None` for a fresh install.
/// A function of its inputs, so tests need not change the environment.
fn cache_dir(choice: &TemplateChoice, no_template: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let disabled = no_template.is_some_and(|v| !v.is_empty() && v != "0");
    match choice {
        TemplateChoice::FreshInstall => None,
        _ if disabled => None,
        TemplateChoice::Cache(dir) => Some(dir.clone()),
        TemplateChoice::Default => {
            Some(std::env::temp_dir().join(format!("pool-testkit-templates-{}", current_uid())))
        }
    }
}

fn current_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map_or(0, |m| m.uid())
}

/// Fills `dir`'s data directory: from the template `choice` asks for when it
/// can, else with a fresh install. Returns the template used.
pub(super) async fn fill(
    dir: &DataDir,
    programs: &ServerPrograms,
    choice: &TemplateChoice,
) -> Result<Option<DataTemplate>, TestkitError> {
    let no_template = std::env::var_os(NO_TEMPLATE_VAR);
    let Some(cache) = cache_dir(choice, no_template.as_deref()) else {
        dir.install(programs).await?;
        return Ok(None);
    };
    let template = match prepare(&cache, programs).await {
        Ok(template) => template,
        // The install itself failed: a fresh one would too; say why.
        Err(e @ TestkitError::InitFailed { .. }) => return Err(e),
        Err(e) => {
            tracing::warn!(cache = %cache.display(), error = %e,
                "test server data directory template unusable; installing afresh");
            dir.install(programs).await?;
            return Ok(None);
        }
    };
    let from = template.path.join("data");
    let to = dir.data();
    let copied = {
        let (from, to) = (from.clone(), to.clone());
        tokio::task::spawn_blocking(move || copy_tree(&from, &to)).await
    };
    let reason = match copied {
        Ok(Ok(())) => return Ok(Some(template)),
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    tracing::warn!(template = %from.display(), error = %reason,
        "copying the test server data directory template failed; installing afresh");
    if to.exists() {
        std::fs::remove_dir_all(&to).map_err(|e| {
            TestkitError::io(format!("removing the partial copy {}", to.display()), e)
        })?;
    }
    dir.install(programs).await?;
    Ok(None)
}

/// The complete template for `programs` in `cache`, installed now if there
/// is none.
async fn prepare(cache: &Path, programs: &ServerPrograms) -> Result<DataTemplate, TestkitError> {
    let key = TemplateKey::new(programs);
    let path = cache.join(key.dir_name());
    if is_complete(&path) {
        return Ok(DataTemplate {
            path,
            built_now: false,
        });
    }
    create_private_dir(cache)?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(cache)
        .map_err(|e| {
            TestkitError::io(
                format!("creating a staging directory in {}", cache.display()),
                e,
            )
        })?;
    let tmp = staging.path().join("tmp");
    std::fs::create_dir(&tmp)
        .map_err(|e| TestkitError::io(format!("creating {}", tmp.display()), e))?;
    data_dir::install_into(programs, &staging.path().join("data"), &tmp).await?;
    std::fs::remove_dir_all(&tmp)
        .map_err(|e| TestkitError::io(format!("removing {}", tmp.display()), e))?;
    let marker = staging.path().join(MARKER);
    std::fs::write(&marker, &key.text)
        .map_err(|e| TestkitError::io(format!("writing {}", marker.display()), e))?;
    if path.exists() && !is_complete(&path) {
        set_aside(cache, &path);
    }
    match std::fs::rename(staging.path(), &path) {
        Ok(()) => {
            // Renamed away: nothing left for the guard to remove.
            let _ = staging.keep();
            tracing::info!(template = %path.display(), "installed a test server data directory template");
            Ok(DataTemplate {
                path,
                built_now: true,
            })
        }
        // Another process renamed its copy first: use that, drop ours.
        Err(_) if is_complete(&path) => Ok(DataTemplate {
            path,
            built_now: false,
        }),
        Err(e) => Err(TestkitError::io(
            format!("moving the new template into {}", path.display()),
            e,
        )),
    }
}

fn is_complete(template: &Path) -> bool {
    template.join(MARKER).is_file()
}

/// Moves an incomplete template out of the way and removes it, best effort
/// (a process racing here may have done it already).
fn set_aside(cache: &Path, incomplete: &Path) {
    let aside = cache.join(format!(".incomplete-{:016x}", fastrand::u64(..)));
    tracing::warn!(template = %incomplete.display(),
        "ignoring a test server data directory template without {MARKER}; rebuilding it");
    if std::fs::rename(incomplete, &aside).is_ok() {
        let _ = std::fs::remove_dir_all(&aside);
    }
}

/// Creates the cache directory (mode 0700) and refuses one that belongs to
/// another user: a shared `/tmp` must not hand us someone else's data.
fn create_private_dir(dir: &Path) -> Result<(), TestkitError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let what = || format!("creating the template cache {}", dir.display());
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| TestkitError::io(what(), e))?;
    let meta = std::fs::metadata(dir).map_err(|e| TestkitError::io(what(), e))?;
    if meta.uid() != current_uid() {
        let e = std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("it belongs to uid {}, not to this process's", meta.uid()),
        );
        return Err(TestkitError::io(what(), e));
    }
    Ok(())
}

/// Copies the directory tree `from` to `to` (which must not exist): plain
/// files, byte for byte, with their permissions. A template holds nothing
/// else; a link or special file is refused.
fn copy_tree(from: &Path, to: &Path) -> Result<(), TestkitError> {
    std::fs::create_dir(to)
        .map_err(|e| TestkitError::io(format!("creating {}", to.display()), e))?;
    let entries = std::fs::read_dir(from)
        .map_err(|e| TestkitError::io(format!("reading {}", from.display()), e))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| TestkitError::io(format!("reading {}", from.display()), e))?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| TestkitError::io(format!("reading {}", source.display()), e))?;
        if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target).map_err(|e| {
                TestkitError::io(
                    format!("copying {} to {}", source.display(), target.display()),
                    e,
                )
            })?;
        } else {
            let e = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a plain file or directory",
            );
            return Err(TestkitError::io(format!("copying {}", source.display()), e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn the_variable_and_fresh_install_turn_templates_off() {
        let own = TemplateChoice::Cache(PathBuf::from("/somewhere"));
        assert_eq!(cache_dir(&own, None), Some(PathBuf::from("/somewhere")));
        for off in ["1", "yes", "true"] {
            assert_eq!(cache_dir(&own, Some(OsStr::new(off))), None, "{off}");
            assert_eq!(
                cache_dir(&TemplateChoice::Default, Some(OsStr::new(off))),
                None
            );
        }
        for on in ["", "0"] {
            assert!(cache_dir(&TemplateChoice::Default, Some(OsStr::new(on))).is_some());
        }
        assert_eq!(cache_dir(&TemplateChoice::FreshInstall, None), None);
        let default = cache_dir(&TemplateChoice::Default, None).unwrap();
        let name = default.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(name, format!("pool-testkit-templates-{}", current_uid()));
    }

    fn programs(version: &str) -> ServerPrograms {
        ServerPrograms {
            server: PathBuf::from("/nonexistent/mariadbd"),
            install_db: PathBuf::from("/nonexistent/mariadb-install-db"),
            version: version.into(),
        }
    }

    #[test]
    fn the_key_changes_with_the_server_version() {
        let a = TemplateKey::new(&programs("mariadbd  Ver 10.11.6-MariaDB"));
        let b = TemplateKey::new(&programs("mariadbd  Ver 10.11.7-MariaDB"));
        assert_ne!(a.dir_name(), b.dir_name());
        let again = TemplateKey::new(&programs("mariadbd  Ver 10.11.6-MariaDB"));
        assert_eq!(a.dir_name(), again.dir_name());
        assert_eq!(a.dir_name().len(), 16);
    }

    #[test]
    fn a_tree_is_copied_file_by_file() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir(from.path().join("mysql")).unwrap();
        std::fs::write(from.path().join("ibdata1"), b"pages").unwrap();
        std::fs::write(from.path().join("mysql/user.MAD"), b"rows").unwrap();
        let to = tempfile::tempdir().unwrap();
        let target = to.path().join("data");
        copy_tree(from.path(), &target).unwrap();
        assert_eq!(std::fs::read(target.join("ibdata1")).unwrap(), b"pages");
        assert_eq!(
            std::fs::read(target.join("mysql/user.MAD")).unwrap(),
            b"rows"
        );
        // The copy is its own: writing it leaves the template alone.
        std::fs::write(target.join("ibdata1"), b"changed").unwrap();
        assert_eq!(
            std::fs::read(from.path().join("ibdata1")).unwrap(),
            b"pages"
        );
    }
}
