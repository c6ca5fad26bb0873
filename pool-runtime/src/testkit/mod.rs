//! Test kit: a throwaway MariaDB/MySQL server and a fault-injecting proxy.
//!
//! A pool's promises are about how real connections die: a server that kills
//! idle sessions, a proxy that closes or resets a flow, a network that goes
//! silent. Mocks cannot show any of that, so this kit gives tests the real
//! thing, cheaply:
//!
//! - [`TestServer`] starts a private `mariadbd` (or `mysqld`) on a fresh data
//!   directory and a free loopback port, and removes both when dropped. Tests
//!   may change its globals, kill its connections, stop and restart it.
//!   [`TestServer::builder`] starts one with TLS (a CA and certificates made
//!   at start, [`TestTls`]) and optionally `require_secure_transport=ON`.
//! - [`FaultProxy`] sits between a client and a server and breaks connections
//!   on demand in the ways production breaks them ([`Fault`]), and can move
//!   new connections to another server ([`FaultProxy::retarget`]), as a
//!   virtual IP or DNS name moves.
//! - [`TestCluster`] is a primary and replicas with real GTID replication,
//!   an application user that `read_only` applies to, a VIP, and the
//!   operations of a switchover and of lag tests.
//! - [`MemoryManager`] is a connection manager without a server, to test and
//!   measure the pool core alone.
//!
//! Enable it with the `testkit` feature, usually as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! pool-runtime = { version = "0.1", features = ["testkit"] }
//! ```
//!
//! ```no_run
//! # async fn demo() -> Result<(), pool_runtime::testkit::TestkitError> {
//! use pool_runtime::testkit::TestServer;
//! use pool_runtime::mysql_async::prelude::*;
//!
//! let server = TestServer::start().await?;
//! server.set_global("wait_timeout", 2).await?;
//! let mut conn = server.conn().await?;
//! let version: Option<String> = conn.query_first("SELECT VERSION()").await.unwrap();
//! println!("{version:?} at {}", server.url());
//! # Ok(()) }
//! ```

mod cluster;
mod error;
mod memory;
mod proxy;
mod server;

pub use cluster::TestCluster;
pub use error::TestkitError;
pub use memory::{MemoryConn, MemoryError, MemoryManager};
pub use proxy::{ConnectionId, Fault, FaultProxy};
pub use server::{DataTemplate, TestServer, TestServerBuilder, TestTls};
