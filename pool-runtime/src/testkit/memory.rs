//! An in-memory connection manager, to test and measure the pool core
//! without a server.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use crate::pool::Manager;

/// A [`Manager`] whose connections are counters in memory, with switches to
/// make them fail the ways real ones do: connects that fail or are slow,
/// connections killed behind the pool's back (their ping fails), or
/// silently dropped (their ping never answers, nor their goodbye).
///
/// ```
/// use pool_runtime::pool::{GenericPool, Limits};
/// use pool_runtime::testkit::MemoryManager;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let manager = MemoryManager::new();
/// let pool = GenericPool::new(manager.clone(), Limits::default()).unwrap();
/// drop(pool.get().await.unwrap());
/// assert_eq!(manager.live(), 1);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryManager {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    next_id: AtomicU64,
    live: AtomicU64,
    connects: AtomicU64,
    validations: AtomicU64,
    resets: AtomicU64,
    goodbyes: AtomicU64,
    fail_connects: AtomicU64,
    fail_resets: AtomicU64,
    connect_delay_nanos: AtomicU64,
    /// Connections created before this generation fail validation.
    killed_before: AtomicU64,
    /// Connections created before this generation never answer a ping.
    silenced_before: AtomicU64,
    refuse_all: AtomicBool,
    /// Goodbyes ([`Manager::close`]) never finish.
    hang_goodbyes: AtomicBool,
    /// Resets ([`Manager::reset`]) never finish.
    hang_resets: AtomicBool,
}

/// A connection of a [`MemoryManager`]. Dropping it closes it.
pub struct MemoryConn {
    id: u64,
    broken: bool,
    dirty: bool,
    state: Arc<State>,
}

/// The error a [`MemoryManager`] fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// A connect was told to fail.
    #[error("connect refused (MemoryManager told to fail it)")]
    Refused,
    /// The connection was killed behind the pool's back.
    #[error("connection {0} was killed")]
    Killed(u64),
}

impl MemoryManager {
    /// A manager whose connects succeed at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections open now (created and not yet dropped).
    pub fn live(&self) -> u64 {
        self.state.live.load(SeqCst)
    }

    /// Connects attempted so far, failed ones included.
    pub fn connects(&self) -> u64 {
        self.state.connects.load(SeqCst)
    }

    /// Validation pings so far.
    pub fn validations(&self) -> u64 {
        self.state.validations.load(SeqCst)
    }

    /// Resets attempted so far, failed ones included.
    pub fn resets(&self) -> u64 {
        self.state.resets.load(SeqCst)
    }

    /// Goodbyes ([`Manager::close`]) started so far, finished or not.
    pub fn goodbyes(&self) -> u64 {
        self.state.goodbyes.load(SeqCst)
    }

    /// From now on, every goodbye ([`Manager::close`]) hangs until the pool
    /// gives up on it, as with a peer that vanished without a word.
    pub fn hang_goodbyes(&self, hang: bool) {
        self.state.hang_goodbyes.store(hang, SeqCst);
    }

    /// The next `n` connects fail.
    pub fn fail_next_connects(&self, n: u64) {
        self.state.fail_connects.store(n, SeqCst);
    }

    /// From now on, every reset ([`Manager::reset`]) hangs until the pool
    /// gives up on it, as on a connection whose peer stopped answering.
    pub fn hang_resets(&self, hang: bool) {
        self.state.hang_resets.store(hang, SeqCst);
    }

    /// The next `n` resets ([`Manager::reset`]) fail, as when the connection
    /// died while its user held it.
    pub fn fail_next_resets(&self, n: u64) {
        self.state.fail_resets.store(n, SeqCst);
    }

    /// Every connect fails until switched off again (a server that is down).
    pub fn refuse_all(&self, refuse: bool) {
        self.state.refuse_all.store(refuse, SeqCst);
    }

    /// Each connect takes this long.
    pub fn set_connect_delay(&self, delay: Duration) {
        let nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.state.connect_delay_nanos.store(nanos, SeqCst);
    }

    /// Every connection that exists now fails its next ping, as after a
    /// server-side idle kill.
    pub fn kill_existing(&self) {
        let next = self.state.next_id.load(SeqCst);
        self.state.killed_before.store(next, SeqCst);
    }

    /// Every connection that exists now never answers a ping again, as when
    /// a middlebox drops the flow silently.
    pub fn silence_existing(&self) {
        let next = self.state.next_id.load(SeqCst);
        self.state.silenced_before.store(next, SeqCst);
    }
}

impl MemoryConn {
    /// The manager's id for this connection (0, 1, 2, ... in creation order).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Marks it broken, as a fatal error would: the pool must drop it.
    pub fn break_it(&mut self) {
        self.broken = true;
    }

    /// Marks it dirty, as an open transaction would: the pool must reset it.
    pub fn make_dirty(&mut self) {
        self.dirty = true;
    }

    /// Whether it is dirty: marked so and not reset since.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }
}

impl Drop for MemoryConn {
    fn drop(&mut self) {
        self.state.live.fetch_sub(1, SeqCst);
    }
}

impl fmt::Debug for MemoryConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryConn")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MemoryManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryManager")
            .field("live", &self.live())
            .field("connects", &self.connects())
            .finish_non_exhaustive()
    }
}

impl Manager for MemoryManager {
    type Connection = MemoryConn;
    type Error = MemoryError;

    async fn connect(&self) -> Result<MemoryConn, MemoryError> {
        let state = &self.state;
        state.connects.fetch_add(1, SeqCst);
        let delay = state.connect_delay_nanos.load(SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_nanos(delay)).await;
        }
        let told_to_fail = state
            .fail_connects
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if told_to_fail || state.refuse_all.load(SeqCst) {
            return Err(MemoryError::Refused);
        }
        state.live.fetch_add(1, SeqCst);
        Ok(MemoryConn {
            id: state.next_id.fetch_add(1, SeqCst),
            broken: false,
            dirty: false,
            state: Arc::clone(state),
        })
    }

    async fn validate(&self, conn: &mut MemoryConn) -> Result<(), MemoryError> {
        self.state.validations.fetch_add(1, SeqCst);
        if conn.id < self.state.silenced_before.load(SeqCst) {
            std::future::pending::<()>().await;
        }
        if conn.id < self.state.killed_before.load(SeqCst) {
            conn.broken = true;
            return Err(MemoryError::Killed(conn.id));
        }
        Ok(())
    }

    fn is_broken(&self, conn: &MemoryConn) -> bool {
        conn.broken
    }

    /// A killed connection was closed behind the pool's back, as a server
    /// closes one; a refused connect proves nothing about the others.
    fn peer_closed(&self, error: &MemoryError) -> bool {
        matches!(error, MemoryError::Killed(_))
    }

    fn session_id(&self, conn: &MemoryConn) -> Option<u64> {
        Some(conn.id)
    }

    fn needs_reset(&self, conn: &MemoryConn) -> bool {
        conn.dirty
    }

    async fn reset(&self, conn: &mut MemoryConn) -> Result<(), MemoryError> {
        self.state.resets.fetch_add(1, SeqCst);
        if self.state.hang_resets.load(SeqCst) {
            std::future::pending::<()>().await;
        }
        let told_to_fail = self
            .state
            .fail_resets
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if told_to_fail {
            conn.broken = true;
            return Err(MemoryError::Killed(conn.id));
        }
        conn.dirty = false;
        Ok(())
    }

    async fn close(&self, conn: MemoryConn) {
        self.state.goodbyes.fetch_add(1, SeqCst);
        if self.state.hang_goodbyes.load(SeqCst) {
            // Holds the connection until the pool drops this future.
            let _conn = conn;
            std::future::pending::<()>().await;
        }
    }
}
