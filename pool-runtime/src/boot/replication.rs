//! Whether the server replicates from a source: `SHOW REPLICA STATUS`
//! (MySQL 8.0.22+, MariaDB 10.5.1+), else `SHOW SLAVE STATUS`.
//!
//! An account without the privilege to ask (SLAVE MONITOR on MariaDB,
//! REPLICATION CLIENT on MySQL) is common for a least-privilege service
//! login: that is a fact (`NoPrivilege`), reported, never a failed boot.

use std::fmt;

use mysql_async::prelude::*;
use mysql_async::{Conn, Row, Value};
use serde::Serialize;

use super::facts::FactsError;

/// What the boot checks know about the server's replication.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
#[non_exhaustive]
pub enum Replication {
    /// Not asked: no rule needed it (`role = any`, or a writable server
    /// under `role = primary` whose status shows no replication threads).
    #[default]
    NotRead,
    /// The replica status is empty: the server replicates from no source.
    NotReplica,
    /// The server is a replica.
    Replica(ReplicaStatus),
    /// The account may not read the replica status (error 1227).
    NoPrivilege {
        /// The privilege the server named as missing, e.g. `SLAVE MONITOR`.
        privilege: String,
    },
    /// The server refused both statements for another reason.
    Unknown {
        /// The server's error, as it gave it.
        reason: String,
    },
}

/// The first row of the replica status: where the server replicates from
/// and whether it keeps up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReplicaStatus {
    /// `Source_Host` / `Master_Host`.
    pub source_host: String,
    /// `Source_Port` / `Master_Port`.
    pub source_port: Option<u16>,
    /// `Replica_IO_Running` / `Slave_IO_Running`: `Yes`, `No`, `Connecting`.
    pub io_running: String,
    /// `Replica_SQL_Running` / `Slave_SQL_Running`: `Yes` or `No`.
    pub sql_running: String,
    /// `Seconds_Behind_Source` / `Seconds_Behind_Master`; `None` when the
    /// server reports none (a thread stopped).
    pub seconds_behind: Option<u64>,
    /// How many rows (replication channels) the statement returned.
    pub channels: usize,
}

impl ReplicaStatus {
    /// `host:port` of the source.
    pub fn source(&self) -> String {
        match self.source_port {
            Some(port) => format!("{}:{port}", self.source_host),
            None => self.source_host.clone(),
        }
    }
}

impl Replication {
    /// Whether the server is known to be a replica.
    pub fn is_replica(&self) -> bool {
        matches!(self, Replication::Replica(_))
    }
}

impl fmt::Display for ReplicaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "replica of {} (IO thread {}, SQL thread {}, ",
            self.source(),
            self.io_running,
            self.sql_running
        )?;
        match self.seconds_behind {
            Some(s) => write!(f, "{s} s behind)")?,
            None => f.write_str("lag unknown)")?,
        }
        if self.channels > 1 {
            write!(f, ", {} channels", self.channels)?;
        }
        Ok(())
    }
}

impl fmt::Display for Replication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Replication::NotRead => f.write_str("not read (no rule needs it)"),
            Replication::NotReplica => f.write_str("not a replica"),
            Replication::Replica(status) => status.fmt(f),
            Replication::NoPrivilege { privilege } => write!(
                f,
                "unknown: no privilege (the account needs {privilege} to read the replica status)"
            ),
            Replication::Unknown { reason } => write!(f, "unknown: {reason}"),
        }
    }
}

/// Whether the server understands `SHOW REPLICA STATUS`, by the version
/// its handshake gave (MariaDB reports 10 and above).
fn says_replica((major, minor, patch): (u16, u16, u16)) -> bool {
    if major >= 10 {
        (major, minor, patch) >= (10, 5, 1)
    } else {
        (major, minor, patch) >= (8, 0, 22)
    }
}

/// The privilege a 1227 message names (`you need (at least one of) the
/// SUPER, SLAVE MONITOR privilege(s)`), the last one being the narrow one;
/// the usual one for the server when the message says nothing usable.
fn missing_privilege(message: &str, mariadb: bool) -> String {
    let named = message
        .split_once(" the ")
        .and_then(|(_, rest)| rest.split_once(" privilege"))
        .and_then(|(list, _)| list.rsplit(',').next())
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_uppercase() || c == ' '));
    match named {
        Some(p) => p.to_owned(),
        None if mariadb => "SLAVE MONITOR".to_owned(),
        None => "REPLICATION CLIENT".to_owned(),
    }
}

/// Reads the replica status on `conn`: one statement, two when the first
/// is not understood (a server older than its version says). A broken
/// connection is an error; a refusal by the server is a fact.
pub(crate) async fn read(conn: &mut Conn) -> Result<Replication, FactsError> {
    const REPLICA: &str = "SHOW REPLICA STATUS";
    const SLAVE: &str = "SHOW SLAVE STATUS";
    let version = conn.server_version();
    let mariadb = version.0 >= 10;
    let mut query = if says_replica(version) {
        REPLICA
    } else {
        SLAVE
    };
    loop {
        match conn.query::<Row, _>(query).await {
            Ok(rows) => return Ok(from_rows(&rows)),
            // 1064: a syntax error, from a server that does not know `REPLICA`.
            Err(mysql_async::Error::Server(e)) if e.code == 1064 && query == REPLICA => {
                query = SLAVE;
            }
            Err(mysql_async::Error::Server(e)) if e.code == 1227 => {
                return Ok(Replication::NoPrivilege {
                    privilege: missing_privilege(&e.message, mariadb),
                });
            }
            Err(mysql_async::Error::Server(e)) => {
                return Ok(Replication::Unknown {
                    reason: format!("`{query}` failed with error {}: {}", e.code, e.message),
                });
            }
            Err(source) => return Err(FactsError::Query { query, source }),
        }
    }
}

fn from_rows(rows: &[Row]) -> Replication {
    let Some(row) = rows.first() else {
        return Replication::NotReplica;
    };
    let text = |names: &[&str]| text(row, names).unwrap_or_default();
    Replication::Replica(ReplicaStatus {
        source_host: text(&["Source_Host", "Master_Host"]),
        source_port: text(&["Source_Port", "Master_Port"]).parse().ok(),
        io_running: text(&["Replica_IO_Running", "Slave_IO_Running"]),
        sql_running: text(&["Replica_SQL_Running", "Slave_SQL_Running"]),
        seconds_behind: text(&["Seconds_Behind_Source", "Seconds_Behind_Master"])
            .parse()
            .ok(),
        channels: rows.len(),
    })
}

/// The column named by one of `names`, as text; `None` for NULL or a
/// missing column.
fn text(row: &Row, names: &[&str]) -> Option<String> {
    let columns = row.columns_ref();
    let i = names
        .iter()
        .find_map(|name| columns.iter().position(|c| c.name_str() == *name))?;
    match row.as_ref(i)? {
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_privilege_is_read_from_the_servers_message() {
        let maria = "Access denied; you need (at least one of) the SUPER, SLAVE MONITOR \
                     privilege(s) for this operation";
        assert_eq!(missing_privilege(maria, true), "SLAVE MONITOR");
        let mysql = "Access denied; you need (at least one of) the SUPER, REPLICATION CLIENT \
                     privilege(s) for this operation";
        assert_eq!(missing_privilege(mysql, false), "REPLICATION CLIENT");
        assert_eq!(missing_privilege("denied", true), "SLAVE MONITOR");
        assert_eq!(missing_privilege("denied", false), "REPLICATION CLIENT");
    }

    #[test]
    fn replica_is_asked_where_the_server_knows_the_word() {
        assert!(says_replica((10, 11, 6)));
        assert!(says_replica((10, 5, 1)));
        assert!(!says_replica((10, 4, 30)));
        assert!(says_replica((8, 0, 22)));
        assert!(says_replica((8, 4, 0)));
        assert!(!says_replica((8, 0, 21)));
        assert!(!says_replica((5, 7, 44)));
    }
}
