//! How a transaction starts: isolation level, access mode, snapshot.

use std::fmt;

/// How [`Pool::begin_with`](crate::Pool::begin_with) starts a transaction.
///
/// The default is a plain `START TRANSACTION`: the session's isolation level
/// and access mode (the server's defaults unless `init_sql` changed them).
/// Each option maps to MySQL's own statements:
///
/// - an [isolation level](Self::isolation_level) is set with
///   `SET TRANSACTION ISOLATION LEVEL ...` just before `START TRANSACTION`,
///   on the same connection. Without `SESSION` or `GLOBAL` it applies to
///   the next transaction only, so it never outlives this one;
/// - [`read_only`](Self::read_only) and
///   [`consistent_snapshot`](Self::consistent_snapshot) become
///   `START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT`.
///
/// ```no_run
/// use pool_runtime::{IsolationLevel, TxOptions};
///
/// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
/// // A report that sees one consistent state of the data and writes nothing.
/// let options = TxOptions::new()
///     .isolation_level(IsolationLevel::RepeatableRead)
///     .read_only(true)
///     .consistent_snapshot(true);
/// let mut tx = pool.begin_with(options).await?;
/// let orders: Option<i64> = tx.query_first("SELECT COUNT(*) FROM orders", ()).await?;
/// let lines: Option<i64> = tx.query_first("SELECT COUNT(*) FROM order_lines", ()).await?;
/// println!("{orders:?} orders, {lines:?} lines, as of the same instant");
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct TxOptions {
    isolation_level: Option<IsolationLevel>,
    read_only: Option<bool>,
    consistent_snapshot: bool,
}

impl TxOptions {
    /// A plain `START TRANSACTION`, the same as [`TxOptions::default`].
    pub const fn new() -> Self {
        TxOptions {
            isolation_level: None,
            read_only: None,
            consistent_snapshot: false,
        }
    }

    /// The isolation level of this transaction only; the session's level is
    /// untouched.
    pub const fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation_level = Some(level);
        self
    }

    /// `true`: `READ ONLY`, the server refuses writes to tables other than
    /// temporary ones (error 1792) and InnoDB skips some bookkeeping.
    /// `false`: `READ WRITE`, even when the session's default is read-only.
    /// Not called: the session's default.
    pub const fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }

    /// `true`: `WITH CONSISTENT SNAPSHOT`, the transaction's snapshot is
    /// taken when it starts rather than at its first read. InnoDB honours
    /// it under `REPEATABLE READ` only (the server's default level) and
    /// ignores it under the others.
    pub const fn consistent_snapshot(mut self, consistent_snapshot: bool) -> Self {
        self.consistent_snapshot = consistent_snapshot;
        self
    }

    /// The statements that start the transaction, in order.
    pub(crate) fn statements(&self) -> (Option<String>, String) {
        let set = self
            .isolation_level
            .map(|level| format!("SET TRANSACTION ISOLATION LEVEL {level}"));
        let mut characteristics = Vec::new();
        match self.read_only {
            Some(true) => characteristics.push("READ ONLY"),
            Some(false) => characteristics.push("READ WRITE"),
            None => {}
        }
        if self.consistent_snapshot {
            characteristics.push("WITH CONSISTENT SNAPSHOT");
        }
        let start = if characteristics.is_empty() {
            "START TRANSACTION".to_owned()
        } else {
            format!("START TRANSACTION {}", characteristics.join(", "))
        };
        (set, start)
    }
}

/// A transaction isolation level, as MySQL and MariaDB name them.
///
/// Its `Display` is the SQL spelling (`READ COMMITTED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IsolationLevel {
    /// Reads see other transactions' uncommitted changes.
    ReadUncommitted,
    /// Each read sees what was committed when it ran.
    ReadCommitted,
    /// Reads see the snapshot taken at the transaction's first read (or at
    /// its start, with a consistent snapshot). InnoDB's default.
    RepeatableRead,
    /// As `REPEATABLE READ`, and plain reads take shared locks.
    Serializable,
}

impl IsolationLevel {
    /// The SQL spelling, as in `SET TRANSACTION ISOLATION LEVEL ...`.
    pub const fn as_sql(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "READ UNCOMMITTED",
            IsolationLevel::ReadCommitted => "READ COMMITTED",
            IsolationLevel::RepeatableRead => "REPEATABLE READ",
            IsolationLevel::Serializable => "SERIALIZABLE",
        }
    }
}

impl fmt::Display for IsolationLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_a_plain_start() {
        assert_eq!(TxOptions::default(), TxOptions::new());
        assert_eq!(
            TxOptions::default().statements(),
            (None, "START TRANSACTION".to_owned())
        );
    }

    #[test]
    fn options_become_mysql_statements() {
        let options = TxOptions::new()
            .isolation_level(IsolationLevel::Serializable)
            .read_only(true)
            .consistent_snapshot(true);
        assert_eq!(
            options.statements(),
            (
                Some("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE".to_owned()),
                "START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT".to_owned()
            )
        );
        let options = TxOptions::new().read_only(false);
        assert_eq!(
            options.statements(),
            (None, "START TRANSACTION READ WRITE".to_owned())
        );
        let options = TxOptions::new().isolation_level(IsolationLevel::ReadUncommitted);
        assert_eq!(
            options.statements().0.as_deref(),
            Some("SET TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
        );
    }
}
