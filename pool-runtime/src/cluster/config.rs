//! A cluster config: the primary's pool settings, the replicas' URLs and
//! the cluster keys, loaded from the same layers as a pool config, with
//! every value's source kept.
//!
//! ```yaml
//! primary:
//!   url: mysql://app:secret@db-primary:3306/shop
//!   max_open: 20
//! replica:            # optional: settings for every replica, over the primary's
//!   max_open: 40
//! replicas:
//!   - mysql://app:secret@db-replica-0:3306/shop
//!   - mysql://app:secret@db-replica-1:3306/shop
//! max_replica_lag: 5s
//! ```
//!
//! In the environment, under a prefix `APP_DB`: `APP_DB_PRIMARY__MAX_OPEN`,
//! `APP_DB_REPLICA__MAX_OPEN`, `APP_DB_REPLICAS` (URLs separated by
//! commas), `APP_DB_MAX_REPLICA_LAG`.

use figment::Figment;
use figment::value::Dict;

use std::time::Duration;

use pool_settings::{ReplicaFallback, Setting};

use super::{Cluster, ClusterBootError, ClusterOptions};
use crate::config::{
    ConfigError, ConfigIssue, DefaultLit, Extractor, Hints, KeySpec, Layers, PoolConfig, Schema,
    provider_issue,
};
use crate::options::PoolOptions;
use crate::source::Sources;
use crate::url::DatabaseUrl;

const TYPE_NAME: &str = "ClusterOptions";

macro_rules! cluster_config {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        static SCHEMA: Schema = Schema {
            type_name: TYPE_NAME,
            env_prefix: None,
            file: None,
            file_optional: false,
            allow_unknown: false,
            instances: None,
            keys: &[
                KeySpec {
                    name: "primary",
                    setting: None,
                    default: None,
                    secret: false,
                    doc: "The primary's pool settings; `url` is required.\n",
                    type_name: "PoolOptions",
                    nested: Some(<PoolOptions as PoolConfig>::__schema),
                },
                KeySpec {
                    name: "replica",
                    setting: None,
                    default: None,
                    secret: false,
                    doc: "Pool settings for every replica, over the primary's (the URLs go in `replicas`).\n",
                    type_name: "PoolOptions",
                    nested: Some(<PoolOptions as PoolConfig>::__schema),
                },
                KeySpec {
                    name: "replicas",
                    setting: None,
                    default: None,
                    secret: true,
                    doc: "The replicas' URLs: a list, or one text separated by commas.\n",
                    type_name: "Vec<DatabaseUrl>",
                    nested: None,
                },
                $(
                    KeySpec {
                        name: stringify!($key),
                        setting: Some(Setting::known_cluster(stringify!($key))),
                        default: Some(DefaultLit::Table),
                        secret: false,
                        doc: concat!($($doc, "\n"),*),
                        type_name: stringify!($ty),
                        nested: None,
                    },
                )*
            ],
        };

        /// The cluster keys present at the top level, into `options`;
        /// `false` when one was wrong (recorded in `cx`).
        fn cluster_keys(cx: &mut Extractor<'_>, options: &mut ClusterOptions) -> bool {
            let mut complete = true;
            $(
                match cx.if_present::<$ty>(const { Setting::known_cluster(stringify!($key)) }) {
                    Ok(Some(value)) => options.$key = value,
                    Ok(None) => {}
                    Err(()) => complete = false,
                }
            )*
            complete
        }
    };
}
pool_settings::cluster_settings_table!(cluster_config);

/// A loaded cluster config, with where each value came from.
///
/// [`connect`](Self::connect) hands each member's sources to its boot
/// checks, so a finding names the file key or variable behind the value
/// (`replica.max_open`, `APP_DB_PRIMARY__MAX_IDLE_TIME`). `Debug` never
/// shows a password.
#[derive(Debug, Clone)]
pub struct LoadedCluster {
    options: ClusterOptions,
    sources: Sources,
}

impl LoadedCluster {
    /// The cluster's options.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// The options, without their sources.
    pub fn into_options(self) -> ClusterOptions {
        self.options
    }

    /// Where each key's value came from, by dotted key: `primary.max_open`,
    /// `replica.max_open`, `replicas.0`, `max_replica_lag`.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// Opens the cluster ([`Cluster::connect`]), its boot reports naming
    /// each value's source.
    pub async fn connect(self) -> Result<Cluster, ClusterBootError> {
        let (primary, replicas) = self.member_sources();
        Cluster::connect_with_sources(self.options, Some(primary), replicas).await
    }

    /// Each member's sources under its pool's own key names: the primary's
    /// section; for a replica, the primary's overlaid with `replica`'s,
    /// and its URL's.
    fn member_sources(&self) -> (Sources, Vec<Sources>) {
        let primary = self.sources.section("primary");
        let shared = self.sources.section("replica");
        let replicas = (0..self.options.replicas.len())
            .map(|i| {
                let mut sources = primary.clone();
                for (key, source) in shared.iter() {
                    sources.record(key.to_owned(), source.clone());
                }
                sources.record("url".to_owned(), self.sources.of(&format!("replicas.{i}")));
                sources
            })
            .collect();
        (primary, replicas)
    }
}

impl ClusterOptions {
    /// Loads a cluster config: table defaults, then the YAML `file` (or
    /// the one `<PREFIX>_CONFIG_FILE` names), then the environment
    /// variables `<PREFIX>_*` (`APP_DB_PRIMARY__URL`, `APP_DB_REPLICAS`,
    /// ...). A `file` given must exist; pass `None` to read the
    /// environment only. Every problem is reported at once, none showing
    /// a URL's password.
    ///
    /// ```no_run
    /// use pool_runtime::{Cluster, ClusterOptions};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let loaded = ClusterOptions::load("APP_DB", Some("config/db.yaml"))?;
    /// let cluster = loaded.connect().await?;
    /// # Ok(()) }
    /// ```
    pub fn load(env_prefix: &str, file: Option<&str>) -> Result<LoadedCluster, ConfigError> {
        let prefix = env_prefix.trim_end_matches('_');
        let (figment, hints) = Layers {
            type_name: TYPE_NAME,
            env_lead: (!prefix.is_empty()).then(|| format!("{prefix}_")),
            file,
            file_optional: false,
            defaults: Dict::new(),
        }
        .build()?;
        extract(&figment, hints)
    }

    /// Loads a cluster config from layers of your own.
    ///
    /// ```
    /// use pool_runtime::ClusterOptions;
    /// use pool_runtime::config::Yaml;
    /// use pool_runtime::figment::{Figment, providers::Format};
    ///
    /// let yaml = "
    /// primary: { url: 'mysql://app:secret@db-primary/shop', max_open: 20 }
    /// replicas: ['mysql://app:secret@db-replica-0/shop']
    /// max_replica_lag: 2s
    /// ";
    /// let loaded = ClusterOptions::load_from(Figment::from(Yaml::string(yaml)))?;
    /// assert_eq!(loaded.options().replicas.len(), 1);
    /// assert_eq!(loaded.options().replicas[0].max_open, 20); // the primary's
    /// # Ok::<(), pool_runtime::ConfigError>(())
    /// ```
    pub fn load_from(figment: Figment) -> Result<LoadedCluster, ConfigError> {
        extract(&figment, Hints::default())
    }
}

fn extract(figment: &Figment, hints: Hints) -> Result<LoadedCluster, ConfigError> {
    let fail = |issues| ConfigError {
        config: TYPE_NAME,
        issues,
    };
    // A provider that failed (bad YAML) fails every lookup: report it once.
    if let Err(error) = figment.extract::<Dict>() {
        return Err(fail(
            error
                .into_iter()
                .map(|e| provider_issue(figment, e))
                .collect(),
        ));
    }
    let mut cx = Extractor::new(figment, Vec::new(), hints);
    let primary = cx.nested::<PoolOptions>("primary");
    if primary.as_ref().is_some_and(|p| p.url.is_none()) {
        // Records "missing: required", naming where it can be set.
        cx.within("primary", |cx| cx.value::<DatabaseUrl>("url", None, true));
    }
    let base = primary.clone().unwrap_or_default();
    let replica = if cx.is_present("replica") {
        let shared = cx.within("replica", |cx| PoolOptions::extract_over(base.clone(), cx));
        if cx.within("replica", |cx| cx.is_present("url")) {
            cx.issues.push(ConfigIssue {
                key: "replica.url".into(),
                source: cx.sources.of("replica.url"),
                value: None,
                problem: "the replicas' URLs go in `replicas` (a list), not in `replica`".into(),
            });
        }
        shared
    } else {
        Some(base)
    };
    let urls = cx.list::<DatabaseUrl>("replicas", true);
    let mut options = ClusterOptions::new(primary.clone().unwrap_or_default());
    let keys_ok = cluster_keys(&mut cx, &mut options);
    cx.reject_unknown(&SCHEMA);
    let issues = std::mem::take(&mut cx.issues);
    match (primary, replica, urls) {
        (Some(_), Some(replica), Some(urls)) if keys_ok && issues.is_empty() => {
            options.replicas = urls
                .into_iter()
                .map(|url| PoolOptions {
                    url: Some(url),
                    ..replica.clone()
                })
                .collect();
            Ok(LoadedCluster {
                options,
                sources: std::mem::take(&mut cx.sources),
            })
        }
        _ => Err(fail(issues)),
    }
}
