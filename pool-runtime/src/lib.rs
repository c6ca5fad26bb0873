//! A MySQL connection pool that cannot be misconfigured into failure.
//!
//! This crate is being built in the open; see the README for what works today.
//! It re-exports [`mysql_async`], the driver it builds on, so that a service
//! needs one dependency and never a version-matched second one.

#![warn(missing_docs)]

pub use mysql_async;

#[cfg(feature = "derive")]
#[doc(hidden)]
pub use pool_macros;

mod boot;
mod error;
mod exec;
mod mysql;
mod options;
pub mod pool;
mod url;

pub use boot::BootError;
pub use error::Error;
pub use exec::{ExecOutcome, Tx};
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
