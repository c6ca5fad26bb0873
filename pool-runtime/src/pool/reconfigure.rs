//! Changing a running pool's limits (Go's `SetMaxOpenConns` and friends).
//!
//! New limits are put in force under the pool's lock, in one move: the
//! hot-path values through [`LiveLimits`](super::limits::LiveLimits), the
//! caps in the state. Shrinking closes the idle surplus at once and the
//! in-use surplus as it comes back; growing lets waiters in at once. A new
//! `max_lifetime` recomputes the expiry of every idle connection now and of
//! every one in use when it is returned; a new `max_idle_time` applies at
//! the next look at each idle connection; a raised `min_idle` is filled by
//! the next maintenance pass. The core judges nothing against a server:
//! the MySQL pool does that before it calls here.

use std::sync::Arc;

use super::inner::PoolInner;
use super::limits::{Limits, LimitsError};
use super::manager::Manager;

impl<M: Manager> PoolInner<M> {
    /// Puts `new` in force; returns the limits it replaced.
    pub(crate) async fn reconfigure(self: &Arc<Self>, new: Limits) -> Result<Limits, LimitsError> {
        let _one_at_a_time = self.reconfiguring.lock().await;
        if self.is_closed() {
            return Err(LimitsError::Closed);
        }
        let current = self.limits.snapshot();
        if let Some(field) = current.fixed_difference(&new) {
            return Err(LimitsError::NotLive { field });
        }
        self.leaks.set_threshold(new.leak_threshold);
        self.validation.set_fixed(new.validation_timeout);
        let old = self.limits.replace(new.clone());
        let (lifetime, epoch) = self.limits.max_lifetime();
        let surplus = self.transition(|st| {
            if old.max_lifetime != new.max_lifetime {
                for conn in st.idle_mut() {
                    conn.apply_lifetime(lifetime, epoch);
                }
            }
            st.set_caps(&new)
        });
        // One reconfigure at a time, so the limit gauges end on the last.
        if let Some(observer) = &self.observer {
            observer.limits(&new);
        }
        tracing::debug!(
            max_open = new.max_open,
            max_idle = new.max_idle,
            min_idle = new.min_idle,
            surplus_closed = surplus.len(),
            "pool limits changed"
        );
        for (conn, why) in surplus {
            self.close_conn(conn, why);
        }
        Ok(Limits::clone(&old))
    }
}
