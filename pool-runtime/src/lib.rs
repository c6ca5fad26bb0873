//! A MySQL/MariaDB connection pool that cannot be misconfigured into failure.
//!
//! Pools fail in production when their limits do not fit the server: a
//! connection kept idle past the server's `wait_timeout` is dead, and the
//! next query on it fails. This crate closes that gap three times over:
//!
//! - **At compile time**, [`#[derive(PoolConfig)]`](macro@PoolConfig) rejects
//!   impossible literals (an unparsable duration, `max_idle` above
//!   `max_open`, a zero lifetime) on the offending token.
//! - **At boot**, [`PoolBuilder::connect`] reads the live server's limits and
//!   refuses (or warns, or fixes) a config that cannot work against them,
//!   with a report naming each key, its value, where it came from and the
//!   fix ([`boot`]).
//! - **At run time**, the [`Pool`] never hands out a connection a ping could
//!   have shown dead, and its statements are retried on another connection
//!   only when the error proves they did not run ([`exec`](Pool::exec)).
//!
//! ```no_run
//! use std::time::Duration;
//! use pool_runtime::PoolConfig;
//!
//! #[derive(PoolConfig)]
//! #[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
//! struct DbConfig {
//!     url: String,
//!     #[pool(default = 16)]
//!     max_open: u32,
//!     #[pool(default = 16)]
//!     max_idle: u32,
//!     #[pool(default = "4m")]
//!     max_idle_time: Duration,
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let pool = DbConfig::load()?.connect().await?;
//! let n: Option<i64> = pool.query_first("SELECT COUNT(*) FROM orders", ()).await?;
//! # Ok(()) }
//! ```
//!
//! Modules: [`pool`] is the generic pool core, [`config`] the loading side of
//! the derive, [`boot`] the checks at `connect()`, and `testkit` (feature
//! `testkit`) a throwaway server and a fault-injecting proxy for tests. Every
//! setting is declared once, in the settings table of `pool-settings`:
//! [`PoolOptions`], the derive's checks, the config keys and the README's
//! table are generated from it ([`config::SETTINGS`]).
//!
//! Two crates are re-exported because they are part of this API:
//! [`mysql_async`] (a [`PooledConn`] derefs to its `Conn`), so a service
//! needs no second, version-matched dependency; and [`figment`]
//! ([`PoolConfig::load_from`] takes a `Figment`), so its layers can be
//! extended. A major release of either is a major release of this crate.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use mysql_async;

/// `#[derive(PoolConfig)]`: see [`config`].
#[cfg(feature = "derive")]
pub use pool_macros::PoolConfig;

/// What the derive's generated code refers to. Not a public API: it changes
/// with the derive, which is pinned to this crate's exact version.
#[doc(hidden)]
pub mod __private {
    pub use crate::config::{
        Assign, ConfigValue, DefaultLit, Extractor, KeySpec, PoolConfig, Redacted, Schema, Setting,
    };
    pub use crate::options::PoolOptions;
    pub use core::fmt;
    pub use core::option::Option::{self, None, Some};
    pub use serde;
}

pub mod boot;
pub mod cluster;
pub mod config;
mod credentials;
mod error;
mod findings;
#[cfg(feature = "metrics")]
pub mod metrics;
mod mysql;
mod options;
mod policy;
pub mod pool;
mod source;
pub(crate) mod tls;
mod url;

pub use boot::BootError;
pub use cluster::{Cluster, ClusterError, ClusterOptions, ClusterTx, ReplicaFallback, Session};
pub use config::{ConfigError, Loaded, PoolConfig};
pub use credentials::{
    CleartextWithoutTls, CredentialError, CredentialSource, Credentials, FetchError, Secret,
};
pub use error::{Error, ErrorKind};
pub use figment;
pub use mysql::exec::{ExecOutcome, Tx};
pub use mysql::exec::{Executor, IsolationLevel, RowStream, TxOptions};
pub use mysql::{AcquireError, MySqlManager, Pool, PoolBuilder, PoolStats, PooledConn};
pub use mysql::{DownReason, Drain, Health, HealthState};
pub use mysql::{LIVE_SETTINGS, ReconfigureError, Reconfigured, SettingChange};
pub use options::{PoolOptions, ResetPolicy, Role, SettingValue, SslMode};
pub use pool::DrainReport;
pub use tls::{TlsConfigError, TlsConnectError, TlsErrorKind};
pub use url::{DatabaseUrl, UrlError};

#[cfg(feature = "testkit")]
pub mod testkit;

/// Compiles the README's examples, so that they stay true.
#[cfg(all(doctest, feature = "testkit"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
