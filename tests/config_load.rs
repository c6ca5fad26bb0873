//! Loading a `#[derive(PoolConfig)]` struct: defaults < YAML file < environment,
//! where each value came from, and a clear error (never a panic) for every
//! kind of bad input, all problems at once.
//!
//! Every test that reads files or the environment runs inside a
//! `figment::Jail`: tests are serialised, the working directory is a fresh
//! temporary one, and the environment is restored afterwards.

#![allow(clippy::result_large_err)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use figment::Jail;
use pool_runtime::config::{ConfigIssue, Setting, Source};
use pool_runtime::{ConfigError, DatabaseUrl, Loaded, PoolConfig, PoolOptions, ResetPolicy};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

// ---------------------------------------------------------------------------
// Config types under test
// ---------------------------------------------------------------------------

/// The shape of the design document's example.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
struct Db {
    /// Where the database is.
    url: String,
    /// Most connections open at once.
    #[pool(default = 100)]
    max_open: u32,
    #[pool(default = 10)]
    max_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Duration,
    #[pool(default = "5m")]
    max_idle_time: Option<Duration>,
    #[pool(default = "30s")]
    acquire_timeout: Duration,
    /// Not a pool setting.
    #[pool(skip, default = "shop")]
    app_label: String,
}

/// The URL typed as `DatabaseUrl`, which parses itself.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_TYPED", file = "typed.yaml")]
struct TypedUrl {
    url: DatabaseUrl,
    #[pool(default = 10)]
    max_open: u32,
}

/// A file that may be absent.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_OPT", file = "config/optional.yaml", file_optional)]
struct OptionalFile {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
}

/// One pool of several.
#[derive(PoolConfig)]
struct Inner {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
    #[pool(default = "5m")]
    max_idle_time: Duration,
}

#[derive(PoolConfig)]
#[pool(env_prefix = "APP", file = "app.yaml")]
struct Outer {
    #[pool(nested)]
    primary: Inner,
    #[pool(nested)]
    replica: Inner,
}

/// Every pool setting, for the property tests and the template round trip.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_ALL", file = "all.yaml", file_optional)]
struct Every {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
    #[pool(default = 2)]
    max_idle: u32,
    #[pool(default = 0)]
    min_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Option<Duration>,
    #[pool(default = "5m")]
    max_idle_time: Duration,
    #[pool(default = "30s")]
    acquire_timeout: Duration,
    #[pool(default = "10s")]
    connect_timeout: Duration,
    validation_timeout: Option<Duration>,
    #[pool(default = "500ms")]
    validate_after_idle: Duration,
    keepalive_interval: Option<Duration>,
    #[pool(default = "60s")]
    tcp_keepalive: Option<Duration>,
    init_sql: Vec<String>,
    leak_threshold: Option<Duration>,
    #[pool(default = "1s")]
    maintenance_interval: Duration,
    #[pool(default = "when_dirty")]
    reset_on_return: ResetPolicy,
    #[pool(default = true)]
    retry_reads: bool,
    statement_timeout: Option<Duration>,
    #[pool(default = 1)]
    replicas: u32,
}

/// Every setting but `replicas`, which comes from the container attribute.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_MAP", file = "map.yaml", replicas = 3)]
struct Mapped {
    url: String,
    max_open: u32,
    max_idle: u32,
    min_idle: u32,
    max_lifetime: Duration,
    max_idle_time: Option<Duration>,
    acquire_timeout: Duration,
    connect_timeout: Duration,
    validation_timeout: Option<Duration>,
    validate_after_idle: Duration,
    keepalive_interval: Option<Duration>,
    tcp_keepalive: Option<Duration>,
    init_sql: Vec<String>,
    leak_threshold: Option<Duration>,
    maintenance_interval: Duration,
    reset_on_return: ResetPolicy,
    retry_reads: bool,
    statement_timeout: Option<Duration>,
}

/// A plain (skip) field whose default needs quoting in YAML.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_TPL", file = "tpl.yaml")]
struct TrickyDefault {
    url: String,
    #[pool(skip, default = "shop #eu-1: main")]
    app_label: String,
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const DB_FILE: &str = "config/db.yaml";
const URL: &str = "mysql://app@db.internal:3306/shop";

fn file(path: &str, key: &str) -> Source {
    Source::File {
        path: PathBuf::from(path),
        key: key.to_owned(),
    }
}

fn env(var: &str) -> Source {
    Source::Env {
        var: var.to_owned(),
    }
}

/// Writes `config/db.yaml`.
fn db_file(jail: &Jail, yaml: &str) -> figment::Result<()> {
    jail.create_dir("config")?;
    jail.create_file(DB_FILE, yaml)?;
    Ok(())
}

#[track_caller]
fn expect_err<T: PoolConfig + std::fmt::Debug>(
    result: Result<Loaded<T>, ConfigError>,
) -> ConfigError {
    match result {
        Ok(loaded) => panic!("expected a config error, but it loaded: {:?}", *loaded),
        Err(e) => e,
    }
}

#[track_caller]
fn expect_ok<T: PoolConfig>(result: Result<Loaded<T>, ConfigError>) -> Loaded<T> {
    match result {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the config to load, got:\n{e}"),
    }
}

#[track_caller]
fn issue<'e>(err: &'e ConfigError, key: &str) -> &'e ConfigIssue {
    err.issues
        .iter()
        .find(|i| i.key == key)
        .unwrap_or_else(|| panic!("no issue for `{key}` in:\n{err}\n{err:?}"))
}

/// The one issue of `err`, which must be about `key` from `source`, with
/// `problem` in its text; the rendered error names the key and the source.
#[track_caller]
fn assert_single_issue(err: &ConfigError, key: &str, source: &Source, problem: &str) {
    assert_eq!(err.issues.len(), 1, "exactly one issue expected:\n{err}");
    assert_issue(err, key, source, problem);
}

#[track_caller]
fn assert_issue(err: &ConfigError, key: &str, source: &Source, problem: &str) {
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

/// A YAML double-quoted scalar holding exactly `s`: every character outside
/// printable ASCII is escaped, so any string survives.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------
// Precedence and sources
// ---------------------------------------------------------------------------

#[test]
fn defaults_then_file_then_env_with_exact_sources() {
    Jail::expect_with(|jail| {
        db_file(
            jail,
            &format!("url: {URL}\nmax_open: 20\nmax_idle: 5\nmax_lifetime: 10m\n"),
        )?;
        jail.set_env("APP_DB_MAX_IDLE", "7");
        jail.set_env("APP_DB_MAX_LIFETIME", "1h30m");

        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.url, URL);
        assert_eq!(cfg.max_open, 20); // file over default
        assert_eq!(cfg.max_idle, 7); // env over file
        assert_eq!(cfg.max_lifetime, Duration::from_secs(5400)); // env over file
        assert_eq!(cfg.max_idle_time, Some(Duration::from_secs(300))); // default
        assert_eq!(cfg.acquire_timeout, Duration::from_secs(30)); // default
        assert_eq!(cfg.app_label, "shop");

        let s = cfg.sources();
        assert_eq!(s.of("url"), file(DB_FILE, "url"));
        assert_eq!(s.of("max_open"), file(DB_FILE, "max_open"));
        assert_eq!(s.of("max_idle"), env("APP_DB_MAX_IDLE"));
        assert_eq!(s.of("max_lifetime"), env("APP_DB_MAX_LIFETIME"));
        assert_eq!(s.of("max_idle_time"), Source::Default);
        assert_eq!(s.of("acquire_timeout"), Source::Default);
        Ok(())
    });
}

#[test]
fn env_alone_overrides_defaults() {
    Jail::expect_with(|jail| {
        db_file(jail, "")?;
        jail.set_env("APP_DB_URL", URL);
        jail.set_env("APP_DB_MAX_OPEN", "33");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_open, 33);
        assert_eq!(cfg.sources().of("url"), env("APP_DB_URL"));
        assert_eq!(cfg.sources().of("max_open"), env("APP_DB_MAX_OPEN"));
        assert_eq!(cfg.sources().of("max_idle"), Source::Default);
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// The config file
// ---------------------------------------------------------------------------

#[test]
fn config_file_variable_overrides_the_attribute() {
    Jail::expect_with(|jail| {
        // The attribute's file exists too: the variable wins over it.
        db_file(jail, &format!("url: {URL}\nmax_open: 1\n"))?;
        jail.create_file("other.yaml", &format!("url: {URL}\nmax_open: 42\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "other.yaml");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_open, 42);
        assert_eq!(cfg.sources().of("max_open"), file("other.yaml", "max_open"));
        Ok(())
    });
}

#[test]
fn config_file_variable_is_not_taken_for_a_key() {
    Jail::expect_with(|jail| {
        jail.create_file("other.yaml", &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "other.yaml");
        // No `config_file` unknown-key issue, and the attribute file need not exist.
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.sources().of("url"), file("other.yaml", "url"));
        Ok(())
    });
}

#[test]
fn missing_attribute_file_names_the_file_and_the_override_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_DB_URL", URL);
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        assert!(text.contains("APP_DB_CONFIG_FILE"), "{text}");
        Ok(())
    });
}

#[test]
fn missing_file_named_by_the_variable_is_an_error_naming_both() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "nowhere/db.yaml");
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        assert_eq!(err.issues[0].source, env("APP_DB_CONFIG_FILE"));
        let text = err.to_string();
        assert!(text.contains("nowhere/db.yaml"), "{text}");
        assert!(text.contains("APP_DB_CONFIG_FILE"), "{text}");
        Ok(())
    });
}

#[test]
fn file_optional_makes_an_absent_file_fine() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_OPT_URL", URL);
        let cfg = expect_ok(OptionalFile::load());
        assert_eq!(cfg.max_open, 10);
        assert_eq!(cfg.sources().of("url"), env("APP_OPT_URL"));
        Ok(())
    });
}

#[test]
fn file_optional_still_reads_the_file_when_present() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/optional.yaml",
            &format!("url: {URL}\nmax_open: 4\n"),
        )?;
        let cfg = expect_ok(OptionalFile::load());
        assert_eq!(cfg.max_open, 4);
        assert_eq!(
            cfg.sources().of("max_open"),
            file("config/optional.yaml", "max_open")
        );
        Ok(())
    });
}

#[test]
fn file_optional_does_not_excuse_a_missing_file_named_by_the_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_OPT_URL", URL);
        jail.set_env("APP_OPT_CONFIG_FILE", "typo.yaml");
        let err = expect_err(OptionalFile::load());
        let text = err.to_string();
        assert!(text.contains("typo.yaml"), "{text}");
        assert_eq!(err.issues[0].source, env("APP_OPT_CONFIG_FILE"));
        Ok(())
    });
}

#[test]
fn a_directory_where_the_file_should_be_is_an_error_naming_it() {
    Jail::expect_with(|jail| {
        jail.create_dir(DB_FILE)?;
        jail.set_env("APP_DB_URL", URL);
        let err = expect_err(Db::load());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        assert!(text.contains("not a file"), "{text}");
        Ok(())
    });
}

#[test]
fn a_file_without_permissions_loads_or_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt as _;
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\nmax_open: 9\n"))?;
        std::fs::set_permissions(DB_FILE, std::fs::Permissions::from_mode(0o000))
            .map_err(|e| e.to_string())?;
        let result = std::panic::catch_unwind(Db::load).expect("load never panics");
        // Restore, so the jail can remove it.
        std::fs::set_permissions(DB_FILE, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| e.to_string())?;
        match result {
            // root reads any file.
            Ok(cfg) => assert_eq!(cfg.max_open, 9),
            Err(err) => {
                let text = err.to_string();
                assert!(text.contains(DB_FILE), "{text}");
                assert!(text.contains("cannot read"), "{text}");
            }
        }
        Ok(())
    });
}

#[test]
fn invalid_yaml_names_the_file() {
    Jail::expect_with(|jail| {
        db_file(jail, "url: [unclosed\nmax_open: 5\n")?;
        let err = expect_err(Db::load());
        assert!(!err.issues.is_empty());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        for issue in &err.issues {
            assert!(
                matches!(&issue.source, Source::File { path, .. } if path == &PathBuf::from(DB_FILE)),
                "{issue:?}"
            );
        }
        Ok(())
    });
}

#[test]
fn yaml_that_is_not_a_mapping_names_the_file() {
    Jail::expect_with(|jail| {
        db_file(jail, "- url\n- max_open\n")?;
        let err = expect_err(Db::load());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Bad values: key + source, never a panic
// ---------------------------------------------------------------------------

/// Loads `Db` with `line` appended to a valid file; expects one issue for
/// `key` from the file.
#[track_caller]
fn bad_in_file(line: &str, key: &str, file_key: &str, problem: &str) {
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
fn bad_in_env(var: &str, value: &str, key: &str, problem: &str) {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env(var, value);
        let err = expect_err(Db::load());
        assert_single_issue(&err, key, &env(var), problem);
        Ok(())
    });
}

#[test]
fn negative_values_are_refused_from_file_and_env() {
    bad_in_file("max_open: -1", "max_open", "max_open", "negative");
    bad_in_env("APP_DB_MAX_OPEN", "-1", "max_open", "negative");
    bad_in_file(
        "max_lifetime: -1",
        "max_lifetime",
        "max_lifetime",
        "negative",
    );
    bad_in_env("APP_DB_MAX_LIFETIME", "-5m", "max_lifetime", "negative");
}

#[test]
fn zero_durations_are_refused_where_they_cannot_work() {
    bad_in_file("max_lifetime: 0s", "max_lifetime", "max_lifetime", "0");
    bad_in_file(
        "acquire_timeout: 0",
        "acquire_timeout",
        "acquire_timeout",
        "longer than 0",
    );
    bad_in_env(
        "APP_DB_ACQUIRE_TIMEOUT",
        "0",
        "acquire_timeout",
        "longer than 0",
    );
    bad_in_env("APP_DB_MAX_IDLE_TIME", "0s", "max_idle_time", "off");
}

/// The fix an error proposes must be one the field accepts: `max_lifetime`
/// is a plain `Duration` here, so "write `off`" cannot be the advice.
#[test]
fn zero_duration_advice_is_accepted_by_the_field() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\nmax_lifetime: 0s\n"))?;
        let err = expect_err(Db::load());
        let problem = issue(&err, "max_lifetime").problem.clone();
        if problem.contains("`off`") {
            db_file(jail, &format!("url: {URL}\nmax_lifetime: off\n"))?;
            let followed = Db::load();
            assert!(
                followed.is_ok(),
                "the error said {problem:?}, but following it gives:\n{}",
                followed.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
        Ok(())
    });
}

#[test]
fn huge_counts_are_refused() {
    bad_in_file("max_open: 99999999999", "max_open", "max_open", "too large");
    bad_in_file("max_open: 200000", "max_open", "max_open", "100000");
    bad_in_env("APP_DB_MAX_OPEN", "200000", "max_open", "100000");
    bad_in_env(
        "APP_DB_MAX_IDLE",
        "99999999999999999999999999",
        "max_idle",
        "",
    );
}

/// The library refuses durations "longer than a century" as typos; the
/// rule must not depend on whether the value was written with units.
#[test]
fn huge_durations_are_refused_whatever_their_spelling() {
    bad_in_file(
        "max_lifetime: 1000000000000s",
        "max_lifetime",
        "max_lifetime",
        "too large",
    );
    bad_in_file(
        "max_lifetime: 1000000000000",
        "max_lifetime",
        "max_lifetime",
        "too large",
    );
    bad_in_env(
        "APP_DB_MAX_LIFETIME",
        "18446744073709551615",
        "max_lifetime",
        "too large",
    );
    bad_in_file(
        "max_lifetime: 999999999999999999999h",
        "max_lifetime",
        "max_lifetime",
        "",
    );
}

#[test]
fn wrong_types_are_refused() {
    bad_in_file("max_open: ten", "max_open", "max_open", "whole number");
    bad_in_env("APP_DB_MAX_OPEN", "ten", "max_open", "whole number");
    bad_in_file("max_open: 1.5", "max_open", "max_open", "");
    bad_in_file(
        "max_lifetime: [1, 2]",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
    bad_in_file(
        "max_lifetime: {a: 1}",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
    bad_in_file(
        "max_lifetime: true",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
}

#[test]
fn misspelt_durations_quote_the_typo() {
    bad_in_file(
        "max_lifetime: 10 mintues",
        "max_lifetime",
        "max_lifetime",
        "mintues",
    );
    bad_in_env(
        "APP_DB_MAX_LIFETIME",
        "10 mintues",
        "max_lifetime",
        "mintues",
    );
    bad_in_file(
        "max_idle_time: \"10 mintues\"",
        "max_idle_time",
        "max_idle_time",
        "mintues",
    );
}

#[test]
fn unknown_keys_suggest_the_closest_one() {
    bad_in_file(
        "max_opn: 5",
        "max_opn",
        "max_opn",
        "did you mean `max_open`",
    );
    bad_in_env("APP_DB_MAX_OPN", "5", "max_opn", "did you mean `max_open`");
}

#[test]
fn missing_url_says_where_to_set_it() {
    Jail::expect_with(|jail| {
        db_file(jail, "max_open: 5\n")?;
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        let found = issue(&err, "url");
        assert!(found.problem.contains("missing"), "{found:?}");
        let text = err.to_string();
        assert!(text.contains(&format!("`url` in {DB_FILE}")), "{text}");
        assert!(text.contains("APP_DB_URL"), "{text}");
        Ok(())
    });
}

#[test]
fn missing_url_without_the_optional_file_names_the_variable() {
    Jail::expect_with(|_jail| {
        let err = expect_err(OptionalFile::load());
        let text = err.to_string();
        assert!(text.contains("APP_OPT_URL"), "{text}");
        Ok(())
    });
}

#[test]
fn an_invalid_url_is_refused_at_load_with_its_source() {
    // `url: String`, as in the design document.
    Jail::expect_with(|jail| {
        db_file(jail, "url: notaurl\n")?;
        let err = expect_err(Db::load());
        assert_single_issue(&err, "url", &file(DB_FILE, "url"), "");
        Ok(())
    });
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env(
            "APP_DB_URL",
            "mysql://app:hunter2-Pa55@db.internal:notaport/shop",
        );
        let err = expect_err(Db::load());
        assert_single_issue(&err, "url", &env("APP_DB_URL"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        Ok(())
    });
}

#[test]
fn an_invalid_database_url_is_refused_without_its_password() {
    Jail::expect_with(|jail| {
        jail.create_file("typed.yaml", "url: notaurl\n")?;
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &file("typed.yaml", "url"), "");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file(
            "typed.yaml",
            "url: mysql://app:hunter2-Pa55@db.internal:notaport/shop\n",
        )?;
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &file("typed.yaml", "url"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        assert!(all.contains("db.internal"), "the host helps find it: {all}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("typed.yaml", "")?;
        jail.set_env(
            "APP_TYPED_URL",
            "mysql://app:hunter2-Pa55@db.internal:notaport/shop",
        );
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &env("APP_TYPED_URL"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        Ok(())
    });
}

#[test]
fn all_problems_are_reported_together() {
    Jail::expect_with(|jail| {
        db_file(
            jail,
            &format!("url: {URL}\nmax_open: ten\nmax_lifetime: 10 mintues\n"),
        )?;
        jail.set_env("APP_DB_MAX_IDLE", "-1");
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 3, "{err}");
        assert_issue(&err, "max_open", &file(DB_FILE, "max_open"), "whole number");
        assert_issue(
            &err,
            "max_lifetime",
            &file(DB_FILE, "max_lifetime"),
            "mintues",
        );
        assert_issue(&err, "max_idle", &env("APP_DB_MAX_IDLE"), "negative");
        let text = err.to_string();
        assert!(text.contains("3 config problems"), "{text}");
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Durations
// ---------------------------------------------------------------------------

#[test]
fn durations_accept_seconds_and_units_from_yaml_and_env() {
    let cases = [
        ("600", 600),
        ("\"600\"", 600),
        ("\"600s\"", 600),
        ("600s", 600),
        ("10m", 600),
        ("\"10m\"", 600),
        ("1h30m", 5400),
        ("\"1h 30m\"", 5400),
    ];
    for (yaml, secs) in cases {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\nmax_lifetime: {yaml}\n"))?;
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_lifetime, Duration::from_secs(secs), "yaml {yaml}");
            Ok(())
        });
    }
    for (text, secs) in [("600", 600), ("600s", 600), ("10m", 600), ("1h30m", 5400)] {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\n"))?;
            jail.set_env("APP_DB_MAX_LIFETIME", text);
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_lifetime, Duration::from_secs(secs), "env {text}");
            Ok(())
        });
    }
}

#[test]
fn optional_durations_can_be_switched_off() {
    for yaml in ["off", "\"off\"", "~", "never", "none"] {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\nmax_idle_time: {yaml}\n"))?;
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_idle_time, None, "yaml {yaml}");
            assert_eq!(
                cfg.sources().of("max_idle_time"),
                file(DB_FILE, "max_idle_time")
            );
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_MAX_IDLE_TIME", "off");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_idle_time, None);
        assert_eq!(
            cfg.sources().of("max_idle_time"),
            env("APP_DB_MAX_IDLE_TIME")
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Nested configs
// ---------------------------------------------------------------------------

const PRIMARY: &str = "mysql://app@primary.internal:3306/shop";
const REPLICA: &str = "mysql://app@replica.internal:3306/shop";

#[test]
fn nested_configs_load_from_file_and_double_underscore_env() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\n  max_open: 5\nreplica:\n  url: {REPLICA}\n"),
        )?;
        jail.set_env("APP_REPLICA__MAX_OPEN", "7");
        let cfg = expect_ok(Outer::load());
        assert_eq!(cfg.primary.url, PRIMARY);
        assert_eq!(cfg.primary.max_open, 5);
        assert_eq!(cfg.replica.url, REPLICA);
        assert_eq!(cfg.replica.max_open, 7);
        assert_eq!(cfg.replica.max_idle_time, Duration::from_secs(300));

        let s = cfg.sources();
        assert_eq!(
            s.of("primary.max_open"),
            file("app.yaml", "primary.max_open")
        );
        assert_eq!(s.of("primary.url"), file("app.yaml", "primary.url"));
        assert_eq!(s.of("replica.max_open"), env("APP_REPLICA__MAX_OPEN"));
        assert_eq!(s.of("replica.max_idle_time"), Source::Default);

        let replica = cfg.section::<Inner>("replica").expect("replica section");
        assert_eq!(replica.max_open, 7);
        assert_eq!(replica.url, REPLICA);
        assert_eq!(
            replica.sources().of("max_open"),
            env("APP_REPLICA__MAX_OPEN")
        );
        assert_eq!(replica.sources().of("url"), file("app.yaml", "replica.url"));
        assert_eq!(replica.sources().of("max_idle_time"), Source::Default);
        assert!(
            replica
                .sources()
                .iter()
                .all(|(k, _)| !k.starts_with("replica.")),
            "section sources are relative: {:?}",
            replica.sources()
        );

        let primary = cfg.section::<Inner>("primary").expect("primary section");
        assert_eq!(
            primary.sources().of("max_open"),
            file("app.yaml", "primary.max_open")
        );
        assert_eq!(primary.options().max_open, 5);
        Ok(())
    });
}

#[test]
fn nested_problems_name_the_dotted_key_and_the_source() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\n  max_opn: 5\nreplica:\n  max_open: 3\n"),
        )?;
        jail.set_env("APP_PRIMARY__MAX_IDLE_TIME", "10 mintues");
        let err = expect_err(Outer::load());
        assert_eq!(err.issues.len(), 3, "{err}");
        assert_issue(
            &err,
            "primary.max_opn",
            &file("app.yaml", "primary.max_opn"),
            "did you mean `max_open`",
        );
        assert_issue(
            &err,
            "primary.max_idle_time",
            &env("APP_PRIMARY__MAX_IDLE_TIME"),
            "mintues",
        );
        let missing = issue(&err, "replica.url");
        assert!(
            missing.problem.contains("`replica.url` in app.yaml"),
            "{missing:?}"
        );
        assert!(missing.problem.contains("APP_REPLICA__URL"), "{missing:?}");
        Ok(())
    });
}

#[test]
fn unknown_top_level_key_next_to_nested_ones() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\nreplica:\n  url: {REPLICA}\nprimry: {{}}\n"),
        )?;
        let err = expect_err(Outer::load());
        assert_single_issue(
            &err,
            "primry",
            &file("app.yaml", "primry"),
            "did you mean `primary`",
        );
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// options()
// ---------------------------------------------------------------------------

#[test]
fn options_map_every_setting_onto_pool_options() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "map.yaml",
            "url: mysql://app:pw@db.internal:3307/shop\n\
             max_open: 40\n\
             max_idle: 12\n\
             min_idle: 3\n\
             max_lifetime: 20m\n\
             max_idle_time: 4m\n\
             acquire_timeout: 7s\n\
             connect_timeout: 3s\n\
             validation_timeout: 250ms\n\
             validate_after_idle: 2s\n\
             keepalive_interval: 90s\n\
             tcp_keepalive: off\n\
             init_sql:\n  - SET NAMES utf8mb4\n  - SET time_zone = '+00:00'\n\
             leak_threshold: 1m\n\
             maintenance_interval: 5s\n\
             reset_on_return: always\n\
             retry_reads: false\n\
             statement_timeout: 15s\n",
        )?;
        let cfg = expect_ok(Mapped::load());
        let options = cfg.options();

        let mut expected =
            PoolOptions::from_url("mysql://app:pw@db.internal:3307/shop").expect("url");
        expected.max_open = 40;
        expected.max_idle = 12;
        expected.min_idle = 3;
        expected.max_lifetime = Some(Duration::from_secs(20 * 60));
        expected.max_idle_time = Some(Duration::from_secs(4 * 60));
        expected.acquire_timeout = Duration::from_secs(7);
        expected.connect_timeout = Duration::from_secs(3);
        expected.validation_timeout = Some(Duration::from_millis(250));
        expected.validate_after_idle = Duration::from_secs(2);
        expected.keepalive_interval = Some(Duration::from_secs(90));
        expected.tcp_keepalive = None;
        expected.init_sql = vec![
            "SET NAMES utf8mb4".to_owned(),
            "SET time_zone = '+00:00'".to_owned(),
        ];
        expected.leak_threshold = Some(Duration::from_secs(60));
        expected.maintenance_interval = Duration::from_secs(5);
        expected.reset_on_return = ResetPolicy::Always;
        expected.retry_reads = false;
        expected.statement_timeout = Some(Duration::from_secs(15));
        expected.replicas = 3;

        // Each expected value differs from the default, so none can pass by accident.
        let defaults = PoolOptions::default();
        assert_ne!(expected.max_open, defaults.max_open);
        assert_ne!(expected.tcp_keepalive, defaults.tcp_keepalive);
        assert_ne!(expected.reset_on_return, defaults.reset_on_return);
        assert_ne!(expected.retry_reads, defaults.retry_reads);
        assert_ne!(expected.replicas, defaults.replicas);

        assert_eq!(options, expected);
        // `Loaded::options` and the config's own agree.
        assert_eq!(cfg.options(), (*cfg).options());
        Ok(())
    });
}

#[test]
fn options_keep_pool_defaults_for_settings_the_config_does_not_name() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        let cfg = expect_ok(Db::load());
        let options = cfg.options();
        let defaults = PoolOptions::default();
        assert_eq!(
            options.url.as_ref().map(|u| u.to_string()).as_deref(),
            Some(URL)
        );
        assert_eq!(options.max_open, 100);
        assert_eq!(options.max_idle, 10);
        assert_eq!(options.max_lifetime, Some(Duration::from_secs(1800)));
        assert_eq!(options.max_idle_time, Some(Duration::from_secs(300)));
        assert_eq!(options.min_idle, defaults.min_idle);
        assert_eq!(options.connect_timeout, defaults.connect_timeout);
        assert_eq!(options.replicas, 1);
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// keys() and yaml_template()
// ---------------------------------------------------------------------------

#[test]
fn keys_list_every_key_with_env_var_and_default() {
    let keys = Db::keys();
    let got: Vec<(&str, Option<&str>, Option<&str>)> = keys
        .iter()
        .map(|k| (k.key.as_str(), k.env_var.as_deref(), k.default.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("url", Some("APP_DB_URL"), None),
            ("max_open", Some("APP_DB_MAX_OPEN"), Some("100")),
            ("max_idle", Some("APP_DB_MAX_IDLE"), Some("10")),
            ("max_lifetime", Some("APP_DB_MAX_LIFETIME"), Some("30m")),
            ("max_idle_time", Some("APP_DB_MAX_IDLE_TIME"), Some("5m")),
            (
                "acquire_timeout",
                Some("APP_DB_ACQUIRE_TIMEOUT"),
                Some("30s")
            ),
            ("app_label", Some("APP_DB_APP_LABEL"), Some("shop")),
        ]
    );
    let url = &keys[0];
    assert!(url.secret);
    assert_eq!(url.setting, Some(Setting::known("url")));
    assert_eq!(url.doc, "Where the database is.");
    assert_eq!(keys[1].setting, Some(Setting::known("max_open")));
    assert_eq!(keys[1].type_name, "u32");
    assert_eq!(keys[4].type_name, "Option<Duration>");
    assert_eq!(keys[6].setting, None);
    assert!(!keys[6].secret);

    let nested: Vec<(String, Option<String>)> = Outer::keys()
        .into_iter()
        .map(|k| (k.key, k.env_var))
        .collect();
    assert_eq!(
        nested,
        [
            ("primary.url", "APP_PRIMARY__URL"),
            ("primary.max_open", "APP_PRIMARY__MAX_OPEN"),
            ("primary.max_idle_time", "APP_PRIMARY__MAX_IDLE_TIME"),
            ("replica.url", "APP_REPLICA__URL"),
            ("replica.max_open", "APP_REPLICA__MAX_OPEN"),
            ("replica.max_idle_time", "APP_REPLICA__MAX_IDLE_TIME"),
        ]
        .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
    );

    assert_eq!(Every::keys().len(), 19, "one key per pool setting");
}

#[test]
fn yaml_template_names_every_key_its_variable_and_default() {
    let template = Db::yaml_template();
    for key in Db::keys() {
        assert!(
            template.contains(&format!("{}:", key.key)),
            "template lacks `{}`:\n{template}",
            key.key
        );
        let var = key.env_var.expect("prefixed");
        assert!(
            template.contains(&format!("# env: {var}")),
            "lacks {var}:\n{template}"
        );
        if let Some(default) = key.default {
            // Text defaults are written quoted, so any text survives.
            let plain = format!("{}: {default}", key.key);
            let quoted = format!("{}: {:?}", key.key, default);
            assert!(
                template.contains(&plain) || template.contains(&quoted),
                "lacks the default of {}:\n{template}",
                key.key
            );
        }
    }
    assert!(template.contains("# Where the database is."), "{template}");
}

/// Writes `T`'s template to `path`, with the placeholder URL(s) replaced,
/// and loads it back.
fn round_trip<T: PoolConfig>(path: &str) -> Loaded<T> {
    let template = T::yaml_template().replace(
        "mysql://user:password@127.0.0.1:3306/db",
        "mysql://app@db.internal:3306/shop",
    );
    let mut out = None;
    Jail::expect_with(|jail| {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                jail.create_dir(dir)?;
            }
        }
        jail.create_file(path, &template)?;
        match T::load() {
            Ok(loaded) => out = Some(loaded),
            Err(e) => panic!("the template does not load back:\n{e}\n--- template ---\n{template}"),
        }
        Ok(())
    });
    out.expect("loaded")
}

#[test]
fn yaml_template_round_trips() {
    let db = round_trip::<Db>(DB_FILE);
    assert_eq!(db.max_open, 100);
    assert_eq!(db.max_lifetime, Duration::from_secs(1800));
    assert_eq!(db.max_idle_time, Some(Duration::from_secs(300)));
    assert_eq!(db.app_label, "shop");
    assert_eq!(db.sources().of("max_open"), file(DB_FILE, "max_open"));

    let every = round_trip::<Every>("all.yaml");
    assert_eq!(every.validate_after_idle, Duration::from_millis(500));
    assert_eq!(every.validation_timeout, None);
    assert!(every.init_sql.is_empty());
    assert_eq!(every.options().max_open, 10);

    let outer = round_trip::<Outer>("app.yaml");
    assert_eq!(outer.replica.max_open, 10);
    assert_eq!(
        outer.sources().of("replica.max_open"),
        file("app.yaml", "replica.max_open")
    );
}

#[test]
fn yaml_template_round_trips_a_default_that_needs_quoting() {
    let cfg = round_trip::<TrickyDefault>("tpl.yaml");
    assert_eq!(cfg.app_label, "shop #eu-1: main");
}

// ---------------------------------------------------------------------------
// Property tests: arbitrary text into every key, from env and from YAML
// ---------------------------------------------------------------------------

const ADVERSARIAL: &[&str] = &[
    "",
    " ",
    "-",
    "--1",
    "-0",
    "0",
    "00",
    "1e99",
    "-1e99",
    "1e-99",
    "NaN",
    "inf",
    "0x10",
    "0o17",
    "0b11",
    "  5  ",
    "5 ",
    "1_000",
    "_",
    "1h-5m",
    "1h 30m",
    "1.5",
    "1.5s",
    "999999999999999999999h",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "-9223372036854775809",
    "99999999999999999999999999999999999999999s",
    "9999999999y",
    "off",
    "OFF",
    "none",
    "true",
    "yes",
    "null",
    "~",
    "[]",
    "[1, 2]",
    "{}",
    "{a=1}",
    "\"quoted\"",
    "'",
    "mysql://",
    "mysql://u:p@",
    "mysql://u:p@h:99999/db",
    "mysql://u:p@h/db?pool_min=x",
    "10 mintues",
    "💥",
    "\u{202e}5",
    "５",
    "\t\n",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => proptest::sample::select(ADVERSARIAL).prop_map(str::to_owned),
        1 => "-?[0-9]{0,25}(\\.[0-9]{0,3})?(e[0-9]{1,3})?",
        1 => "[0-9 ]{0,8}(ns|us|ms|s|m|h|d|w|y|mintues)?([0-9]{0,4}(ms|s|m|h))?",
        1 => "(mysql|http)://[a-z:@%0-9./?=_-]{0,30}",
    ]
}

fn runner() -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Every setting key of `Every` with its variable.
fn every_key() -> Vec<(String, String)> {
    Every::keys()
        .into_iter()
        .map(|k| (k.key, k.env_var.expect("prefixed")))
        .collect()
}

/// Checks the outcome of loading `Every` with `value` in each of `keys`:
/// loaded with each key from `source(key)`, or every issue is about one of
/// those keys, from `source(key)`, and the rendered error names both.
#[track_caller]
fn check_outcome(
    result: Result<Loaded<Every>, ConfigError>,
    keys: &[(String, String)],
    source: impl Fn(&str, &str) -> Source,
    value: &str,
    whole_file_may_fail: Option<&str>,
) {
    match result {
        Ok(loaded) => {
            for (key, var) in keys {
                assert_eq!(
                    loaded.sources().of(key),
                    source(key, var),
                    "{value:?} loaded into `{key}` from the wrong source"
                );
            }
        }
        Err(err) => {
            assert!(
                !err.issues.is_empty(),
                "an error without issues for {value:?}"
            );
            let text = err.to_string();
            for issue in &err.issues {
                if let Some(path) = whole_file_may_fail {
                    if issue.key == "(whole file)" {
                        assert!(
                            matches!(&issue.source, Source::File { path: p, .. } if p == &PathBuf::from(path)),
                            "{issue:?}"
                        );
                        assert!(text.contains(path), "{text}");
                        continue;
                    }
                }
                let Some((key, var)) = keys.iter().find(|(k, _)| *k == issue.key) else {
                    panic!("issue for an unexpected key with {value:?}: {issue:?}\n{text}");
                };
                let expected = source(key, var);
                assert_eq!(issue.source, expected, "{value:?} into `{key}`: {text}");
                assert!(!issue.problem.is_empty(), "{issue:?}");
                assert!(text.contains(key.as_str()), "{text}");
                match &expected {
                    Source::Env { var } => assert!(text.contains(var.as_str()), "{text}"),
                    Source::File { path, .. } => {
                        assert!(text.contains(&path.display().to_string()), "{text}")
                    }
                    _ => {}
                }
            }
        }
    }
}

fn load_from_env(keys: &[(String, String)], value: &str) {
    let value = value.replace('\0', "");
    Jail::expect_with(|jail| {
        for (_, var) in keys {
            jail.set_env(var, &value);
        }
        let result = std::panic::catch_unwind(Every::load)
            .unwrap_or_else(|_| panic!("load panicked on {value:?}"));
        check_outcome(result, keys, |_, var| env(var), &value, None);
        Ok(())
    });
}

fn load_from_yaml(keys: &[(String, String)], value: &str, quoted: bool) {
    let mut yaml = String::new();
    let written = if quoted {
        yaml_quoted(value)
    } else {
        value.to_owned()
    };
    for (key, _) in keys {
        let _ = writeln!(yaml, "{key}: {written}");
    }
    Jail::expect_with(|jail| {
        jail.create_file("all.yaml", &yaml)?;
        let result = std::panic::catch_unwind(Every::load)
            .unwrap_or_else(|_| panic!("load panicked on {yaml:?}"));
        check_outcome(
            result,
            keys,
            |key, _| file("all.yaml", key),
            value,
            (!quoted).then_some("all.yaml"),
        );
        Ok(())
    });
}

#[test]
fn yaml_quoting_keeps_any_text() {
    let mut runner = runner();
    runner
        .run(&any::<String>(), |s| {
            let doc = format!("k: {}\n", yaml_quoted(&s));
            let parsed = figment::Figment::from(
                <pool_runtime::config::Yaml as figment::providers::Format>::string(&doc),
            )
            .extract_inner::<String>("k");
            prop_assert_eq!(parsed.ok(), Some(s));
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_text_in_any_key_from_env_is_loaded_or_named() {
    let keys = every_key();
    let mut runner = runner();
    runner
        .run(&text(), |value| {
            load_from_env(&keys, &value);
            Ok(())
        })
        .unwrap();
}

#[test]
fn any_text_in_any_key_from_yaml_is_loaded_or_named() {
    let keys = every_key();
    let mut runner = runner();
    runner
        .run(&text(), |value| {
            load_from_yaml(&keys, &value, true);
            Ok(())
        })
        .unwrap();
}

/// The adversarial values one key at a time (so a value that loads is seen
/// loading), from env, quoted YAML and plain YAML.
#[test]
fn adversarial_text_in_each_key_alone() {
    let keys = every_key();
    for one in &keys {
        let alone = std::slice::from_ref(one);
        for value in ADVERSARIAL {
            // The other keys: url must be present, the rest keep defaults.
            if one.0 == "url" {
                load_from_env(alone, value);
            } else {
                load_from_env_with_url(alone, value);
            }
            load_from_yaml_with_url(alone, value, true);
            load_from_yaml_with_url(alone, value, false);
        }
    }
}

fn load_from_env_with_url(keys: &[(String, String)], value: &str) {
    Jail::expect_with(|jail| {
        jail.set_env("APP_ALL_URL", URL);
        for (_, var) in keys {
            jail.set_env(var, value);
        }
        let result = std::panic::catch_unwind(Every::load)
            .unwrap_or_else(|_| panic!("load panicked on {value:?}"));
        check_outcome(result, keys, |_, var| env(var), value, None);
        Ok(())
    });
}

fn load_from_yaml_with_url(keys: &[(String, String)], value: &str, quoted: bool) {
    let written = if quoted {
        yaml_quoted(value)
    } else {
        value.to_owned()
    };
    let mut yaml = String::new();
    if keys.iter().all(|(k, _)| k != "url") {
        let _ = writeln!(yaml, "url: {URL}");
    }
    for (key, _) in keys {
        let _ = writeln!(yaml, "{key}: {written}");
    }
    Jail::expect_with(|jail| {
        jail.create_file("all.yaml", &yaml)?;
        let result = std::panic::catch_unwind(Every::load)
            .unwrap_or_else(|_| panic!("load panicked on {yaml:?}"));
        check_outcome(
            result,
            keys,
            |key, _| file("all.yaml", key),
            value,
            (!quoted).then_some("all.yaml"),
        );
        Ok(())
    });
}
