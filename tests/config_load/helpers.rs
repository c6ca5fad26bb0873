//! What several test modules share: the files and URLs they use, sources to
//! compare with, and assertions on a `ConfigError` that check the rendered
//! text names the key and its source.

use std::path::PathBuf;

use figment::Jail;
use pool_runtime::config::{ConfigIssue, Source};
use pool_runtime::{ConfigError, Loaded, PoolConfig};

use crate::types::Db;

pub(crate) const DB_FILE: &str = "config/db.yaml";

pub(crate) const URL: &str = "mysql://app@db.internal:3306/shop";
pub(crate) const PRIMARY: &str = "mysql://app@primary.internal:3306/shop";
pub(crate) const REPLICA: &str = "mysql://app@replica.internal:3306/shop";

pub(crate) fn file(path: &str, key: &str) -> Source {
    Source::File {
        path: PathBuf::from(path),
        key: key.to_owned(),
    }
}

pub(crate) fn env(var: &str) -> Source {
    Source::Env {
        var: var.to_owned(),
    }
}

/// Writes `config/db.yaml`.
pub(crate) fn db_file(jail: &Jail, yaml: &str) -> figment::Result<()> {
    jail.create_dir("config")?;
    jail.create_file(DB_FILE, yaml)?;
    Ok(())
}

#[track_caller]
pub(crate) fn expect_err<T: PoolConfig + std::fmt::Debug>(
    result: Result<Loaded<T>, ConfigError>,
) -> ConfigError {
    match result {
        Ok(loaded) => panic!("expected a config error, but it loaded: {:?}", *loaded),
        Err(e) => e,
    }
}

#[track_caller]
pub(crate) fn expect_ok<T: PoolConfig>(result: Result<Loaded<T>, ConfigError>) -> Loaded<T> {
    match result {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the config to load, got:\n{e}"),
    }
}

#[track_caller]
pub(crate) fn issue<'e>(err: &'e ConfigError, key: &str) -> &'e ConfigIssue {
    err.issues
        .iter()
        .find(|i| i.key == key)
        .unwrap_or_else(|| panic!("no issue for `{key}` in:\n{err}\n{err:?}"))
}

/// The one issue of `err`, which must be about `key` from `source`, with
/// `problem` in its text; the rendered error names the key and the source.
#[track_caller]
pub(crate) fn assert_single_issue(err: &ConfigError, key: &str, source: &Source, problem: &str) {
    assert_eq!(err.issues.len(), 1, "exactly one issue expected:\n{err}");
    assert_issue(err, key, source, problem);
}

#[track_caller]
pub(crate) fn assert_issue(err: &ConfigError, key: &str, source: &Source, problem: &str) {
    let found = issue(err, key);
    assert_eq!(&found.source, source, "source of `{key}` in:\n{err}");
    assert!(
        found.problem.contains(problem),
        "problem of `{key}` should mention {problem:?}: {:?}",
        found.problem
    );
    let text = err.to_string();
    assert!(
        text.contains(key),
        "error text names the key `{key}`:\n{text}"
    );
    match source {
        Source::Env { var } => assert!(text.contains(var.as_str()), "names {var}:\n{text}"),
        Source::File { path, key } => {
            let path = path.display().to_string();
            assert!(text.contains(&path), "names the file {path}:\n{text}");
            assert!(
                text.contains(key.as_str()),
                "names the file key {key}:\n{text}"
            );
        }
        _ => {}
    }
}

/// Loads `Db` with `line` appended to a valid file; expects one issue for
/// `key` from the file.
#[track_caller]
pub(crate) fn bad_in_file(line: &str, key: &str, file_key: &str, problem: &str) {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n{line}\n"))?;
        let err = expect_err(Db::load());
        assert_single_issue(&err, key, &file(DB_FILE, file_key), problem);
        Ok(())
    });
}

/// Loads `Db` with a valid file and `var=value`; expects one issue for `key`
/// naming exactly `var`.
#[track_caller]
pub(crate) fn bad_in_env(var: &str, value: &str, key: &str, problem: &str) {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env(var, value);
        let err = expect_err(Db::load());
        assert_single_issue(&err, key, &env(var), problem);
        Ok(())
    });
}
