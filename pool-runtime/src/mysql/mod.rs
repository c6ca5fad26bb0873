//! The MySQL side: the connection manager, the pool services use, and the
//! builder that runs the boot checks.

mod builder;
mod manager;
mod pool;
mod stats;

pub use builder::PoolBuilder;
pub use manager::MySqlManager;
pub use pool::{AcquireError, Pool, PooledConn};
pub use stats::PoolStats;
