//! The kit's own sessions on a test server: for readiness, setup and
//! inspection, never for the code under test.
//!
//! They go over TCP, like production traffic, and are closed as soon as the
//! kit is done with them, so that they do not show up in the connection
//! counts a test asserts on.

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use crate::testkit::TestkitError;

/// The URL of the kit's own server on `port`, as root without a password,
/// over TCP only (`prefer_socket=false`); `database` may be empty.
///
/// By default mysql_async moves a loopback TCP connection to the server's
/// Unix socket, and for a moment holds two sessions for it, which skews
/// connection counts.
pub(super) fn loopback_url(port: u16, database: &str) -> String {
    format!("mysql://root@127.0.0.1:{port}/{database}?prefer_socket=false")
}

/// A new session on the server at `url`.
pub(super) async fn connect(url: &str) -> Result<Conn, TestkitError> {
    let opts = Opts::from_url(url).map_err(|e| TestkitError::BadUrl {
        what: "the test server URL",
        reason: e.to_string(),
    })?;
    Conn::new(opts)
        .await
        .map_err(|e| TestkitError::query("connect", e))
}

/// Closes a session, best effort: the server forgets it either way.
pub(super) async fn disconnect(conn: Conn) {
    let _ = conn.disconnect().await;
}

/// Runs one statement on a session of its own.
pub(super) async fn run(url: &str, statement: &str) -> Result<(), TestkitError> {
    let mut conn = connect(url).await?;
    conn.query_drop(statement)
        .await
        .map_err(|e| TestkitError::query(statement, e))?;
    disconnect(conn).await;
    Ok(())
}

/// The ids of the client sessions the server has, but `conn`'s own and the
/// server's internal threads.
pub(super) async fn client_connection_ids(conn: &mut Conn) -> Result<Vec<u64>, TestkitError> {
    const QUERY: &str = "SELECT ID FROM information_schema.PROCESSLIST \
                         WHERE ID <> CONNECTION_ID() AND COMMAND NOT IN ('Daemon', 'Binlog Dump') \
                         AND USER NOT IN ('system user', 'event_scheduler')";
    conn.query(QUERY)
        .await
        .map_err(|e| TestkitError::query(QUERY, e))
}
