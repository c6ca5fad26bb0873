//! Loading: defaults, then the YAML file, then the environment.

use std::ops::Deref;
use std::path::Path;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, providers::Env, providers::Format};

use super::PoolConfig;
use super::error::{ConfigError, ConfigIssue};
use super::extract::{Extractor, Hints};
use super::provenance::DEFAULTS;
use super::schema::{DefaultLit, Schema};
use super::yaml::Yaml;
use crate::options::PoolOptions;
use crate::source::{Source, Sources};

/// A loaded config, with where each value came from.
///
/// Derefs to the config itself. `connect()` (and `check()`, which judges
/// the config without keeping a pool) hand the sources to the boot checks,
/// so that their report can name the file, key or variable behind each
/// value.
#[derive(Clone)]
pub struct Loaded<T> {
    value: T,
    sources: Sources,
    figment: Figment,
    lenient: bool,
}

/// Shows the config (through its own `Debug`, which hides secrets) and the
/// sources; never the raw layers, which hold secrets in the clear.
impl<T: std::fmt::Debug> std::fmt::Debug for Loaded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("value", &self.value)
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl<T> Deref for Loaded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PoolConfig> Loaded<T> {
    /// The config, without its sources.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// Where each key's value came from.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The layered config it was read from. Its values are raw: secrets in
    /// it are in the clear, so do not print it.
    pub fn figment(&self) -> &Figment {
        &self.figment
    }

    /// The pool options this config stands for.
    pub fn options(&self) -> PoolOptions {
        self.value.options()
    }

    /// The nested config under `key` (a `#[pool(nested)]` field), read again
    /// from the same layers so that its sources are its own.
    pub fn section<U: PoolConfig>(&self, key: &str) -> Result<Loaded<U>, ConfigError> {
        let hints = Hints::default();
        let mut cx =
            Extractor::new(&self.figment, vec![key.to_owned()], hints).lenient(self.lenient);
        let value = U::__extract(&mut cx);
        let issues = std::mem::take(&mut cx.issues);
        match value {
            Some(value) if issues.is_empty() => Ok(Loaded {
                value,
                sources: cx.sources.section(key),
                figment: self.figment.clone(),
                lenient: self.lenient,
            }),
            _ => Err(ConfigError {
                config: U::__schema().type_name,
                issues,
            }),
        }
    }
}

/// The `#[pool(default = ...)]` values as a figment provider, so that they
/// are named as defaults in errors and reports.
struct Defaults(Dict);

impl Provider for Defaults {
    fn metadata(&self) -> Metadata {
        Metadata::named(DEFAULTS)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.0.clone()))
    }
}

fn defaults(schema: &Schema) -> Dict {
    let mut dict = Dict::new();
    for key in schema.keys {
        let value = match (key.nested, key.default) {
            (Some(nested), _) => Value::from(defaults(nested())),
            (None, Some(DefaultLit::Int(n))) => Value::from(n),
            (None, Some(DefaultLit::Str(s))) => Value::from(s.to_owned()),
            (None, Some(DefaultLit::Bool(b))) => Value::from(b),
            // Absent keys keep the table default when extracted.
            (None, Some(DefaultLit::Table) | None) => continue,
        };
        dict.insert(key.name.to_owned(), value);
    }
    dict
}

/// The file to read: `<PREFIX>_CONFIG_FILE` when set, else the named one.
fn config_file(env_lead: Option<&str>, file: Option<&str>) -> Option<(String, Source)> {
    if let Some(lead) = env_lead {
        let var = format!("{lead}CONFIG_FILE");
        if let Ok(path) = std::env::var(&var) {
            if !path.trim().is_empty() {
                return Some((path, Source::Env { var }));
            }
        }
    }
    file.map(|f| (f.to_owned(), Source::Default))
}

/// Defaults < YAML file < environment, as `T::load()` reads them.
pub(crate) fn layered(schema: &'static Schema) -> Result<(Figment, Hints), ConfigError> {
    Layers {
        type_name: schema.type_name,
        env_lead: schema.env_lead(),
        file: schema.file,
        file_optional: schema.file_optional,
        defaults: defaults(schema),
    }
    .build()
}

/// What the layers of a config are made of: a derived type's schema, or a
/// cluster config's prefix and file, given at run time.
pub(crate) struct Layers<'a> {
    pub(crate) type_name: &'static str,
    /// `APP_DB_`: the environment variables' lead, with its underscore.
    pub(crate) env_lead: Option<String>,
    pub(crate) file: Option<&'a str>,
    /// A missing `file` is no error (it still is when the environment
    /// names one).
    pub(crate) file_optional: bool,
    pub(crate) defaults: Dict,
}

impl Layers<'_> {
    /// Defaults < YAML file < environment.
    pub(crate) fn build(self) -> Result<(Figment, Hints), ConfigError> {
        let type_name = self.type_name;
        let mut figment = Figment::from(Defaults(self.defaults));
        let mut hints = Hints {
            file: None,
            env_lead: self.env_lead.clone(),
        };
        if let Some((path, named_by)) = config_file(self.env_lead.as_deref(), self.file) {
            let optional = self.file_optional && named_by == Source::Default;
            match std::fs::metadata(Path::new(&path)) {
                Ok(meta) if meta.is_file() => {
                    // Read once here so an unreadable file is named plainly.
                    if let Err(e) = std::fs::read(&path) {
                        return Err(file_error(
                            type_name,
                            &path,
                            named_by,
                            format!("cannot read it: {e}"),
                        ));
                    }
                    figment = figment.merge(Yaml::file_exact(&path));
                    hints.file = Some(path);
                }
                Ok(_) => {
                    return Err(file_error(
                        type_name,
                        &path,
                        named_by,
                        "it is not a file".into(),
                    ));
                }
                Err(_) if optional => {}
                Err(e) => {
                    let cwd = std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_else(|_| "?".into());
                    let fix = match &self.env_lead {
                        Some(lead) => format!(", or point {lead}CONFIG_FILE at the right file"),
                        None => String::new(),
                    };
                    return Err(file_error(
                        type_name,
                        &path,
                        named_by,
                        format!("cannot open it ({e}; relative to {cwd}): create it{fix}"),
                    ));
                }
            }
        }
        if let Some(lead) = &self.env_lead {
            figment = figment.merge(Env::prefixed(lead).ignore(&["config_file"]).split("__"));
        }
        Ok((figment, hints))
    }
}

fn file_error(config: &'static str, path: &str, named_by: Source, problem: String) -> ConfigError {
    ConfigError {
        config,
        issues: vec![ConfigIssue {
            key: format!("config file {path}"),
            source: named_by,
            value: None,
            problem,
        }],
    }
}

/// Extracts `T`, reporting every problem at once.
pub(crate) fn extract<T: PoolConfig>(
    figment: Figment,
    hints: Hints,
    lenient: bool,
) -> Result<Loaded<T>, ConfigError> {
    let schema = T::__schema();
    // A provider that failed (bad YAML, unreadable file) fails every lookup:
    // report it once, as it is.
    if let Err(error) = figment.extract::<Dict>() {
        return Err(ConfigError {
            config: schema.type_name,
            issues: error
                .into_iter()
                .map(|e| provider_issue(&figment, e))
                .collect(),
        });
    }
    let mut cx = Extractor::new(&figment, Vec::new(), hints).lenient(lenient);
    let value = T::__extract(&mut cx);
    let issues = std::mem::take(&mut cx.issues);
    let sources = std::mem::take(&mut cx.sources);
    match value {
        Some(value) if issues.is_empty() => Ok(Loaded {
            value,
            sources,
            figment,
            lenient,
        }),
        _ => Err(ConfigError {
            config: schema.type_name,
            issues,
        }),
    }
}

pub(crate) fn provider_issue(figment: &Figment, error: figment::Error) -> ConfigIssue {
    let source = match error.metadata.as_ref() {
        Some(md) => match md.source.as_ref().and_then(|s| s.file_path()) {
            Some(path) => Source::File {
                path: path.to_path_buf(),
                key: error.path.join("."),
            },
            None => Source::Provider(md.name.to_string()),
        },
        None => Source::Provider("configuration".into()),
    };
    let _ = figment;
    ConfigIssue {
        key: if error.path.is_empty() {
            "(whole file)".into()
        } else {
            error.path.join(".")
        },
        source,
        value: None,
        problem: describe(&error.kind),
    }
}

/// figment's message for a failed read, without quoting the value: a file
/// that is only a URL must not print its password.
pub(crate) fn describe(kind: &figment::error::Kind) -> String {
    use figment::error::{Actual, Kind};
    let what = |actual: &Actual| match actual {
        Actual::Bool(_) => "a bool",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) | Actual::Other(_) => "text",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "another kind of value",
    };
    match kind {
        Kind::InvalidType(actual, expected) => {
            format!("found {}, expected {expected}", what(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("invalid {}, expected {expected}", what(actual))
        }
        Kind::Unsupported(actual) => format!("{} is not supported here", what(actual)),
        // A parser's own message may quote the file's text: keep the words,
        // drop the quotes' content.
        Kind::Message(message) => scrub_quoted(message),
        other => scrub_quoted(&other.to_string()),
    }
}

/// `invalid type: string "mysql://u:pw@h", expected a map` ->
/// `invalid type: string "…", expected a map`.
fn scrub_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    let mut escaped = false;
    for ch in message.chars() {
        if inside {
            match (escaped, ch) {
                (false, '\\') => escaped = true,
                (false, '"') => {
                    inside = false;
                    out.push_str("…\"");
                }
                _ => escaped = false,
            }
        } else {
            out.push(ch);
            inside = ch == '"';
        }
    }
    if inside {
        out.push('…');
    }
    out
}
