//! What the pool core needs from a kind of connection.

use std::future::Future;

/// Opens, checks, cleans and closes connections of one kind.
///
/// The pool core ([`GenericPool`](super::GenericPool)) is written against this
/// trait only, so it can be measured and tested without a server; the MySQL
/// manager ([`MySqlManager`](crate::MySqlManager)) is the one services use.
///
/// ```
/// use std::convert::Infallible;
/// use pool_runtime::pool::Manager;
///
/// /// Connections that are plain numbers: enough to exercise the pool.
/// struct Numbers;
///
/// impl Manager for Numbers {
///     type Connection = u64;
///     type Error = Infallible;
///     async fn connect(&self) -> Result<u64, Infallible> { Ok(7) }
///     async fn validate(&self, _: &mut u64) -> Result<(), Infallible> { Ok(()) }
///     fn is_broken(&self, _: &u64) -> bool { false }
/// }
/// ```
pub trait Manager: Send + Sync + 'static {
    /// The connection type handed out by the pool.
    type Connection: Send + 'static;
    /// What opening or checking a connection can fail with.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Opens a new connection, init statements included.
    fn connect(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// A round trip proving the connection works (a ping). The pool bounds
    /// it with the validation timeout and discards the connection on error.
    fn validate(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// A check without I/O: is the connection known to be unusable (a fatal
    /// error seen, an operation cancelled half-way)? Broken connections
    /// returned to the pool are dropped, never handed out again.
    fn is_broken(&self, conn: &Self::Connection) -> bool;

    /// Whether `error`, seen on a connection, proves that its peer (the
    /// server) closed it: the session was ended from the other side, so
    /// sessions opened before it may have been ended too (a restart, a
    /// failover killing every session). Then every idle connection last
    /// known alive before that moment is validated before its next use,
    /// however recently it was used (see
    /// [`Pooled::discard_after`](super::Pooled::discard_after)). Checked
    /// for failed validation and keepalive pings, and for errors a user
    /// hands to `discard_after`. Default: no error proves it.
    fn peer_closed(&self, error: &Self::Error) -> bool {
        let _ = error;
        false
    }

    /// A check without I/O: must the connection be cleaned before the next
    /// user gets it (an open transaction, say)? Default: never.
    fn needs_reset(&self, conn: &Self::Connection) -> bool {
        let _ = conn;
        false
    }

    /// Cleans a connection for which [`needs_reset`](Self::needs_reset) said
    /// so. An error discards the connection. Default: nothing to do.
    fn reset(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// The server's own id for this connection's session (MySQL's
    /// `CONNECTION_ID()`), read once when it opens, if the kind of
    /// connection has one. A drain hands the ids of connections still in
    /// use to its interrupt hook (which may send `KILL QUERY`). Default:
    /// none.
    fn session_id(&self, conn: &Self::Connection) -> Option<u64> {
        let _ = conn;
        None
    }

    /// Closes a healthy connection politely (e.g. `COM_QUIT`). Default: drop it.
    fn close(&self, conn: Self::Connection) -> impl Future<Output = ()> + Send {
        drop(conn);
        async {}
    }
}
