//! The MySQL side: the connection manager and the pool services use.

mod manager;
mod pool;

pub use manager::MySqlManager;
pub use pool::{AcquireError, Pool, PoolBuilder, PooledConn};
