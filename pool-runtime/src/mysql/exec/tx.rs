//! Transactions: one connection, never retried.

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Params};

use super::classify::{Class, classify};
use super::executor::{self, Target};
use super::row_stream::{Protocol, RowStream, drop_rest};
use super::statement::{ExecOutcome, Op, Sql};
use super::{Bounded, bounded, server_error};
use crate::error::{Error, ErrorKind};
use crate::mysql::{Pool, PooledConn};

/// A transaction on one pooled connection, from [`Pool::begin`](crate::Pool::begin)
/// or [`Pool::begin_with`](crate::Pool::begin_with).
///
/// Nothing in it is ever retried: a lost connection ends it with
/// [`ErrorKind::TransactionLost`] (nothing was applied) or, during `COMMIT`,
/// [`ErrorKind::CommitOutcomeUnknown`]. Dropping it without
/// [`commit`](Self::commit) rolls it back (the pool does, before the
/// connection is reused).
///
/// `&mut Tx` is an [`Executor`](crate::Executor), as `&Pool` is.
#[derive(Debug)]
pub struct Tx {
    /// `None` once the connection was lost or closed.
    conn: Option<PooledConn>,
    /// The pool it came from, as errors name it.
    pool: Arc<str>,
    /// A handle on that pool, for its counters.
    handle: Pool,
    statement_timeout: Option<Duration>,
    /// A row stream was dropped before its end: its rows are still to be
    /// read (in this protocol) before the next statement.
    unread: Option<Protocol>,
}

impl Tx {
    /// A transaction on `conn`, bounded by the statement timeout of the
    /// handle `pool` it was begun from.
    pub(crate) fn new(conn: PooledConn, pool: &Pool) -> Self {
        Tx {
            conn: Some(conn),
            pool: Arc::clone(pool.name()),
            handle: pool.clone(),
            statement_timeout: pool.statement_timeout(),
            unread: None,
        }
    }

    /// Runs a statement that changes data.
    pub async fn exec(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<ExecOutcome, Error> {
        executor::exec(&mut Target::Tx(self), Sql::new(sql, params)).await
    }

    /// Runs a query and collects its rows.
    pub async fn query<T>(&mut self, sql: &str, params: impl Into<Params>) -> Result<Vec<T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        executor::query(&mut Target::Tx(self), Sql::new(sql, params)).await
    }

    /// Runs a query and returns its first row, if any.
    pub async fn query_first<T>(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Option<T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        executor::query_first(&mut Target::Tx(self), Sql::new(sql, params)).await
    }

    /// Runs a query whose rows are read one at a time, on the transaction's
    /// connection: see [`RowStream`]. The transaction is borrowed until the
    /// stream is dropped; rows left unread then are read and thrown away
    /// before the next statement.
    ///
    /// ```no_run
    /// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
    /// let mut tx = pool.begin().await?;
    /// let mut total = 0;
    /// let mut rows = tx.query_stream::<i64>("SELECT amount FROM ledger", ()).await?;
    /// while let Some(amount) = rows.next().await {
    ///     total += amount?;
    /// }
    /// drop(rows);
    /// tx.exec("INSERT INTO totals (total) VALUES (?)", (total,)).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn query_stream<T>(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<RowStream<'_, T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        let opened = self.open_stream(Sql::new(sql, params)).await;
        opened.map_err(|kind| Error::new(&pool, kind))
    }

    /// Commits. If the connection is lost while the `COMMIT` may have
    /// reached the server, the outcome is unknown and the error says so.
    pub async fn commit(mut self) -> Result<(), Error> {
        let outcome = self.commit_inner().await;
        outcome.map_err(|kind| Error::new(&self.pool, kind))
    }

    async fn commit_inner(&mut self) -> Result<(), ErrorKind> {
        self.read_away_unread().await?;
        let conn = self.conn.as_mut().ok_or(ErrorKind::TransactionClosed)?;
        match bounded(self.statement_timeout, conn.query_drop("COMMIT")).await {
            Ok(()) => Ok(()),
            Err(Bounded::TimedOut(timeout)) => {
                self.timed_out();
                Err(ErrorKind::StatementTimeout { timeout })
            }
            Err(Bounded::Failed(e)) => match classify(&e) {
                Class::Server => Err(server_error(e)),
                Class::Client => Err(ErrorKind::Client(e)),
                Class::NotExecuted(_) => {
                    self.lose_after(&e);
                    Err(ErrorKind::TransactionLost { source: e })
                }
                Class::Lost(_) => {
                    self.lose_after(&e);
                    Err(ErrorKind::CommitOutcomeUnknown { source: e })
                }
            },
        }
    }

    /// Rolls back. A connection lost on the way is not an error: the server
    /// rolls back a transaction whose connection is gone.
    pub async fn rollback(mut self) -> Result<(), Error> {
        let outcome = self.rollback_inner().await;
        outcome.map_err(|kind| Error::new(&self.pool, kind))
    }

    async fn rollback_inner(&mut self) -> Result<(), ErrorKind> {
        if self.read_away_unread().await.is_err() {
            return Ok(());
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        match bounded(self.statement_timeout, conn.query_drop("ROLLBACK")).await {
            Ok(()) => Ok(()),
            Err(Bounded::Failed(e)) if classify(&e) == Class::Server => Err(server_error(e)),
            Err(_) => {
                self.lose();
                Ok(())
            }
        }
    }

    /// The connection itself, for what the methods above do not cover.
    /// Whatever runs on it is part of the transaction and is not retried.
    pub fn conn(&mut self) -> Result<&mut Conn, Error> {
        let pool = &self.pool;
        self.conn
            .as_deref_mut()
            .ok_or_else(|| Error::new(pool, ErrorKind::TransactionClosed))
    }

    /// A server error inside the transaction: a read-only server (the
    /// target moved) retires the connection's generation and is reported
    /// as [`ErrorKind::ReadOnly`], never retried; 1792 is the
    /// transaction's own `READ ONLY` mode and stays a server error.
    fn server_refusal(&mut self, e: mysql_async::Error) -> ErrorKind {
        match e {
            mysql_async::Error::Server(server) if super::classify::is_read_only(&server, true) => {
                let (generation, retired) = self.conn.as_ref().map_or((0, false), |c| {
                    (c.generation(), c.retire_generation().is_some())
                });
                ErrorKind::ReadOnly {
                    server,
                    retired,
                    generation,
                    retried: false,
                }
            }
            e => server_error(e),
        }
    }

    /// The pool it came from, as errors name it.
    pub(crate) fn pool_name(&self) -> &Arc<str> {
        &self.pool
    }

    pub(super) async fn run<O: Op>(&mut self, op: &O) -> Result<O::Output, ErrorKind> {
        self.read_away_unread().await?;
        let conn = self.conn.as_mut().ok_or(ErrorKind::TransactionClosed)?;
        let outcome = match bounded(self.statement_timeout, op.run(conn)).await {
            Ok(output) => return Ok(output),
            Err(Bounded::TimedOut(timeout)) => {
                self.timed_out();
                return Err(ErrorKind::StatementTimeout { timeout });
            }
            Err(Bounded::Failed(e)) => Err(e),
        };
        outcome.map_err(|e| match classify(&e) {
            Class::Server => self.server_refusal(e),
            Class::Client => ErrorKind::Client(e),
            Class::NotExecuted(_) | Class::Lost(_) => {
                self.lose_after(&e);
                ErrorKind::TransactionLost { source: e }
            }
        })
    }

    /// Reads away the rows a dropped stream left, so that the next
    /// statement's answer (and error) is its own. Nothing of the
    /// transaction is sent, so a loss here means nothing was committed.
    async fn read_away_unread(&mut self) -> Result<(), ErrorKind> {
        let (Some(protocol), Some(conn)) = (self.unread.take(), self.conn.as_mut()) else {
            return Ok(());
        };
        match bounded(self.statement_timeout, drop_rest(conn, protocol)).await {
            Ok(()) => Ok(()),
            Err(Bounded::Failed(e)) if classify(&e) == Class::Server => {
                // The unread part ended in an error (a failing statement in
                // a CALL): it belongs to the dropped stream, not to what
                // comes next.
                tracing::debug!(error = %e, "the rest of a dropped row stream ended in an error");
                Ok(())
            }
            Err(Bounded::Failed(e)) => {
                self.lose_after(&e);
                Err(ErrorKind::TransactionLost { source: e })
            }
            Err(Bounded::TimedOut(timeout)) => {
                self.timed_out();
                Err(ErrorKind::StatementTimeout { timeout })
            }
        }
    }

    pub(super) fn statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout
    }

    /// The connection, unless it was lost.
    pub(super) fn live_conn(&mut self) -> Option<&mut Conn> {
        self.conn.as_deref_mut()
    }

    /// A row stream was dropped between rows: read the rest before the
    /// next statement.
    pub(super) fn left_unread(&mut self, protocol: Protocol) {
        self.unread = Some(protocol);
    }

    /// A statement ran past the statement timeout: the connection is
    /// mid-statement, so it is closed, and the pool counts it.
    pub(super) fn timed_out(&mut self) {
        self.handle.exec_counters().statement_timeout();
        self.lose();
    }

    /// The connection is gone or in an unknown state: close it.
    pub(super) fn lose(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.discard();
        }
    }

    /// The connection broke with `error`: close it (its siblings become
    /// suspect if the error proves the server ended the session).
    pub(super) fn lose_after(&mut self, error: &mysql_async::Error) {
        if let Some(conn) = self.conn.take() {
            conn.discard_after(error);
        }
    }
}
