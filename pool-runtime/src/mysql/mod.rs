//! The MySQL side: the connection manager, the pool services use, the
//! builder that runs the boot checks, and the statement path (`exec`).

mod builder;
pub(crate) mod credentials;
mod drain;
pub(crate) mod exec;
mod handle;
mod health;
mod manager;
mod metrics;
mod reconfigure;
mod stats;
mod warm_up;

pub use builder::PoolBuilder;
pub use drain::Drain;
pub use handle::{AcquireError, Pool, PooledConn};
pub use health::{DownReason, Health, HealthState};
pub use manager::MySqlManager;
pub use reconfigure::{LIVE_SETTINGS, ReconfigureError, Reconfigured, SettingChange};
pub use stats::PoolStats;
