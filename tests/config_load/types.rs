//! The config types under test, one per shape a user may declare.

use std::time::Duration;

use pool_runtime::{DatabaseUrl, PoolConfig, ResetPolicy};

/// The shape of the design document's example.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
pub(crate) struct Db {
    /// Where the database is.
    pub(crate) url: String,
    /// Most connections open at once.
    #[pool(default = 100)]
    pub(crate) max_open: u32,
    #[pool(default = 10)]
    pub(crate) max_idle: u32,
    #[pool(default = "30m")]
    pub(crate) max_lifetime: Duration,
    #[pool(default = "5m")]
    pub(crate) max_idle_time: Option<Duration>,
    #[pool(default = "30s")]
    pub(crate) acquire_timeout: Duration,
    /// Not a pool setting.
    #[pool(skip, default = "shop")]
    pub(crate) app_label: String,
}

/// The URL typed as `DatabaseUrl`, which parses itself.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_TYPED", file = "typed.yaml")]
pub(crate) struct TypedUrl {
    pub(crate) url: DatabaseUrl,
    #[pool(default = 10)]
    pub(crate) max_open: u32,
}

/// A file that may be absent.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_OPT", file = "config/optional.yaml", file_optional)]
pub(crate) struct OptionalFile {
    pub(crate) url: String,
    #[pool(default = 10)]
    pub(crate) max_open: u32,
}

/// One pool of several.
#[derive(PoolConfig)]
pub(crate) struct Inner {
    pub(crate) url: String,
    #[pool(default = 10)]
    pub(crate) max_open: u32,
    #[pool(default = "5m")]
    pub(crate) max_idle_time: Duration,
}

#[derive(PoolConfig)]
#[pool(env_prefix = "APP", file = "app.yaml")]
pub(crate) struct Outer {
    #[pool(nested)]
    pub(crate) primary: Inner,
    #[pool(nested)]
    pub(crate) replica: Inner,
}

/// Every pool setting, for the property tests and the template round trip.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_ALL", file = "all.yaml", file_optional)]
pub(crate) struct Every {
    pub(crate) url: String,
    #[pool(default = 10)]
    pub(crate) max_open: u32,
    #[pool(default = 2)]
    pub(crate) max_idle: u32,
    #[pool(default = 0)]
    pub(crate) min_idle: u32,
    #[pool(default = "30m")]
    pub(crate) max_lifetime: Option<Duration>,
    #[pool(default = "5m")]
    pub(crate) max_idle_time: Duration,
    #[pool(default = "30s")]
    pub(crate) acquire_timeout: Duration,
    #[pool(default = "10s")]
    pub(crate) connect_timeout: Duration,
    pub(crate) validation_timeout: Option<Duration>,
    #[pool(default = "500ms")]
    pub(crate) validate_after_idle: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    #[pool(default = "60s")]
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) init_sql: Vec<String>,
    pub(crate) leak_threshold: Option<Duration>,
    #[pool(default = "1s")]
    pub(crate) maintenance_interval: Duration,
    #[pool(default = "when_dirty")]
    pub(crate) reset_on_return: ResetPolicy,
    #[pool(default = true)]
    pub(crate) retry_reads: bool,
    pub(crate) statement_timeout: Option<Duration>,
    #[pool(default = 1)]
    pub(crate) instances: u32,
}

/// Every setting but `instances`, which comes from the container attribute.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_MAP", file = "map.yaml", instances = 3)]
pub(crate) struct Mapped {
    pub(crate) url: String,
    pub(crate) max_open: u32,
    pub(crate) max_idle: u32,
    pub(crate) min_idle: u32,
    pub(crate) max_lifetime: Duration,
    pub(crate) max_idle_time: Option<Duration>,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) validation_timeout: Option<Duration>,
    pub(crate) validate_after_idle: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) init_sql: Vec<String>,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) maintenance_interval: Duration,
    pub(crate) reset_on_return: ResetPolicy,
    pub(crate) retry_reads: bool,
    pub(crate) statement_timeout: Option<Duration>,
}

/// A plain (skip) field whose default needs quoting in YAML.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_TPL", file = "tpl.yaml")]
pub(crate) struct TrickyDefault {
    pub(crate) url: String,
    #[pool(skip, default = "shop #eu-1: main")]
    pub(crate) app_label: String,
}
