//! Where a config value came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use figment::{Figment, Metadata, value::Value};

/// The name of the provider holding `#[pool(default = ...)]` values.
pub(crate) const DEFAULTS: &str = "pool-runtime attribute defaults";
/// The name of providers made with [`in_code`](super::in_code).
pub(crate) const IN_CODE: &str = "pool-runtime value set in code";

/// Where a config value came from, as named in errors and boot reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// The `#[pool(default = ...)]` attribute, or the built-in default.
    Default,
    /// A config file, and the key in it.
    File {
        /// The file.
        path: PathBuf,
        /// The dotted key, e.g. `primary.max_open`.
        key: String,
    },
    /// An environment variable.
    Env {
        /// The exact variable, e.g. `APP_DB_MAX_OPEN`.
        var: String,
    },
    /// Set in code (`PoolOptions` fields, or a struct built by hand).
    Code,
    /// Another figment provider, by its name.
    Provider(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, key } if key.is_empty() => write!(f, "{}", path.display()),
            Source::File { path, key } => write!(f, "{} (key `{key}`)", path.display()),
            Source::Env { var } => write!(f, "environment variable {var}"),
            Source::Code => f.write_str("code"),
            Source::Provider(name) => f.write_str(name),
        }
    }
}

/// Where each loaded key's value came from, by dotted key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    by_key: BTreeMap<String, Source>,
}

impl Sources {
    /// The source of `key` (dotted for nested configs), [`Source::Default`]
    /// when the key was not loaded from anywhere.
    pub fn of(&self, key: &str) -> Source {
        self.by_key.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every recorded key and its source.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.by_key.iter().map(|(k, s)| (k.as_str(), s))
    }

    pub(crate) fn record(&mut self, key: String, source: Source) {
        self.by_key.insert(key, source);
    }

    /// The sources under `prefix.`, with the prefix removed.
    pub(crate) fn section(&self, prefix: &str) -> Sources {
        let lead = format!("{prefix}.");
        Sources {
            by_key: self
                .by_key
                .iter()
                .filter_map(|(k, s)| {
                    k.strip_prefix(&lead)
                        .map(|rest| (rest.to_owned(), s.clone()))
                })
                .collect(),
        }
    }
}

/// Names the provider of `value`, found at `path` (the key's segments).
pub(crate) fn source_of(figment: &Figment, value: &Value, path: &[String]) -> Source {
    match figment.get_metadata(value.tag()) {
        Some(metadata) => from_metadata(metadata, path),
        None => Source::Provider("unknown provider".into()),
    }
}

fn from_metadata(metadata: &Metadata, path: &[String]) -> Source {
    if metadata.name == DEFAULTS {
        return Source::Default;
    }
    if metadata.name == IN_CODE {
        return Source::Code;
    }
    if let Some(file) = metadata.source.as_ref().and_then(|s| s.file_path()) {
        return Source::File {
            path: file.to_path_buf(),
            key: path.join("."),
        };
    }
    // figment names an `Env` provider "`PREFIX_` environment variable(s)".
    if metadata.name.contains("environment variable") {
        let prefix = metadata.name.split('`').nth(1).unwrap_or_default();
        return Source::Env {
            var: env_var(prefix, path),
        };
    }
    Source::Provider(metadata.name.to_string())
}

/// The variable that sets `path` under `prefix` (`APP_` + `PRIMARY__MAX_OPEN`).
pub(crate) fn env_var(prefix: &str, path: &[impl AsRef<str>]) -> String {
    let keys: Vec<String> = path
        .iter()
        .map(|k| k.as_ref().to_ascii_uppercase())
        .collect();
    format!("{prefix}{}", keys.join("__"))
}
