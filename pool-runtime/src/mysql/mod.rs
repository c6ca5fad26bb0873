//! The MySQL side: the connection manager, the pool services use, the
//! builder that runs the boot checks, and the statement path (`exec`).

mod builder;
pub(crate) mod credentials;
pub(crate) mod exec;
mod handle;
mod manager;
mod stats;

pub use builder::PoolBuilder;
pub use handle::{AcquireError, Pool, PooledConn};
pub use manager::MySqlManager;
pub use stats::PoolStats;
