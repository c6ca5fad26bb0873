//! Property tests: arbitrary text into every key, from env and from YAML;
//! each value loads or is named with its key and source, never a panic.

use std::fmt::Write as _;
use std::path::PathBuf;

use figment::Jail;
use pool_runtime::config::Source;
use pool_runtime::{ConfigError, Loaded, PoolConfig};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

use crate::helpers::*;
use crate::types::Every;

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
            load_from_env(alone, value);
            load_from_yaml(alone, value, true);
            load_from_yaml(alone, value, false);
        }
    }
}

/// Loads `Every` with `value` in the variable of each of `keys`. The other
/// keys keep their defaults, but `url`, which has none, is a valid URL unless
/// it is among `keys`.
fn load_from_env(keys: &[(String, String)], value: &str) {
    let value = value.replace('\0', "");
    Jail::expect_with(|jail| {
        jail.set_env("APP_ALL_URL", URL);
        for (_, var) in keys {
            jail.set_env(var, &value);
        }
        let result = std::panic::catch_unwind(Every::load)
            .unwrap_or_else(|_| panic!("load panicked on {value:?}"));
        check_outcome(result, keys, |_, var| env(var), &value, None);
        Ok(())
    });
}

/// Loads `Every` from a file with `value` (in YAML quotes if `quoted`) for
/// each of `keys`; the other keys as for [`load_from_env`].
fn load_from_yaml(keys: &[(String, String)], value: &str, quoted: bool) {
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
