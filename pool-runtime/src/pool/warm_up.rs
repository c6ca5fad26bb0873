//! Warm-up: open `min_idle` connections before the pool is called ready.
//!
//! The maintenance task fills `min_idle` in the background, one pass per
//! tick, and gives up until the next tick when a connect fails. A service
//! that is ready only when its pool is wants to wait for that instead, with
//! a deadline: [`GenericPool::warm_up`](super::GenericPool::warm_up) opens
//! the missing connections concurrently, retries failures with a short
//! back-off, and says how far it got when time runs out.

use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

use super::error::PoolError;
use super::flight::PermitInFlight;
use super::inner::PoolInner;
use super::manager::Manager;

/// The pause between two rounds of connects that did not all succeed.
const BACKOFF: Duration = Duration::from_millis(100);

/// Why [`GenericPool::warm_up`](super::GenericPool::warm_up) did not open
/// `min_idle` connections in time.
#[derive(Debug, thiserror::Error)]
#[error(
    "opened {opened} of min_idle {wanted} connections within {within:?}: the server may \
     refuse more sessions (max_user_connections, max_connections), or be slow; lower \
     min_idle, raise the server's limit, or allow more time"
)]
#[non_exhaustive]
pub struct WarmUpError<E: std::error::Error + 'static> {
    /// The connections wanted open: `min_idle`, capped by `max_idle` and
    /// `max_open`.
    pub wanted: u64,
    /// The connections open when time ran out.
    pub opened: u64,
    /// The time allowed.
    pub within: Duration,
    /// The last connect error, if a connect failed.
    #[source]
    pub last_error: Option<PoolError<E>>,
}

impl<M: Manager> PoolInner<M> {
    pub(crate) async fn warm_up(
        self: &Arc<Self>,
        within: Duration,
    ) -> Result<(), WarmUpError<M::Error>> {
        let limits = self.limits.snapshot();
        let wanted = usize::try_from(limits.min_idle)
            .unwrap_or(usize::MAX)
            .min(limits.idle_cap());
        let mut last_error = None;
        let ends = Instant::now() + within;
        let filled = tokio::time::timeout_at(ends, async {
            loop {
                if self.is_closed() || self.stats().open as usize >= wanted {
                    return;
                }
                // One filler at a time: maintenance counts on what it opens.
                let round = {
                    let _one_at_a_time = self.maintaining.lock().await;
                    self.fill_round(wanted).await
                };
                match round {
                    Ok(0) => tokio::time::sleep(BACKOFF).await, // no room yet
                    Ok(_) => {}
                    Err(e) => {
                        last_error = Some(e);
                        tokio::time::sleep(BACKOFF).await;
                    }
                }
            }
        })
        .await;
        // Not `open`: that counts the permits of connects just cancelled.
        let stats = self.stats();
        let opened = stats.idle + stats.in_use;
        if filled.is_ok() && !self.is_closed() {
            tracing::info!(opened, "pool warmed up to min_idle");
            return Ok(());
        }
        Err(WarmUpError {
            wanted: wanted as u64,
            opened,
            within,
            last_error,
        })
    }

    /// Opens, concurrently, as many connections as permits allow up to
    /// `wanted` open: how many it opened, or the last error if one failed.
    async fn fill_round(self: &Arc<Self>, wanted: usize) -> Result<usize, PoolError<M::Error>> {
        let mut connects = tokio::task::JoinSet::new();
        while self.transition(|st| st.try_permit(wanted, false)) {
            let inner = Arc::clone(self);
            connects.spawn(async move {
                let permit = PermitInFlight::new(&inner, false);
                let conn = inner.connect().await?;
                permit.connected();
                inner.release(conn, false);
                Ok(())
            });
        }
        let mut opened = 0;
        let mut failed = None;
        while let Some(joined) = connects.join_next().await {
            match joined {
                Ok(Ok(())) => opened += 1,
                Ok(Err(e)) => failed = Some(e),
                Err(_) => {} // cancelled with the runtime: the guard freed its permit
            }
        }
        failed.map_or(Ok(opened), Err)
    }
}
