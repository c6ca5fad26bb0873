//! Transactions: one connection, never retried.

use std::time::Duration;

use mysql_async::prelude::*;
use mysql_async::{Conn, Params};

use super::classify::{Class, classify};
use super::statement::{Exec, ExecOutcome, Op, QueryAll, QueryFirst, Sql, convert, convert_all};
use super::{Bounded, bounded, server_error};
use crate::error::Error;
use crate::mysql::PooledConn;

/// A transaction on one pooled connection, from [`Pool::begin`](crate::Pool::begin)
/// or [`Pool::begin_with`](crate::Pool::begin_with).
///
/// Nothing in it is ever retried: a lost connection ends it with
/// [`Error::TransactionLost`] (nothing was applied) or, during `COMMIT`,
/// [`Error::CommitOutcomeUnknown`]. Dropping it without
/// [`commit`](Self::commit) rolls it back (the pool does, before the
/// connection is reused).
#[derive(Debug)]
pub struct Tx {
    /// `None` once the connection was lost or closed.
    conn: Option<PooledConn>,
    statement_timeout: Option<Duration>,
}

impl Tx {
    pub(crate) fn new(conn: PooledConn, statement_timeout: Option<Duration>) -> Self {
        Tx {
            conn: Some(conn),
            statement_timeout,
        }
    }

    /// Runs a statement that changes data.
    pub async fn exec(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<ExecOutcome, Error> {
        let op = Exec(Sql {
            text: sql,
            params: params.into(),
        });
        self.run(&op).await
    }

    /// Runs a query and collects its rows.
    pub async fn query<T>(&mut self, sql: &str, params: impl Into<Params>) -> Result<Vec<T>, Error>
    where
        T: FromRow + Send + 'static,
    {
        let op = QueryAll(Sql {
            text: sql,
            params: params.into(),
        });
        convert_all(self.run(&op).await?)
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
        let op = QueryFirst(Sql {
            text: sql,
            params: params.into(),
        });
        self.run(&op).await?.map(convert).transpose()
    }

    /// Commits. If the connection is lost while the `COMMIT` may have
    /// reached the server, the outcome is unknown and the error says so.
    pub async fn commit(mut self) -> Result<(), Error> {
        let conn = self.conn.as_mut().ok_or(Error::TransactionClosed)?;
        match bounded(self.statement_timeout, conn.query_drop("COMMIT")).await {
            Ok(()) => Ok(()),
            Err(Bounded::TimedOut(timeout)) => {
                self.lose();
                Err(Error::StatementTimeout { timeout })
            }
            Err(Bounded::Failed(e)) => match classify(&e) {
                Class::Server => Err(server_error(e)),
                Class::Client => Err(Error::Client(e)),
                Class::NotExecuted(_) => {
                    self.lose();
                    Err(Error::TransactionLost { source: e })
                }
                Class::Lost(_) => {
                    self.lose();
                    Err(Error::CommitOutcomeUnknown { source: e })
                }
            },
        }
    }

    /// Rolls back. A connection lost on the way is not an error: the server
    /// rolls back a transaction whose connection is gone.
    pub async fn rollback(mut self) -> Result<(), Error> {
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
        self.conn.as_deref_mut().ok_or(Error::TransactionClosed)
    }

    async fn run<O: Op>(&mut self, op: &O) -> Result<O::Output, Error> {
        let conn = self.conn.as_mut().ok_or(Error::TransactionClosed)?;
        let outcome = match bounded(self.statement_timeout, op.run(conn)).await {
            Ok(output) => return Ok(output),
            Err(Bounded::TimedOut(timeout)) => {
                self.lose();
                return Err(Error::StatementTimeout { timeout });
            }
            Err(Bounded::Failed(e)) => Err(e),
        };
        outcome.map_err(|e| match classify(&e) {
            Class::Server => server_error(e),
            Class::Client => Error::Client(e),
            Class::NotExecuted(_) | Class::Lost(_) => {
                self.lose();
                Error::TransactionLost { source: e }
            }
        })
    }

    /// The connection is gone or in an unknown state: close it.
    fn lose(&mut self) {
        if let Some(conn) = self.conn.take() {
            conn.discard();
        }
    }
}
