//! The MySQL side: the connection manager, the pool services use, the
//! builder that runs the boot checks, and the statement path (`exec`).

mod builder;
pub(crate) mod exec;
mod manager;
mod pool;
mod stats;

pub use builder::PoolBuilder;
pub use manager::MySqlManager;
pub use pool::{AcquireError, Pool, PooledConn};
pub use stats::PoolStats;
