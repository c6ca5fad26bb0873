//! The statement methods of [`Pool`]: each on a connection of its own,
//! retried where that is safe.

use std::time::Duration;

use mysql_async::Params;
use mysql_async::prelude::FromRow;

use super::executor::{self, Target};
use super::row_stream::RowStream;
use super::statement::{Batch, Begin, ExecOutcome, Sql};
use super::tx::Tx;
use super::tx_options::TxOptions;
use crate::error::{Error, ErrorKind};
use crate::mysql::Pool;

impl Pool {
    /// Runs a statement that changes data and reports what it changed.
    /// Retried only when the error proves it did not run; otherwise
    /// [`ErrorKind::MaybeExecuted`] tells the caller to check.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let done = pool.exec("INSERT INTO t (v) VALUES (?)", (42,)).await?;
    /// println!("new id {:?}", done.last_insert_id);
    /// # Ok(()) }
    /// ```
    pub async fn exec(&self, sql: &str, params: impl Into<Params>) -> Result<ExecOutcome, Error> {
        executor::exec(&mut Target::Pool(self), Sql::new(sql, params)).await
    }

    /// Runs a query and collects its rows. Read-only statements are retried
    /// after a connection loss when `retry_reads` is on.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let names: Vec<(u64, String)> = pool.query("SELECT id, name FROM users WHERE team = ?", (7,)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query<T>(&self, sql: &str, params: impl Into<Params>) -> Result<Vec<T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        executor::query(&mut Target::Pool(self), Sql::new(sql, params)).await
    }

    /// Runs a query and returns its first row, if any.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let n: Option<i64> = pool.query_first("SELECT COUNT(*) FROM users", ()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query_first<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Option<T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        executor::query_first(&mut Target::Pool(self), Sql::new(sql, params)).await
    }

    /// Runs a query whose rows are read one at a time, for results too
    /// large to collect: see [`RowStream`]. Opening it (the query and its
    /// first row) is retried like [`query`](Self::query); once a row was
    /// delivered nothing is. The stream owns its connection (`'static`:
    /// it may be moved into a task or an HTTP body) until its last row.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let mut rows = pool
    ///     .query_stream::<(u64, f64)>("SELECT id, total FROM orders WHERE year = ?", (2024,))
    ///     .await?;
    /// let mut sum = 0.0;
    /// while let Some(row) = rows.next().await {
    ///     let (_id, total) = row?;
    ///     sum += total;
    /// }
    /// println!("{} orders, {sum} in all", rows.rows_delivered());
    /// # Ok(()) }
    /// ```
    pub async fn query_stream<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<RowStream<'static, T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        let opened = self.open_stream(Sql::new(sql, params)).await;
        opened.map_err(|kind| self.error(kind))
    }

    /// Runs a query and maps each row with `f`. The rows are collected first,
    /// so a retried read never calls `f` twice for the same row.
    pub async fn query_map<T, U, F>(
        &self,
        sql: &str,
        params: impl Into<Params>,
        f: F,
    ) -> Result<Vec<U>, Error>
    where
        T: FromRow + Send + 'static,
        F: FnMut(T) -> U,
    {
        let rows: Vec<T> = self.query(sql, params).await?;
        Ok(rows.into_iter().map(f).collect())
    }

    /// Runs one prepared statement once per parameter set, on one
    /// connection. Retried only if it failed before the first execution
    /// could have reached the server.
    pub async fn exec_batch<P, I>(&self, sql: &str, params: I) -> Result<(), Error>
    where
        P: Into<Params>,
        I: IntoIterator<Item = P>,
    {
        let op = Batch {
            text: sql,
            params: params.into_iter().map(Into::into).collect(),
        };
        self.run(&op).await.map_err(|kind| self.error(kind))?;
        Ok(())
    }

    /// Starts a transaction on one connection (`START TRANSACTION`).
    /// Starting is retried like a read (it changes no data); nothing inside
    /// the transaction ever is.
    /// Dropping the [`Tx`] without `commit` rolls it back.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let mut tx = pool.begin().await?;
    /// tx.exec("UPDATE accounts SET balance = balance - 10 WHERE id = ?", (1,)).await?;
    /// tx.exec("UPDATE accounts SET balance = balance + 10 WHERE id = ?", (2,)).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<Tx, Error> {
        self.begin_with(TxOptions::default()).await
    }

    /// Starts a transaction with an isolation level, an access mode or a
    /// consistent snapshot ([`TxOptions`]); otherwise as
    /// [`begin`](Self::begin). The level applies to this transaction only:
    /// the connection's next user gets the session's own.
    ///
    /// ```no_run
    /// use pool_runtime::{IsolationLevel, TxOptions};
    ///
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let mut tx = pool
    ///     .begin_with(TxOptions::new().isolation_level(IsolationLevel::Serializable))
    ///     .await?;
    /// let seats: Option<i64> = tx.query_first("SELECT free FROM flights WHERE id = ?", (7,)).await?;
    /// if seats > Some(0) {
    ///     tx.exec("UPDATE flights SET free = free - 1 WHERE id = ?", (7,)).await?;
    /// }
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin_with(&self, options: TxOptions) -> Result<Tx, Error> {
        let ((), conn) = self
            .run(&Begin(options))
            .await
            .map_err(|kind| self.error(kind))?;
        Ok(Tx::new(conn, self))
    }

    /// An error of this pool, naming it.
    pub(crate) fn error(&self, kind: ErrorKind) -> Error {
        Error::new(self.name(), kind)
    }

    /// A handle on the same pool whose statements use this timeout (`None`:
    /// no timeout) instead of the pool's `statement_timeout`.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// use std::time::Duration;
    /// let report: Vec<(String, u64)> = pool
    ///     .with_statement_timeout(Some(Duration::from_secs(30)))
    ///     .query("SELECT region, SUM(total) FROM orders GROUP BY region", ())
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_statement_timeout(&self, timeout: Option<Duration>) -> Pool {
        self.with_timeout(timeout)
    }
}
