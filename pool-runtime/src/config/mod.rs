//! Config: a struct becomes a pool builder, loaded from defaults, a YAML file
//! and the environment, with every value's source kept.
//!
//! `#[derive(PoolConfig)]` writes the [`PoolConfig`] impl; this module is the
//! runtime half. Layers, lowest first:
//!
//! 1. `#[pool(default = ...)]` on the field;
//! 2. the YAML file named by `#[pool(file = "...")]`, or by the
//!    `<PREFIX>_CONFIG_FILE` environment variable;
//! 3. environment variables `<PREFIX>_<KEY>`, nested keys joined with `__`
//!    (`APP_DB_PRIMARY__MAX_OPEN`).
//!
//! The derive also writes the struct's `Debug`, hiding secrets: do not
//! derive `Debug` as well.
//!
//! Every problem is reported at once ([`ConfigError`]), each naming its key,
//! where the value came from (file and key, or the exact variable) and what
//! to write instead. Secret values (the URL, `#[pool(secret)]` fields) are
//! never shown.
//!
//! ```no_run
//! use std::time::Duration;
//! use pool_runtime::PoolConfig;
//!
//! /// The shop's database.
//! #[derive(PoolConfig)]
//! #[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
//! struct DbConfig {
//!     /// Where the database is.
//!     url: String,
//!     #[pool(default = 20)]
//!     max_open: u32,
//!     #[pool(default = 20)]
//!     max_idle: u32,
//!     #[pool(default = "4m")]
//!     max_idle_time: Duration,
//!     /// Not a pool setting: loaded all the same.
//!     #[pool(skip, default = "shop")]
//!     app_label: String,
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = DbConfig::load()?;            // defaults < config/db.yaml < APP_DB_*
//! println!("{cfg:?}");                    // the URL's password is redacted
//! let pool = cfg.connect().await?;        // checked against the server
//! # Ok(()) }
//! ```

mod all_settings;
mod error;
mod extract;
mod loaded;
mod private;
mod provenance;
mod schema;
mod setting;
mod value;
mod yaml;

pub use crate::source::{Source, Sources};
pub use error::{ConfigError, ConfigIssue};
pub use loaded::Loaded;
pub use pool_settings::SETTINGS;
pub use schema::KeyInfo;
pub use setting::Setting;
pub use value::{ConfigValue, parse_duration};
pub use yaml::Yaml;

#[doc(hidden)]
pub use extract::Extractor;
// For the cluster config, which reads the same layers.
pub(crate) use extract::Hints;
pub(crate) use loaded::{Layers, provider_issue};
#[doc(hidden)]
pub use private::{Assign, Redacted};
#[doc(hidden)]
pub use schema::{DefaultLit, KeySpec, Schema};

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

use crate::options::PoolOptions;

/// A value set in code, as a figment layer: its source reads `code` in
/// errors and reports.
///
/// ```
/// use pool_runtime::config::in_code;
/// use pool_runtime::figment::Figment;
///
/// let figment = Figment::new().merge(in_code("max_open", 8));
/// assert_eq!(figment.extract_inner::<u32>("max_open").unwrap(), 8);
/// ```
pub fn in_code(key: &str, value: impl serde::Serialize) -> impl Provider {
    InCode {
        key: key.to_owned(),
        value: Value::serialize(value),
    }
}

struct InCode {
    key: String,
    value: Result<Value, figment::Error>,
}

impl Provider for InCode {
    fn metadata(&self) -> Metadata {
        Metadata::named(provenance::IN_CODE)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value = self.value.clone()?;
        figment::providers::Serialized::default(&self.key, value).data()
    }
}

/// Every setting as a Markdown table (key, default, meaning), generated from
/// the settings table: the README's key table, or your service's docs.
///
/// ```
/// let table = pool_runtime::config::settings_markdown();
/// assert!(table.contains("| `max_open` | 10 |"));
/// ```
pub fn settings_markdown() -> String {
    pool_settings::markdown_table()
}

/// The cluster-only keys (`read_your_writes`, `max_replica_lag`, ...) as a
/// Markdown table, generated from the cluster settings table.
///
/// ```
/// let table = pool_runtime::config::cluster_settings_markdown();
/// assert!(table.contains("| `read_your_writes` | 1s |"));
/// ```
pub fn cluster_settings_markdown() -> String {
    pool_settings::cluster_markdown_table()
}

/// A config struct that describes a pool. Implement it with
/// `#[derive(PoolConfig)]`; see the [module docs](self).
pub trait PoolConfig: Sized {
    #[doc(hidden)]
    fn __schema() -> &'static Schema;

    #[doc(hidden)]
    fn __extract(cx: &mut Extractor<'_>) -> Option<Self>;

    #[doc(hidden)]
    fn __apply(&self, options: &mut PoolOptions);

    /// Loads the config: defaults, then the YAML file, then the environment.
    fn load() -> Result<Loaded<Self>, ConfigError> {
        let (figment, hints) = loaded::layered(Self::__schema())?;
        loaded::extract(figment, hints, false)
    }

    /// Loads the config from layers of your own (see [`figment`](Self::figment)
    /// for the default ones, to extend).
    fn load_from(figment: figment::Figment) -> Result<Loaded<Self>, ConfigError> {
        let hints = extract::Hints {
            file: None,
            env_lead: Self::__schema().env_lead(),
        };
        loaded::extract(figment, hints, false)
    }

    /// Like [`load_from`](Self::load_from), but keys the config type does
    /// not know are ignored instead of reported: for layers that hold other
    /// settings too. Prefer `load_from`, which catches a misspelt key.
    fn load_from_ignoring_unknown(figment: figment::Figment) -> Result<Loaded<Self>, ConfigError> {
        let hints = extract::Hints {
            file: None,
            env_lead: Self::__schema().env_lead(),
        };
        loaded::extract(figment, hints, true)
    }

    /// The layers [`load`](Self::load) reads: defaults, file, environment.
    fn figment() -> Result<figment::Figment, ConfigError> {
        loaded::layered(Self::__schema()).map(|(figment, _)| figment)
    }

    /// The pool options this config stands for; settings it does not name
    /// keep their [`PoolOptions`] defaults.
    fn options(&self) -> PoolOptions {
        let mut options = PoolOptions::default();
        self.__apply(&mut options);
        options
    }

    /// Every key, with its environment variable, default and doc comment.
    fn keys() -> Vec<KeyInfo> {
        let schema = Self::__schema();
        let mut out = Vec::new();
        schema.key_infos(schema.env_lead().as_deref(), &mut Vec::new(), &mut out);
        out
    }

    /// A commented YAML file with every key and its default: a starting
    /// point for the config file.
    fn yaml_template() -> String {
        let schema = Self::__schema();
        let mut out = format!("# {} (generated by pool-runtime)\n", schema.type_name);
        schema.yaml(schema.env_lead().as_deref(), &mut Vec::new(), &mut out);
        out
    }
}
