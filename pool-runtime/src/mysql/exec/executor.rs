//! What a pool and a transaction have in common: running statements. Each
//! statement method is written once here, for both.

use std::future::Future;
use std::sync::Arc;

use mysql_async::Params;
use mysql_async::prelude::FromRow;

use super::row_stream::RowStream;
use super::statement::{Exec, ExecOutcome, Op, QueryAll, QueryFirst, Sql, convert, convert_all};
use super::tx::Tx;
use crate::error::{Error, ErrorKind};
use crate::mysql::Pool;

/// Runs statements: implemented by `&Pool` and `&mut Tx`, so that a
/// function can take either and work inside or outside a transaction.
///
/// The methods are those of [`Pool`] and [`Tx`] under the same names (which
/// need no import); the rules differ as theirs do: on `&Pool`, a statement
/// runs on any connection and is retried when the error proves it did not
/// run ([`Pool::exec`]); on `&mut Tx`, every statement runs on the
/// transaction's connection and nothing is ever retried.
///
/// Unlike sqlx's `Executor`, the methods take `&mut self`, so one value can
/// run several statements: take it as `mut db: impl Executor`. Every future
/// is `Send`, for spawned tasks.
///
/// ```no_run
/// use pool_runtime::{Error, Executor, Pool};
///
/// /// Moves stock between two shelves; atomic only if `db` is a transaction.
/// async fn move_stock(mut db: impl Executor, from: u64, to: u64, n: u32) -> Result<(), Error> {
///     db.exec("UPDATE shelf SET qty = qty - ? WHERE id = ?", (n, from)).await?;
///     db.exec("UPDATE shelf SET qty = qty + ? WHERE id = ?", (n, to)).await?;
///     let left: Option<u32> = db.query_first("SELECT qty FROM shelf WHERE id = ?", (from,)).await?;
///     println!("shelf {from} has {left:?} left");
///     Ok(())
/// }
///
/// # async fn demo(pool: Pool) -> Result<(), Error> {
/// // On the pool: each statement on its own, retried where safe.
/// move_stock(&pool, 1, 2, 5).await?;
///
/// // In a transaction: all or nothing.
/// let mut tx = pool.begin().await?;
/// move_stock(&mut tx, 2, 3, 5).await?;
/// tx.commit().await?;
///
/// // And from a spawned task.
/// let handle = tokio::spawn(async move { move_stock(&pool, 3, 1, 5).await });
/// handle.await.expect("the task panicked")?;
/// # Ok(()) }
/// ```
pub trait Executor: sealed::Sealed + Send {
    /// Runs a statement that changes data and reports what it changed. See
    /// [`Pool::exec`] and [`Tx::exec`].
    fn exec(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> impl Future<Output = Result<ExecOutcome, Error>> + Send {
        let sql = Sql::new(sql, params);
        async move { exec(&mut self.target(), sql).await }
    }

    /// Runs a query and collects its rows. See [`Pool::query`].
    fn query<T>(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> impl Future<Output = Result<Vec<T>, Error>> + Send
    where
        T: FromRow + Send + 'static,
    {
        let sql = Sql::new(sql, params);
        async move { query(&mut self.target(), sql).await }
    }

    /// Runs a query and returns its first row, if any. See
    /// [`Pool::query_first`].
    fn query_first<T>(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> impl Future<Output = Result<Option<T>, Error>> + Send
    where
        T: FromRow + Send + 'static,
    {
        let sql = Sql::new(sql, params);
        async move { query_first(&mut self.target(), sql).await }
    }

    /// Runs a query whose rows are read one at a time. See
    /// [`Pool::query_stream`] and [`RowStream`].
    fn query_stream<T>(
        &mut self,
        sql: &str,
        params: impl Into<Params>,
    ) -> impl Future<Output = Result<RowStream<'_, T>, Error>> + Send
    where
        T: FromRow + Send + 'static,
    {
        let sql = Sql::new(sql, params);
        async move {
            let pool = self.target().pool_name();
            let opened = match self.target() {
                Target::Pool(pool) => pool.open_stream(sql).await,
                Target::Tx(tx) => tx.open_stream(sql).await,
            };
            opened.map_err(|kind| Error::new(&pool, kind))
        }
    }
}

impl Executor for &Pool {}
impl Executor for &mut Tx {}

mod sealed {
    /// Only this crate's pool and transaction run statements; the method
    /// is out of users' reach (the trait cannot be named outside).
    pub trait Sealed {
        fn target(&mut self) -> super::Target<'_>;
    }

    impl Sealed for &crate::Pool {
        fn target(&mut self) -> super::Target<'_> {
            super::Target::Pool(self)
        }
    }

    impl Sealed for &mut crate::Tx {
        fn target(&mut self) -> super::Target<'_> {
            super::Target::Tx(self)
        }
    }
}

/// Where a statement runs: on the pool, with retries, or on a
/// transaction's one connection. (Public only in name, for the sealed
/// trait: it cannot be reached from outside the crate.)
#[doc(hidden)]
pub enum Target<'a> {
    Pool(&'a Pool),
    Tx(&'a mut Tx),
}

impl Target<'_> {
    /// The pool the statement runs on, as errors name it.
    fn pool_name(&self) -> Arc<str> {
        match self {
            Target::Pool(pool) => Arc::clone(pool.name()),
            Target::Tx(tx) => Arc::clone(tx.pool_name()),
        }
    }

    /// Names the pool in an error of this target.
    fn named<T>(&self, result: Result<T, ErrorKind>) -> Result<T, Error> {
        result.map_err(|kind| Error::new(&self.pool_name(), kind))
    }

    async fn run<O: Op>(&mut self, op: &O) -> Result<O::Output, ErrorKind> {
        match self {
            Target::Pool(pool) => Ok(pool.run(op).await?.0),
            Target::Tx(tx) => tx.run(op).await,
        }
    }
}

// Each statement is written once, for both targets.

pub(crate) async fn exec(target: &mut Target<'_>, sql: Sql<'_>) -> Result<ExecOutcome, Error> {
    let outcome = target.run(&Exec(sql)).await;
    target.named(outcome)
}

pub(crate) async fn query<T: FromRow>(
    target: &mut Target<'_>,
    sql: Sql<'_>,
) -> Result<Vec<T>, Error> {
    let rows = target.run(&QueryAll(sql)).await.and_then(convert_all);
    target.named(rows)
}

pub(crate) async fn query_first<T: FromRow>(
    target: &mut Target<'_>,
    sql: Sql<'_>,
) -> Result<Option<T>, Error> {
    let row = target
        .run(&QueryFirst(sql))
        .await
        .and_then(|row| row.map(convert).transpose());
    target.named(row)
}
