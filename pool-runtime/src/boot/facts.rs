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
    /// TLS on the boot connection, and the server's TLS settings.
    pub tls: TlsFacts,
    /// `@@global.read_only`: the server refuses writes from accounts
    /// without SUPER / `READ ONLY ADMIN` (a replica, or a demoted primary).
    pub read_only: bool,
}

/// TLS as the server sees the boot connection, and its TLS settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TlsFacts {
    /// `Ssl_version` of the session: the negotiated protocol (`TLSv1.3`),
    /// `None` for plaintext.
    pub version: Option<String>,
    /// `Ssl_cipher` of the session, `None` for plaintext.
    pub cipher: Option<String>,
    /// `Ssl_server_not_after`: when the server's certificate expires, as
    /// the server writes it (`Mar  1 00:00:00 2027 GMT`), where it says.
    pub server_not_after: Option<String>,
    /// The same, in seconds since the Unix epoch, when it could be read.
    pub server_not_after_unix: Option<i64>,
    /// `require_secure_transport`; `None` where the server has no such
    /// variable (so it cannot require it), or where the boot checks did not
    /// read it (plaintext to loopback with `ssl_mode` not `disabled`: no
    /// rule needs it there).
    pub require_secure_transport: Option<bool>,
    /// `have_ssl` (`YES`, `DISABLED`), where the server has it (and it was
    /// read, as for `require_secure_transport`).
    pub have_ssl: Option<String>,
    /// The host the pool connects to is this machine.
    pub loopback: bool,
}

impl TlsFacts {
    /// Whether the boot connection is encrypted.
    pub fn encrypted(&self) -> bool {
        self.version.is_some()
    }
}

impl std::fmt::Display for TlsFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.version, &self.cipher) {
            (Some(v), Some(c)) => write!(f, "TLS {v}, cipher {c}"),
            (Some(v), None) => write!(f, "TLS {v}"),
            _ => f.write_str("plaintext (no TLS)"),
        }
    }
}

const TLS_VARIABLES: &str = "SHOW GLOBAL VARIABLES WHERE Variable_name IN \
     ('require_secure_transport', 'have_ssl')";

async fn pairs(conn: &mut Conn, query: &'static str) -> Result<Vec<(String, String)>, FactsError> {
    conn.query::<(String, String), _>(query)
        .await
        .map_err(|source| FactsError::Query { query, source })
}

/// Reads the TLS facts out of `status` (and the server's TLS settings when
/// `settings`); fails closed when the session's TLS status is missing
/// (every MySQL and MariaDB has it).
async fn read_tls(
    conn: &mut Conn,
    status: &[(String, String)],
    settings: bool,
) -> Result<TlsFacts, FactsError> {
    let get = |name: &str| {
        status
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let (Some(version), Some(cipher)) = (get("Ssl_version"), get("Ssl_cipher")) else {
        return Err(FactsError::NoRow { query: STATUS });
    };
    let some = |v: String| (!v.is_empty()).then_some(v);
    let not_after = get("Ssl_server_not_after").and_then(some);
    let vars = if settings {
        pairs(conn, TLS_VARIABLES).await?
    } else {
        Vec::new()
    };
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    Ok(TlsFacts {
        version: some(version),
        cipher: some(cipher),
        server_not_after_unix: not_after.as_deref().and_then(openssl_time),
        server_not_after: not_after,
        require_secure_transport: var("require_secure_transport")
            .map(|v| matches!(v.to_ascii_uppercase().as_str(), "ON" | "1" | "YES" | "TRUE")),
        have_ssl: var("have_ssl"),
        loopback: false,
    })
}

/// OpenSSL's `ASN1_TIME_print` form, `Mar  1 00:00:00 2027 GMT`, in seconds
/// since the epoch.
pub(crate) fn openssl_time(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [month, day, time, year, ..] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| x.eq_ignore_ascii_case(month))? as i64 + 1;
    let d: i64 = day.parse().ok()?;
    let y: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms.as_slice() else {
        return None;
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se)
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
      WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), @@global.read_only";

/// `Threads_connected` (global-only, so the session view shows the global
/// value) and the session's TLS status, in one statement.
const STATUS: &str = "SHOW SESSION STATUS WHERE Variable_name IN \
     ('Threads_connected', 'Ssl_version', 'Ssl_cipher', 'Ssl_server_not_after')";

type LimitsRow = (String, u64, u64, u64, u64, u64, u64, u64, u64);

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
        Self::read_with(conn, true).await
    }

    /// The same; the server's TLS settings (`require_secure_transport`,
    /// `have_ssl`, one statement more) only when `tls_settings`: the boot
    /// checks skip them where no rule needs them (plaintext to loopback
    /// with TLS not disabled).
    pub(crate) async fn read_with(
        conn: &mut Conn,
        tls_settings: bool,
    ) -> Result<ServerFacts, FactsError> {
        let (
            version,
            session_wait,
            global_wait,
            interactive,
            max_conn,
            user_max,
            global_user_max,
            mine,
            read_only,
        ): LimitsRow = row(conn, LIMITS).await?;
        let status = pairs(conn, STATUS).await?;
        let threads = status
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Threads_connected"))
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .ok_or(FactsError::NoRow { query: STATUS })?;
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
            tls: read_tls(conn, &status, tls_settings).await?,
            read_only: read_only != 0,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_times_are_read() {
        assert_eq!(openssl_time("Jan  1 00:00:00 1970 GMT"), Some(0));
        assert_eq!(
            openssl_time("Mar  1 00:00:00 2027 GMT"),
            Some(1_803_859_200)
        );
        assert_eq!(openssl_time("Dec 31 23:59:59 1999 GMT"), Some(946_684_799));
        assert_eq!(openssl_time("soon"), None);
    }
}
