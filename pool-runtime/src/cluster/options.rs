//! `ClusterOptions`: the primary's options, the replicas' and the cluster
//! keys of the cluster settings table.

use std::time::Duration;

use pool_settings::{DefaultValue, ReplicaFallback, Setting};

use crate::options::{PoolOptions, Role};
use crate::url::{DatabaseUrl, UrlError};

macro_rules! cluster_options {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        /// A cluster's resolved settings: the primary's pool options, one
        /// set per replica, and the cluster keys (see the cluster settings
        /// table). `Debug` never shows a password.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct ClusterOptions {
            /// The primary's pool options (`role` is forced to `primary`).
            pub primary: PoolOptions,
            /// Each replica's pool options (`role` is forced to `replica`).
            pub replicas: Vec<PoolOptions>,
            $(
                $(#[doc = $doc])*
                pub $key: $ty,
            )*
        }

        impl ClusterOptions {
            /// A cluster over `primary` and no replicas yet, cluster keys at
            /// their table defaults.
            pub fn new(primary: PoolOptions) -> ClusterOptions {
                ClusterOptions {
                    primary,
                    replicas: Vec::new(),
                    $( $key: FromClusterTable::from_table(const { Setting::known_cluster(stringify!($key)) }), )*
                }
            }
        }
    };
}
pool_settings::cluster_settings_table!(cluster_options);

trait FromClusterTable {
    fn from_table(setting: &Setting) -> Self;
}

impl FromClusterTable for Duration {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Duration(d) => d,
            _ => Duration::ZERO,
        }
    }
}

impl FromClusterTable for ReplicaFallback {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Word(w) => ReplicaFallback::from_word(w).unwrap_or_default(),
            _ => ReplicaFallback::default(),
        }
    }
}

impl ClusterOptions {
    /// A cluster from URLs: the replicas share the primary's (default) pool
    /// options.
    pub fn from_urls<I, S>(primary: &str, replicas: I) -> Result<ClusterOptions, UrlError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut options = ClusterOptions::new(PoolOptions::from_url(primary)?);
        for url in replicas {
            let url = DatabaseUrl::parse(url.as_ref())?;
            options.add_replica(url);
        }
        Ok(options)
    }

    /// Adds a replica at `url`, with the primary's other pool options.
    pub fn add_replica(&mut self, url: DatabaseUrl) -> &mut Self {
        let mut replica = self.primary.clone();
        replica.url = Some(url);
        self.replicas.push(replica);
        self
    }

    /// The name of member `index` (`None` = the primary): `primary`,
    /// `replica-0`, ..., or under the primary's `pool_name` when set
    /// (`orders`, `orders-replica-0`).
    pub(crate) fn member_name(&self, replica: Option<usize>) -> String {
        match (&self.primary.pool_name, replica) {
            (Some(name), None) => name.clone(),
            (None, None) => "primary".to_owned(),
            (Some(name), Some(i)) => format!("{name}-replica-{i}"),
            (None, Some(i)) => format!("replica-{i}"),
        }
    }

    /// The primary's options as its pool runs them.
    pub(crate) fn primary_pool(&self) -> PoolOptions {
        let mut options = self.primary.clone();
        options.role = Role::Primary;
        options.pool_name = Some(self.member_name(None));
        options
    }

    /// Replica `i`'s options as its pool runs them.
    pub(crate) fn replica_pool(&self, i: usize) -> Option<PoolOptions> {
        let mut options = self.replicas.get(i)?.clone();
        options.role = Role::Replica;
        // A name set on a replica itself wins; a copy of the primary's does not.
        if options.pool_name.is_none() || options.pool_name == self.primary.pool_name {
            options.pool_name = Some(self.member_name(Some(i)));
        }
        Some(options)
    }
}
