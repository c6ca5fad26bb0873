//! Provenance: where a config value came from.
//!
//! A leaf module: config loading records sources, the boot report and the
//! builder show them, and neither has to import the other for it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

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
