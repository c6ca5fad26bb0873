//! What the live server (and this process) allow: the facts the rules judge.

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
    /// connections (init SQL included).
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
    /// The soft `RLIMIT_NOFILE` of this process, if known.
    pub open_files_limit: Option<u64>,
}

const LIMITS: &str = "SELECT VERSION(), @@session.wait_timeout, @@global.wait_timeout, \
     @@interactive_timeout, @@max_connections, @@session.max_user_connections, \
     @@global.max_user_connections, \
     (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
      WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1))";

type LimitsRow = (String, u64, u64, u64, u64, u64, u64, u64);

impl ServerFacts {
    /// Reads the facts on `conn`, which must be opened exactly as pool
    /// connections are (its session variables are the ones that matter).
    pub async fn read(conn: &mut Conn) -> Result<ServerFacts, mysql_async::Error> {
        let row: Option<LimitsRow> = conn.query_first(LIMITS).await?;
        let (
            version,
            session_wait,
            global_wait,
            interactive,
            max_conn,
            user_max,
            global_user_max,
            mine,
        ) = row.unwrap_or_default();
        let threads: Option<(String, u64)> = conn
            .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            .await?;
        Ok(ServerFacts {
            version,
            session_wait_timeout: session_wait,
            global_wait_timeout: global_wait,
            interactive_timeout: interactive,
            max_connections: max_conn,
            max_user_connections: user_max,
            account_has_own_limit: user_max != global_user_max,
            threads_connected: threads.map(|(_, n)| n).unwrap_or_default(),
            account_connections: mine,
            open_files_limit: open_files_limit(),
        })
    }
}

/// The soft limit on open files: each pool connection is one socket.
pub fn open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    // `rlim_t` is u64 on Linux but not on every platform.
    #[allow(clippy::unnecessary_cast)]
    let soft = limit.rlim_cur as u64;
    (rc == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(soft)
}
