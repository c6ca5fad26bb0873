//! What the live server (and this process) allow: the facts the rules judge.
//!
//! Reading fails closed: a query that returns no row is an error naming the
//! query, never a zero that would switch a rule off.

use mysql_async::Conn;
use mysql_async::prelude::*;
use serde::Serialize;

/// The server's limits as seen from a pool connection, and the process's
/// open-file limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ServerFacts {
    /// `VERSION()`.
    pub version: String,
    /// The session's `wait_timeout` in seconds: what applies to pool
    /// connections (init SQL included). Servers refuse values below 1.
    pub session_wait_timeout: u64,
    /// The global `wait_timeout`.
    pub global_wait_timeout: u64,
    /// `interactive_timeout` (applies only to clients that ask for it).
    pub interactive_timeout: u64,
    /// `max_connections`.
    pub max_connections: u64,
    /// `max_user_connections` as it applies to this account: its own
    /// `MAX_USER_CONNECTIONS` if it has one, else the global value. 0 = no limit.
    pub max_user_connections: u64,
    /// Whether the account has a connection limit of its own.
    pub account_has_own_limit: bool,
    /// `Threads_connected`: connections open on the server right now.
    pub threads_connected: u64,
    /// Connections this account has open (those it can see).
    pub account_connections: u64,
    /// The soft `RLIMIT_NOFILE` of this process, if known (Unix only).
    pub open_files_limit: Option<u64>,
}

/// Why the server's limits could not be read. Without them the config
/// cannot be judged, so the pool does not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactsError {
    /// The server answered the query with an error, or the connection broke.
    #[error("reading the server's limits failed (`{query}`)")]
    Query {
        /// The query that failed.
        query: &'static str,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },
    /// The query returned no row, or values of the wrong type.
    #[error(
        "the server answered `{query}` with no usable row: its limits are unknown, so the \
         config cannot be judged (does this account see its own variables and status?)"
    )]
    NoRow {
        /// The query that returned nothing usable.
        query: &'static str,
    },
}

const LIMITS: &str = "SELECT VERSION(), @@session.wait_timeout, @@global.wait_timeout, \
     @@interactive_timeout, @@max_connections, @@session.max_user_connections, \
     @@global.max_user_connections, \
     (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
      WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1))";

const THREADS: &str = "SHOW GLOBAL STATUS LIKE 'Threads_connected'";

type LimitsRow = (String, u64, u64, u64, u64, u64, u64, u64);

async fn row<T: FromRow + Send + 'static>(
    conn: &mut Conn,
    query: &'static str,
) -> Result<T, FactsError> {
    let row: Option<mysql_async::Row> = conn
        .query_first(query)
        .await
        .map_err(|source| FactsError::Query { query, source })?;
    row.and_then(|row| T::from_row_opt(row).ok())
        .ok_or(FactsError::NoRow { query })
}

impl ServerFacts {
    /// Reads the facts on `conn`, which must be opened exactly as pool
    /// connections are (its session variables are the ones that matter).
    pub async fn read(conn: &mut Conn) -> Result<ServerFacts, FactsError> {
        let (
            version,
            session_wait,
            global_wait,
            interactive,
            max_conn,
            user_max,
            global_user_max,
            mine,
        ): LimitsRow = row(conn, LIMITS).await?;
        let (_, threads): (String, u64) = row(conn, THREADS).await?;
        Ok(ServerFacts {
            version,
            session_wait_timeout: session_wait,
            global_wait_timeout: global_wait,
            interactive_timeout: interactive,
            max_connections: max_conn,
            max_user_connections: user_max,
            account_has_own_limit: user_max != global_user_max,
            threads_connected: threads,
            account_connections: mine,
            open_files_limit: open_files_limit(),
        })
    }
}

/// The soft limit on open files: each pool connection is one socket.
/// `None` where there is no such limit to read (not Unix) or it is
/// unlimited.
pub fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}
