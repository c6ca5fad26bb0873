//! The MySQL side: the connection manager and the pool services use.

mod manager;
mod pool;
mod stats;

pub use manager::MySqlManager;
pub use pool::{AcquireError, Pool, PoolBuilder, PooledConn};
pub use stats::PoolStats;
