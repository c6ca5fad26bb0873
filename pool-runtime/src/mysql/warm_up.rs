//! Warm-up at boot: `connect()` returns once `min_idle` connections are
//! open, or fails in time (the `warm_up` setting,
//! [`PoolBuilder::warm_up`](super::PoolBuilder::warm_up)).

use super::handle::Pool;
use crate::boot::{self, BootError};
use crate::options::SslMode;
use crate::pool::PoolError;

/// Waits for `min_idle` within `warm_up`, when both are set; on failure
/// closes the pool and says how far it got.
pub(super) async fn at_boot(pool: &Pool, target: &str) -> Result<(), BootError> {
    let options = pool.options();
    let Some(within) = options.warm_up else {
        return Ok(());
    };
    if options.min_idle == 0 {
        return Ok(());
    }
    let core = pool.core();
    let Err(short) = core.warm_up(within).await else {
        return Ok(());
    };
    let manager = core.manager();
    let last_error = short.last_error.map(|e| {
        Box::new(match e {
            PoolError::Connect(e) => {
                boot::error::from_connect(manager.url(), manager.ssl_mode() == SslMode::Disabled, e)
            }
            PoolError::ConnectTimeout(after) => BootError::ConnectTimeout {
                target: target.to_owned(),
                after,
            },
            other => BootError::ConnectFailed {
                target: target.to_owned(),
                source: mysql_async::Error::Other(other.to_string().into()),
            },
        })
    });
    let error = BootError::WarmUp {
        target: target.to_owned(),
        min_idle: short.wanted,
        opened: short.opened,
        within,
        last_error,
    };
    tracing::error!(error = %error, "pool warm-up failed; closing the pool");
    pool.close().await;
    Err(error)
}
