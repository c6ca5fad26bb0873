//! The statements the exec path knows how to run, and which of them are
//! reads.

use std::future::Future;

use mysql_async::prelude::*;
use mysql_async::{Conn, Params, Row};

use super::tx_options::TxOptions;

/// What `exec` reports about a statement that ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ExecOutcome {
    /// Rows the statement changed (`INSERT`, `UPDATE`, `DELETE`...).
    pub affected_rows: u64,
    /// The `AUTO_INCREMENT` value it generated, if any.
    pub last_insert_id: Option<u64>,
}

/// One unit of work the retry loop may run on a connection, perhaps again
/// on another one.
pub(crate) trait Op: Sync {
    type Output: Send;

    fn run<'c>(
        &'c self,
        conn: &'c mut Conn,
    ) -> impl Future<Output = Result<Self::Output, mysql_async::Error>> + Send + 'c;

    /// Whether running it twice is harmless.
    fn is_read(&self) -> bool;

    /// A short, secret-free name for logs: the statement's first keyword.
    fn verb(&self) -> &str;
}

/// A statement with its parameters; empty parameters use the text protocol
/// (one round trip, no prepare), others a cached prepared statement.
pub(crate) struct Sql<'a> {
    pub(crate) text: &'a str,
    pub(crate) params: Params,
}

impl<'a> Sql<'a> {
    pub(crate) fn new(text: &'a str, params: impl Into<Params>) -> Self {
        Sql {
            text,
            params: params.into(),
        }
    }

    pub(crate) fn is_plain(&self) -> bool {
        matches!(self.params, Params::Empty)
    }
}

pub(crate) struct Exec<'a>(pub(crate) Sql<'a>);
pub(crate) struct QueryAll<'a>(pub(crate) Sql<'a>);
pub(crate) struct QueryFirst<'a>(pub(crate) Sql<'a>);
pub(crate) struct Batch<'a> {
    pub(crate) text: &'a str,
    pub(crate) params: Vec<Params>,
}
/// `START TRANSACTION`, after `SET TRANSACTION` when an isolation level is
/// asked for.
pub(crate) struct Begin(pub(crate) TxOptions);

impl Op for Exec<'_> {
    type Output = ExecOutcome;

    async fn run(&self, conn: &mut Conn) -> Result<ExecOutcome, mysql_async::Error> {
        let sql = &self.0;
        if sql.is_plain() {
            conn.query_drop(sql.text).await?;
        } else {
            conn.exec_drop(sql.text, sql.params.clone()).await?;
        }
        Ok(ExecOutcome {
            affected_rows: conn.affected_rows(),
            last_insert_id: conn.last_insert_id(),
        })
    }

    fn is_read(&self) -> bool {
        // `exec` is for writes: never repeated after a loss, whatever it says.
        false
    }

    fn verb(&self) -> &str {
        first_keyword(self.0.text)
    }
}

impl Op for QueryAll<'_> {
    type Output = Vec<Row>;

    async fn run(&self, conn: &mut Conn) -> Result<Vec<Row>, mysql_async::Error> {
        let sql = &self.0;
        if sql.is_plain() {
            conn.query(sql.text).await
        } else {
            conn.exec(sql.text, sql.params.clone()).await
        }
    }

    fn is_read(&self) -> bool {
        is_read_only(self.0.text)
    }

    fn verb(&self) -> &str {
        first_keyword(self.0.text)
    }
}

impl Op for QueryFirst<'_> {
    type Output = Option<Row>;

    async fn run(&self, conn: &mut Conn) -> Result<Option<Row>, mysql_async::Error> {
        let sql = &self.0;
        if sql.is_plain() {
            conn.query_first(sql.text).await
        } else {
            conn.exec_first(sql.text, sql.params.clone()).await
        }
    }

    fn is_read(&self) -> bool {
        is_read_only(self.0.text)
    }

    fn verb(&self) -> &str {
        first_keyword(self.0.text)
    }
}

/// Converts rows to `T` without the driver's panicking conversion: a row
/// that does not fit is an error naming the type, never a panic.
pub(crate) fn convert<T: FromRow>(row: Row) -> Result<T, crate::ErrorKind> {
    let columns = row.len();
    T::from_row_opt(row).map_err(|_| crate::ErrorKind::Conversion {
        target: std::any::type_name::<T>(),
        columns,
    })
}

pub(crate) fn convert_all<T: FromRow>(rows: Vec<Row>) -> Result<Vec<T>, crate::ErrorKind> {
    rows.into_iter().map(convert).collect()
}

impl Op for Batch<'_> {
    type Output = ();

    async fn run(&self, conn: &mut Conn) -> Result<(), mysql_async::Error> {
        conn.exec_batch(self.text, self.params.iter().cloned())
            .await
    }

    fn is_read(&self) -> bool {
        false
    }

    fn verb(&self) -> &str {
        first_keyword(self.text)
    }
}

impl Op for Begin {
    type Output = ();

    async fn run(&self, conn: &mut Conn) -> Result<(), mysql_async::Error> {
        let (set, start) = self.0.statements();
        let Some(set) = set else {
            return conn.query_drop(start).await;
        };
        conn.query_drop(set).await?;
        // Should START fail, the level stays pending for the session's next
        // transaction (MariaDB keeps it past a statement it cannot parse).
        // It cannot reach the next user: a connection whose last statement
        // failed is reset on return (ROLLBACK, which clears it), and a broken
        // one is closed.
        conn.query_drop(start).await
    }

    fn is_read(&self) -> bool {
        // Starting a transaction changes no data: safe to repeat.
        true
    }

    fn verb(&self) -> &str {
        "START TRANSACTION"
    }
}

/// Skips whitespace, comments and opening parentheses.
fn skip_noise(mut sql: &str) -> &str {
    loop {
        let trimmed = sql.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(rest) = trimmed.strip_prefix("/*") {
            // `/*! ... */` and `/*M! ... */` are executable comments: their
            // content runs, so treat them as the statement itself.
            if rest.starts_with('!') || rest.starts_with("M!") {
                return trimmed;
            }
            sql = rest.find("*/").map_or("", |end| &rest[end + 2..]);
        } else if trimmed.starts_with("-- ") || trimmed.starts_with('#') {
            sql = trimmed.find('\n').map_or("", |end| &trimmed[end + 1..]);
        } else {
            return trimmed;
        }
    }
}

pub(crate) fn first_keyword(sql: &str) -> &str {
    let sql = skip_noise(sql);
    let end = sql
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(sql.len());
    &sql[..end]
}

/// Whether a statement only reads: it starts with `SELECT`, `SHOW`,
/// `DESCRIBE`/`DESC`, `EXPLAIN`, `HELP`, `CHECKSUM` or `VALUES`.
///
/// `WITH` is not taken as a read (a CTE may head an `UPDATE` or `DELETE`),
/// nor is `SELECT ... INTO` (it writes variables or files). A `SELECT`
/// calling functions with side effects (`GET_LOCK`, `NEXTVAL`, stored
/// functions that write) looks like a read: that is why `retry_reads` can
/// be switched off.
pub(crate) fn is_read_only(sql: &str) -> bool {
    const READS: &[&str] = &[
        "SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "HELP", "CHECKSUM", "VALUES",
    ];
    let keyword = first_keyword(sql);
    let is_read = READS.iter().any(|r| r.eq_ignore_ascii_case(keyword));
    is_read && !contains_word(sql, "INTO")
}

fn contains_word(sql: &str, word: &str) -> bool {
    sql.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_recognised_through_comments_and_parentheses() {
        for sql in [
            "SELECT 1",
            "  select * from t",
            "(SELECT 1) UNION (SELECT 2)",
            "/* app=shop */ SELECT 1",
            "-- why\nSHOW TABLES",
            "# note\nDESC t",
            "EXPLAIN SELECT 1",
        ] {
            assert!(is_read_only(sql), "{sql}");
        }
    }

    #[test]
    fn writes_and_ambiguous_statements_are_not_reads() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET v = 1",
            "WITH x AS (SELECT 1) DELETE FROM t",
            "SELECT 1 INTO @v",
            "SELECT * FROM t INTO OUTFILE '/tmp/x'",
            "/*!40101 SET NAMES utf8 */",
            "CALL p()",
            "",
            "/* unterminated",
        ] {
            assert!(!is_read_only(sql), "{sql}");
        }
    }

    #[test]
    fn verbs_are_first_keywords_only() {
        assert_eq!(
            first_keyword("  /* x */ insert into users set password = 'x'"),
            "insert"
        );
        assert_eq!(first_keyword(""), "");
    }
}
