//! Naming the figment provider behind a value: a file and key, an exact
//! environment variable, a default or code.

use figment::{Figment, Metadata, value::Value};

use crate::source::Source;

/// The name of the provider holding `#[pool(default = ...)]` values.
pub(crate) const DEFAULTS: &str = "pool-runtime attribute defaults";
/// The name of providers made with [`in_code`](super::in_code).
pub(crate) const IN_CODE: &str = "pool-runtime value set in code";

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
