//! A MySQL connection pool that cannot be misconfigured into failure.
//!
//! This crate is being built in the open; see the README for what works today.
//! It re-exports [`mysql_async`], the driver it builds on, so that a service
//! needs one dependency and never a version-matched second one.

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
pub mod config;
mod error;
mod exec;
mod mysql;
mod options;
pub mod pool;
mod url;

pub use boot::BootError;
pub use config::{ConfigError, Loaded, PoolConfig};
pub use error::Error;
pub use exec::{ExecOutcome, Tx};
pub use figment;
pub use mysql::{AcquireError, MySqlManager, Pool, PoolBuilder, PooledConn};
pub use options::{PoolOptions, ResetPolicy};
pub use pool::PoolStats;
pub use url::{DatabaseUrl, UrlError};

#[cfg(feature = "testkit")]
pub mod testkit;

/// Compiles the README's examples, so that they stay true.
#[cfg(all(doctest, feature = "testkit"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
