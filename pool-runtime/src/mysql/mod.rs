//! The MySQL side: the connection manager, the pool services use, and the
//! builder that runs the boot checks.

mod builder;
mod manager;
mod pool;

pub use builder::PoolBuilder;
pub use manager::MySqlManager;
pub use pool::{AcquireError, Pool, PooledConn};
