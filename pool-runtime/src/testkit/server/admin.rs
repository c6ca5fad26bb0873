//! The kit's own sessions on a test server: for readiness, setup and
//! inspection, never for the code under test.
//!
//! On a server the kit owns they log in as a user of their own
//! ([`KIT_USER`]), so that they never show up in the connection counts a
//! test asserts on: a session the kit has just closed can linger in the
//! server's process list for a moment, and the server cannot tell "the
//! session asking" from "an earlier one" otherwise.
//!
//! They go over the server's Unix socket: a server started with
//! `require_secure_transport=ON` refuses plaintext TCP, and counts a Unix
//! socket as a secure transport, so the kit keeps working on it while the
//! crate's driver is built without TLS. Tests get TCP URLs ([`test_url`]),
//! like production traffic.

use std::path::Path;

use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder};

use crate::testkit::TestkitError;

/// The user the kit's own sessions log in as on an owned server.
const KIT_USER: &str = "pool_testkit";

/// Run by an owned server at every start, before it accepts connections
/// (`--init-file`: one statement a line): the database tests use and the
/// kit's own user, both kept across restarts. Kept out of the binary log of
/// a server that has one: each server makes them itself, and a replica's own
/// events would give it a GTID history its primary does not have.
pub(super) const INIT_SQL: &str = "\
SET SESSION sql_log_bin = 0;
CREATE DATABASE IF NOT EXISTS test;
CREATE USER IF NOT EXISTS 'pool_testkit'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'pool_testkit'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'pool_testkit'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO 'pool_testkit'@'localhost' WITH GRANT OPTION;
";

/// The URL tests get for an owned server on `port`: root without a
/// password, database `test`, over TCP only (`prefer_socket=false`).
///
/// By default mysql_async moves a loopback TCP connection to the server's
/// Unix socket, and for a moment holds two sessions for it, which skews
/// connection counts.
pub(super) fn test_url(port: u16) -> String {
    format!("mysql://root@127.0.0.1:{port}/test?prefer_socket=false")
}

/// The kit's own sessions on an owned server whose socket is `socket`.
pub(super) fn kit_opts(socket: &Path) -> Opts {
    socket_opts(socket, KIT_USER, None)
}

/// [`TestServer::conn`](super::TestServer::conn)'s sessions on an owned
/// server: root, database `test`, over the socket.
pub(super) fn root_opts(socket: &Path) -> Opts {
    socket_opts(socket, "root", Some("test"))
}

fn socket_opts(socket: &Path, user: &str, db: Option<&str>) -> Opts {
    OptsBuilder::default()
        .ip_or_hostname("localhost")
        .user(Some(user))
        .db_name(db)
        .socket(Some(socket.to_string_lossy()))
        .prefer_socket(false)
        .into()
}

/// A new session on the server at `url`.
pub(super) async fn connect(url: &str) -> Result<Conn, TestkitError> {
    let opts = Opts::from_url(url).map_err(|e| TestkitError::BadUrl {
        what: "the test server URL",
        reason: e.to_string(),
    })?;
    connect_with(opts).await
}

/// A new session with `opts`.
pub(super) async fn connect_with(opts: Opts) -> Result<Conn, TestkitError> {
    Conn::new(opts)
        .await
        .map_err(|e| TestkitError::query("connect", e))
}

/// Closes a session, best effort: the server forgets it either way.
pub(super) async fn disconnect(conn: Conn) {
    let _ = conn.disconnect().await;
}

/// Kills the sessions `ids` on `conn`'s server; returns how many were
/// killed (a session that ended on its own meanwhile is not counted).
pub(super) async fn kill_sessions(conn: &mut Conn, ids: Vec<u64>) -> Result<usize, TestkitError> {
    let mut killed = 0;
    for id in ids {
        match conn.query_drop(format!("KILL CONNECTION {id}")).await {
            Ok(()) => killed += 1,
            // Unknown thread id: it ended on its own in the meantime.
            Err(mysql_async::Error::Server(e)) if e.code == 1094 => {}
            Err(e) => return Err(TestkitError::query("KILL CONNECTION", e)),
        }
    }
    Ok(killed)
}

/// The ids of the client sessions the server has, but `conn`'s own, the
/// kit's, the server's internal threads, and sessions killed already (they
/// show as `Killed` from the `KILL` on, until their thread has cleaned up).
pub(super) async fn client_connection_ids(conn: &mut Conn) -> Result<Vec<u64>, TestkitError> {
    const QUERY: &str = "SELECT ID FROM information_schema.PROCESSLIST \
                         WHERE ID <> CONNECTION_ID() \
                         AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Killed') \
                         AND USER NOT IN ('system user', 'event_scheduler', 'pool_testkit')";
    conn.query(QUERY)
        .await
        .map_err(|e| TestkitError::query(QUERY, e))
}
