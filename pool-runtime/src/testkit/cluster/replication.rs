//! The replication statements the cluster sends to one server, in the
//! dialect of its flavour.
//!
//! MariaDB and MySQL 8 set up the same GTID replication with different
//! words: `CHANGE MASTER TO … MASTER_USE_GTID=slave_pos` and
//! `CHANGE REPLICATION SOURCE TO … SOURCE_AUTO_POSITION=1`, `SHOW SLAVE
//! STATUS` and `SHOW REPLICA STATUS`, `MASTER_GTID_WAIT` and
//! `WAIT_FOR_EXECUTED_GTID_SET`. Keeping every such word here keeps the
//! cluster's steps (start, switchover, lag) readable as steps. The kit only
//! starts MariaDB servers today, so the MySQL dialect is written from the
//! MySQL 8 manual and has not run here.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Row};

use crate::testkit::TestkitError;

/// Which SQL dialect a server speaks for replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavour {
    MariaDb,
    MySql,
}

/// The primary a replica is pointed at.
pub(super) struct Source<'a> {
    pub(super) port: u16,
    pub(super) user: &'a str,
    pub(super) password: &'a str,
}

/// What `SHOW SLAVE STATUS` says that the cluster uses.
#[derive(Debug, Default)]
pub(super) struct ReplicaStatus {
    /// Whether the server is a replica at all (the status has a row).
    pub(super) configured: bool,
    pub(super) seconds_behind: Option<u64>,
    pub(super) io_running: String,
    pub(super) sql_running: String,
    pub(super) last_io_error: String,
    pub(super) last_sql_error: String,
}

impl ReplicaStatus {
    /// One line for an error message.
    pub(super) fn describe(&self) -> String {
        if !self.configured {
            return "not a replica (no replica status)".into();
        }
        let mut text = format!(
            "IO thread {}, SQL thread {}, seconds behind {}",
            self.io_running,
            self.sql_running,
            self.seconds_behind
                .map_or_else(|| "NULL".to_owned(), |s| s.to_string()),
        );
        for (what, error) in [("IO", &self.last_io_error), ("SQL", &self.last_sql_error)] {
            if !error.is_empty() {
                text.push_str(&format!("; last {what} error: {error}"));
            }
        }
        text
    }
}

impl Flavour {
    /// The flavour of the server `conn` is connected to.
    pub(super) async fn of(conn: &mut Conn) -> Result<Flavour, TestkitError> {
        const QUERY: &str = "SELECT VERSION()";
        let version: Option<String> = conn
            .query_first(QUERY)
            .await
            .map_err(|e| TestkitError::query(QUERY, e))?;
        Ok(match version {
            Some(v) if v.contains("MariaDB") => Flavour::MariaDb,
            _ => Flavour::MySql,
        })
    }

    /// The privilege a replica's login needs on its primary.
    pub(super) fn replication_grant(self) -> &'static str {
        "REPLICATION SLAVE"
    }

    /// Points the server at `source`, replicating by GTID. Holds a
    /// password: run it with [`exec_secret`].
    pub(super) fn change_source(self, source: &Source<'_>) -> String {
        let Source {
            port,
            user,
            password,
        } = source;
        match self {
            Flavour::MariaDb => format!(
                "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {port}, \
                 MASTER_USER = '{user}', MASTER_PASSWORD = '{password}', \
                 MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1"
            ),
            Flavour::MySql => format!(
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST = '127.0.0.1', SOURCE_PORT = {port}, \
                 SOURCE_USER = '{user}', SOURCE_PASSWORD = '{password}', \
                 SOURCE_AUTO_POSITION = 1, SOURCE_CONNECT_RETRY = 1, GET_SOURCE_PUBLIC_KEY = 1"
            ),
        }
    }

    /// Before a former primary replicates: where it is in the GTID history.
    /// MariaDB replicates from `gtid_slave_pos`, which a server that never
    /// was a replica has empty; MySQL uses `gtid_executed` as it is.
    pub(super) fn adopt_own_position(self) -> Option<&'static str> {
        match self {
            Flavour::MariaDb => Some("SET GLOBAL gtid_slave_pos = @@GLOBAL.gtid_binlog_pos"),
            Flavour::MySql => None,
        }
    }

    pub(super) fn start(self) -> &'static str {
        match self {
            Flavour::MariaDb => "START SLAVE",
            Flavour::MySql => "START REPLICA",
        }
    }

    pub(super) fn stop(self) -> &'static str {
        match self {
            Flavour::MariaDb => "STOP SLAVE",
            Flavour::MySql => "STOP REPLICA",
        }
    }

    pub(super) fn stop_sql_thread(self) -> &'static str {
        match self {
            Flavour::MariaDb => "STOP SLAVE SQL_THREAD",
            Flavour::MySql => "STOP REPLICA SQL_THREAD",
        }
    }

    /// Forgets the primary and the replication settings (a promotion).
    pub(super) fn reset(self) -> &'static str {
        match self {
            Flavour::MariaDb => "RESET SLAVE ALL",
            Flavour::MySql => "RESET REPLICA ALL",
        }
    }

    pub(super) fn set_delay(self, seconds: u64) -> String {
        match self {
            Flavour::MariaDb => format!("CHANGE MASTER TO MASTER_DELAY = {seconds}"),
            Flavour::MySql => format!("CHANGE REPLICATION SOURCE TO SOURCE_DELAY = {seconds}"),
        }
    }

    fn status_query(self) -> &'static str {
        match self {
            Flavour::MariaDb => "SHOW SLAVE STATUS",
            Flavour::MySql => "SHOW REPLICA STATUS",
        }
    }

    /// The column names of the status fields, in [`ReplicaStatus`] order.
    fn status_columns(self) -> [&'static str; 5] {
        match self {
            Flavour::MariaDb => [
                "Seconds_Behind_Master",
                "Slave_IO_Running",
                "Slave_SQL_Running",
                "Last_IO_Error",
                "Last_SQL_Error",
            ],
            Flavour::MySql => [
                "Seconds_Behind_Source",
                "Replica_IO_Running",
                "Replica_SQL_Running",
                "Last_IO_Error",
                "Last_SQL_Error",
            ],
        }
    }

    /// The GTID position of everything the server has (a primary: what its
    /// replicas must apply).
    pub(super) async fn gtid_position(self, conn: &mut Conn) -> Result<String, TestkitError> {
        let query = match self {
            Flavour::MariaDb => "SELECT @@GLOBAL.gtid_binlog_pos",
            Flavour::MySql => "SELECT @@GLOBAL.gtid_executed",
        };
        let position: Option<String> = conn
            .query_first(query)
            .await
            .map_err(|e| TestkitError::query(query, e))?;
        Ok(position.unwrap_or_default())
    }

    /// Waits on the server until it has applied `position`, at most
    /// `within` (rounded up to whole seconds, at least one); true if it has.
    pub(super) async fn wait_for_position(
        self,
        conn: &mut Conn,
        position: &str,
        within: Duration,
    ) -> Result<bool, TestkitError> {
        let seconds = within.as_secs() + u64::from(within.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let (query, reached) = match self {
            // 0 once applied, -1 on timeout.
            Flavour::MariaDb => ("SELECT MASTER_GTID_WAIT(?, ?)", 0),
            // 0 once applied, 1 on timeout.
            Flavour::MySql => ("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", 0),
        };
        let outcome: Option<i64> = conn
            .exec_first(query, (position, seconds))
            .await
            .map_err(|e| TestkitError::query(query, e))?;
        Ok(outcome == Some(reached))
    }

    /// The replica status; `configured: false` for a server that is not a
    /// replica.
    pub(super) async fn status(self, conn: &mut Conn) -> Result<ReplicaStatus, TestkitError> {
        let query = self.status_query();
        let row: Option<Row> = conn
            .query_first(query)
            .await
            .map_err(|e| TestkitError::query(query, e))?;
        let Some(row) = row else {
            return Ok(ReplicaStatus::default());
        };
        let [behind, io, sql, io_error, sql_error] = self.status_columns();
        let text = |name: &str| -> String {
            row.get_opt::<Option<String>, _>(name)
                .and_then(Result::ok)
                .flatten()
                .unwrap_or_default()
        };
        Ok(ReplicaStatus {
            configured: true,
            seconds_behind: row
                .get_opt::<Option<u64>, _>(behind)
                .and_then(Result::ok)
                .flatten(),
            io_running: text(io),
            sql_running: text(sql),
            last_io_error: text(io_error),
            last_sql_error: text(sql_error),
        })
    }
}

/// Runs `statement`, naming it in an error.
pub(super) async fn exec(conn: &mut Conn, statement: &str) -> Result<(), TestkitError> {
    conn.query_drop(statement)
        .await
        .map_err(|e| TestkitError::query(statement, e))
}

/// Runs `statement`, which holds a password: an error names `shown` only.
pub(super) async fn exec_secret(
    conn: &mut Conn,
    statement: &str,
    shown: &'static str,
) -> Result<(), TestkitError> {
    conn.query_drop(statement)
        .await
        .map_err(|e| TestkitError::query(shown, e))
}
