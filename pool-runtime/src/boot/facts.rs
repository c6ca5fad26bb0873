//! What the live server (and this process) allow: the facts the rules judge.
//!
//! Reading fails closed: a query that returns no row is an error naming the
//! query, never a zero that would switch a rule off.

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};
use serde::Serialize;

use super::replication::{self, Replication};
use crate::options::Role;

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
    /// `@@global.super_read_only` (MySQL 5.7.8+): writes are refused from
    /// SUPER accounts too. `None` where the server has no such variable
    /// (MariaDB).
    pub super_read_only: Option<bool>,
    /// `@@global.innodb_read_only`: InnoDB refuses every write, from every
    /// account (MySQL: error 1836; MariaDB: 1036 `Table ... is read only`),
    /// as on an Aurora MySQL reader or a server started read-only. `None`
    /// where the server has no such variable.
    pub innodb_read_only: Option<bool>,
    /// `Slaves_running` (MariaDB): how many replication connections run;
    /// `None` where the server has no such status (MySQL).
    pub replication_threads: Option<u64>,
    /// Whether the server replicates from a source, read where a rule
    /// needs it (see [`Replication`]).
    pub replication: Replication,
}

impl ServerFacts {
    /// The variables that make the server refuse writes, strongest first:
    /// `innodb_read_only`, `super_read_only`, `read_only`. Empty: writable.
    pub fn read_only_by(&self) -> Vec<&'static str> {
        [
            ("innodb_read_only", self.innodb_read_only == Some(true)),
            ("super_read_only", self.super_read_only == Some(true)),
            ("read_only", self.read_only),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
    }

    /// Whether any of `read_only`, `super_read_only`, `innodb_read_only`
    /// is on: the server refuses writes from a service login.
    pub fn refuses_writes(&self) -> bool {
        !self.read_only_by().is_empty()
    }

    /// The read-only variables as a report shows them: those that are on
    /// (`super_read_only = ON, read_only = ON`), or `read_only = OFF`.
    pub fn read_only_fact(&self) -> String {
        let on = self.read_only_by();
        if on.is_empty() {
            return "read_only = OFF".into();
        }
        on.iter()
            .map(|name| format!("{name} = ON"))
            .collect::<Vec<_>>()
            .join(", ")
    }
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

/// The limits and `read_only`, in one statement. Servers that have
/// `innodb_read_only` (MySQL 5.6.5+, MariaDB 10.0+) and `super_read_only`
/// (MySQL 5.7.8+) are asked for them in the same statement, chosen by the
/// version the handshake gave; a server that still lacks one (error 1193)
/// is asked again without them.
macro_rules! limits {
    ($($extra:literal),*) => {
        concat!(
            "SELECT VERSION(), @@session.wait_timeout, @@global.wait_timeout, \
             @@interactive_timeout, @@max_connections, @@session.max_user_connections, \
             @@global.max_user_connections, \
             (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
              WHERE USER = SUBSTRING_INDEX(CURRENT_USER(), '@', 1)), @@global.read_only"
            $(, ", ", $extra)*
        )
    };
}
const LIMITS: &str = limits!();
const LIMITS_INNODB: &str = limits!("@@global.innodb_read_only");
const LIMITS_MYSQL: &str = limits!("@@global.innodb_read_only", "@@global.super_read_only");

/// The `LIMITS` statement for a server of this handshake version, and
/// whether it asks for `innodb_read_only` and `super_read_only`.
fn limits_for((major, minor, patch): (u16, u16, u16)) -> (&'static str, bool, bool) {
    let version = (major, minor, patch);
    if major >= 10 {
        // MariaDB (its handshake reports 10 and above): no super_read_only.
        (LIMITS_INNODB, true, false)
    } else if version >= (5, 7, 8) {
        (LIMITS_MYSQL, true, true)
    } else if version >= (5, 6, 5) {
        (LIMITS_INNODB, true, false)
    } else {
        (LIMITS, false, false)
    }
}

/// `Threads_connected` (global-only, so the session view shows the global
/// value), `Slaves_running` (MariaDB) and the session's TLS status, in one
/// statement.
const STATUS: &str = "SHOW SESSION STATUS WHERE Variable_name IN \
     ('Threads_connected', 'Slaves_running', 'Ssl_version', 'Ssl_cipher', \
      'Ssl_server_not_after')";

/// A column as a number; `None` for NULL, text that is no number, or a
/// missing column.
fn number(row: &Row, i: usize) -> Option<u64> {
    match row.as_ref(i)? {
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::UInt(n) => Some(*n),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        _ => None,
    }
}

/// A column as a switch: `0`/`OFF` is off, any other value on (servers
/// whose `read_only` is a word, `ON`, `NO_LOCK`, ...). `None` for NULL
/// or a missing column.
fn switch(row: &Row, i: usize) -> Option<bool> {
    match row.as_ref(i)? {
        Value::Int(n) => Some(*n != 0),
        Value::UInt(n) => Some(*n != 0),
        Value::Bytes(b) => {
            let text = String::from_utf8_lossy(b);
            let text = text.trim();
            Some(!(text == "0" || text.eq_ignore_ascii_case("OFF")))
        }
        _ => None,
    }
}

/// The limits row, read from `LIMITS` (or a variant).
struct Limits {
    version: String,
    numbers: [u64; 7],
    read_only: bool,
    innodb_read_only: Option<bool>,
    super_read_only: Option<bool>,
}

async fn limits(conn: &mut Conn) -> Result<Limits, FactsError> {
    let (mut query, mut innodb, mut super_ro) = limits_for(conn.server_version());
    let row: Row = loop {
        match conn.query_first::<Row, _>(query).await {
            Ok(Some(row)) => break row,
            Ok(None) => return Err(FactsError::NoRow { query }),
            // 1193: unknown system variable; a fork without one of them.
            Err(mysql_async::Error::Server(e)) if e.code == 1193 && query != LIMITS => {
                tracing::debug!(error = %e.message, "the server lacks a read-only variable; asking without");
                (query, innodb, super_ro) = (LIMITS, false, false);
            }
            Err(source) => return Err(FactsError::Query { query, source }),
        }
    };
    let bad = || FactsError::NoRow { query };
    let version = match row.as_ref(0) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => return Err(bad()),
    };
    let mut numbers = [0; 7];
    for (i, n) in numbers.iter_mut().enumerate() {
        *n = number(&row, i + 1).ok_or_else(bad)?;
    }
    Ok(Limits {
        version,
        numbers,
        read_only: switch(&row, 8).ok_or_else(bad)?,
        innodb_read_only: if innodb { switch(&row, 9) } else { None },
        super_read_only: if super_ro { switch(&row, 10) } else { None },
    })
}

/// Whether the replica status is worth a statement at boot, for a pool of
/// `role` on a server with these facts. A replica-role pool always asks:
/// its rule turns on it, and its operator wants the source and lag in the
/// report. A primary-role pool asks only when the server refuses writes
/// (the boot fails anyway; the report then says what it replicates from)
/// or its status shows replication threads running (MariaDB's
/// `Slaves_running`, read for free): a plain primary's boot costs no
/// statement more. `any` judges nothing, so it never asks.
fn wants_replication(role: Role, facts: &ServerFacts) -> bool {
    match role {
        Role::Replica => true,
        Role::Primary => facts.refuses_writes() || facts.replication_threads.is_some_and(|n| n > 0),
        // `any`, and roles to come: nothing judged.
        _ => false,
    }
}

impl ServerFacts {
    /// Reads the facts on `conn`, which must be opened exactly as pool
    /// connections are (its session variables are the ones that matter).
    /// The replica status is not read ([`Replication::NotRead`]); see
    /// [`ServerFacts::read_replication`].
    pub async fn read(conn: &mut Conn) -> Result<ServerFacts, FactsError> {
        Self::read_with(conn, true, Role::Any).await
    }

    /// Reads whether the server is a replica (`SHOW REPLICA STATUS`, or
    /// `SHOW SLAVE STATUS` on older servers) into
    /// [`replication`](Self::replication). An account without the
    /// privilege gets [`Replication::NoPrivilege`], not an error.
    pub async fn read_replication(&mut self, conn: &mut Conn) -> Result<(), FactsError> {
        self.replication = replication::read(conn).await?;
        Ok(())
    }

    /// The same; the server's TLS settings (`require_secure_transport`,
    /// `have_ssl`, one statement more) only when `tls_settings`: the boot
    /// checks skip them where no rule needs them (plaintext to loopback
    /// with TLS not disabled). The replica status only where a pool of
    /// `role` needs it (one statement more; see `wants_replication`).
    pub(crate) async fn read_with(
        conn: &mut Conn,
        tls_settings: bool,
        role: Role,
    ) -> Result<ServerFacts, FactsError> {
        let Limits {
            version,
            numbers:
                [
                    session_wait,
                    global_wait,
                    interactive,
                    max_conn,
                    user_max,
                    global_user_max,
                    mine,
                ],
            read_only,
            innodb_read_only,
            super_read_only,
        } = limits(conn).await?;
        let status = pairs(conn, STATUS).await?;
        let status_number = |name: &str| {
            status
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.trim().parse::<u64>().ok())
        };
        let threads =
            status_number("Threads_connected").ok_or(FactsError::NoRow { query: STATUS })?;
        let mut facts = ServerFacts {
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
            read_only,
            super_read_only,
            innodb_read_only,
            replication_threads: status_number("Slaves_running"),
            replication: Replication::NotRead,
        };
        if wants_replication(role, &facts) {
            facts.read_replication(conn).await?;
        }
        Ok(facts)
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

    #[test]
    fn the_read_only_variables_asked_for_follow_the_version() {
        assert_eq!(limits_for((10, 11, 6)), (LIMITS_INNODB, true, false));
        assert_eq!(limits_for((8, 0, 36)), (LIMITS_MYSQL, true, true));
        assert_eq!(limits_for((5, 7, 8)), (LIMITS_MYSQL, true, true));
        assert_eq!(limits_for((5, 6, 51)), (LIMITS_INNODB, true, false));
        assert_eq!(limits_for((5, 5, 62)), (LIMITS, false, false));
        assert!(
            LIMITS_MYSQL.ends_with(
                "@@global.read_only, @@global.innodb_read_only, @@global.super_read_only"
            )
        );
    }
}
