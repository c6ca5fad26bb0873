//! Rows one at a time, for results too large to collect.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use mysql_async::prelude::*;
use mysql_async::{BinaryProtocol, Conn, QueryResult, Row, TextProtocol};

use super::classify::{Class, classify};
use super::statement::{Op, Sql, convert, first_keyword, is_read_only};
use super::tx::Tx;
use super::{Bounded, bounded, server_error};
use crate::error::{Error, ErrorKind};
use crate::mysql::{Pool, PooledConn};

/// The rows of a query, read from the server one at a time as they are
/// asked for; from [`Pool::query_stream`](crate::Pool::query_stream) or
/// [`Tx::query_stream`].
///
/// Memory stays bounded whatever the size of the result: the rows are not
/// collected, and the server sends more only as they are read. Read it
/// with [`next`](Self::next), or as a [`futures_core::Stream`] (with
/// `futures::StreamExt` or `TryStreamExt`, or into an HTTP body).
///
/// ```no_run
/// # async fn demo(pool: pool_runtime::Pool) -> Result<(), pool_runtime::Error> {
/// let mut rows = pool
///     .query_stream::<(u64, String)>("SELECT id, email FROM users", ())
///     .await?;
/// while let Some(row) = rows.next().await {
///     let (id, email) = row?;
///     println!("{id} {email}");
/// }
/// # Ok(()) }
/// ```
///
/// # Retries
///
/// Opening the stream runs the query and reads its first row, with the
/// same retries as [`Pool::query`](crate::Pool::query): nothing has been
/// delivered yet. Once a row was delivered, nothing is retried: a lost
/// connection ends the stream with [`ErrorKind::StreamInterrupted`] (in a
/// transaction, [`ErrorKind::TransactionLost`]), and the caller decides.
///
/// # The connection
///
/// The stream holds its connection until it has read the end of the result
/// ([`next`](Self::next) returned `None`); then the connection goes back to
/// the pool at once, even if the stream is kept.
/// A stream dropped before its end, from a pool, closes its connection
/// instead of returning it with unread rows: the next user must not pay for
/// reading them, and closing also stops the server sending more. That
/// costs a reconnect, so to stop early on purpose bound the query
/// (`LIMIT`). In a transaction the connection stays: the unread rows are
/// read and thrown away before the transaction's next statement.
///
/// [`next`](Self::next) is cancel-safe: a call dropped before it returns
/// (in a `select!`, under a timeout) loses no row, and the next call goes
/// on with the same read. Only dropping the stream mid-read leaves the
/// connection mid-packet: from a pool it is closed, as above; in a
/// transaction the transaction is lost ([`ErrorKind::TransactionClosed`] next).
///
/// # Statement timeout
///
/// `statement_timeout` bounds each wait for the server (for the first row,
/// then for each next one), not the time the caller spends between rows.
///
/// # Errors as items
///
/// A row that does not convert to `T` is an [`ErrorKind::Conversion`] item and
/// the stream goes on with the next row. Any other error is the last item.
#[must_use = "a stream does nothing unless its rows are read"]
pub struct RowStream<'c, T> {
    /// The first row, read when the stream was opened.
    first: Option<Row>,
    state: State<'c>,
    timeout: Option<Duration>,
    delivered: u64,
    /// The pool it reads from, as errors name it.
    pool: Arc<str>,
    row: PhantomData<fn() -> T>,
}

enum State<'c> {
    Between(Holder<'c>),
    Reading(Pin<Box<dyn Future<Output = (Holder<'c>, Read)> + Send + 'c>>),
    /// The result was read to its end, or the stream failed.
    Ended,
}

type Read = Result<Option<Row>, Bounded>;

impl<'c, T: FromRow> RowStream<'c, T> {
    fn new(opened: Opened, place: Place<'c>, timeout: Option<Duration>, pool: Arc<str>) -> Self {
        let holder = Holder {
            place: Some(place),
            protocol: opened.protocol,
            reading: false,
        };
        let state = match opened.first {
            Some(_) => State::Between(holder),
            None => {
                // An empty result, read to its end already.
                holder.finish();
                State::Ended
            }
        };
        RowStream {
            first: opened.first,
            state,
            timeout,
            delivered: 0,
            pool,
            row: PhantomData,
        }
    }

    /// The next row, `None` after the last one (or after an error other
    /// than a conversion error).
    pub async fn next(&mut self) -> Option<Result<T, Error>> {
        std::future::poll_fn(|cx| self.poll_named(cx)).await
    }

    /// Rows delivered so far.
    pub fn rows_delivered(&self) -> u64 {
        self.delivered
    }

    fn poll_named(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, Error>>> {
        // The name is cloned into an error only: nothing per row.
        let polled = self.poll_row(cx);
        polled.map(|row| row.map(|row| row.map_err(|kind| Error::new(&self.pool, kind))))
    }

    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, ErrorKind>>> {
        if let Some(row) = self.first.take() {
            return Poll::Ready(Some(self.deliver(row)));
        }
        loop {
            match std::mem::replace(&mut self.state, State::Ended) {
                State::Ended => return Poll::Ready(None),
                State::Between(holder) => {
                    self.state = State::Reading(Box::pin(holder.read(self.timeout)));
                }
                State::Reading(mut read) => match read.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = State::Reading(read);
                        return Poll::Pending;
                    }
                    Poll::Ready((holder, Ok(Some(row)))) => {
                        self.state = State::Between(holder);
                        return Poll::Ready(Some(self.deliver(row)));
                    }
                    Poll::Ready((holder, Ok(None))) => {
                        holder.finish();
                        return Poll::Ready(None);
                    }
                    Poll::Ready((holder, Err(failure))) => {
                        return Poll::Ready(Some(Err(holder.fail(failure, self.delivered))));
                    }
                },
            }
        }
    }

    fn deliver(&mut self, row: Row) -> Result<T, ErrorKind> {
        self.delivered += 1;
        convert(row)
    }
}

impl<T: FromRow> Stream for RowStream<'_, T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_named(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match (&self.first, &self.state) {
            (None, State::Ended) => (0, Some(0)),
            (Some(_), _) => (1, None),
            _ => (0, None),
        }
    }
}

impl<T> fmt::Debug for RowStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Between(_) | State::Reading(_) => "open",
            State::Ended => "ended",
        };
        f.debug_struct("RowStream")
            .field("row", &std::any::type_name::<T>())
            .field("delivered", &self.delivered)
            .field("state", &state)
            .finish()
    }
}

/// Which protocol the result set is read with: the text protocol for
/// statements without parameters, the binary one for prepared statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Text,
    Binary,
}

/// The next row of the pending result set; at its end, whatever result
/// sets follow (a `CALL`'s closing status) are read and dropped, so that
/// the connection is clean when this returns `None`.
async fn next_row(conn: &mut Conn, protocol: Protocol) -> Result<Option<Row>, mysql_async::Error> {
    let row = match protocol {
        Protocol::Text => QueryResult::<TextProtocol>::new(&mut *conn).next().await?,
        Protocol::Binary => {
            QueryResult::<BinaryProtocol>::new(&mut *conn)
                .next()
                .await?
        }
    };
    if row.is_none() {
        drop_rest(conn, protocol).await?;
    }
    Ok(row)
}

/// Reads and drops what is left of the pending result, if anything.
pub(crate) async fn drop_rest(
    conn: &mut Conn,
    protocol: Protocol,
) -> Result<(), mysql_async::Error> {
    match protocol {
        Protocol::Text => QueryResult::<TextProtocol>::new(conn).drop_result().await,
        Protocol::Binary => QueryResult::<BinaryProtocol>::new(conn).drop_result().await,
    }
}

/// Runs the query and reads its first row: everything that may be retried.
pub(crate) struct OpenStream<'a>(pub(crate) Sql<'a>);

/// An opened result: how to read it, and its first row (`None`: it was
/// empty and is read to its end).
pub(crate) struct Opened {
    protocol: Protocol,
    first: Option<Row>,
}

impl Op for OpenStream<'_> {
    type Output = Opened;

    async fn run(&self, conn: &mut Conn) -> Result<Opened, mysql_async::Error> {
        let sql = &self.0;
        // The result handle only borrows the connection, which keeps the
        // pending result: dropping the handle leaves the rows unread.
        let protocol = if sql.is_plain() {
            conn.query_iter(sql.text).await?;
            Protocol::Text
        } else {
            conn.exec_iter(sql.text, sql.params.clone()).await?;
            Protocol::Binary
        };
        let first = next_row(conn, protocol).await?;
        Ok(Opened { protocol, first })
    }

    fn is_read(&self) -> bool {
        is_read_only(self.0.text)
    }

    fn verb(&self) -> &str {
        first_keyword(self.0.text)
    }
}

/// Where the stream's connection lives.
enum Place<'c> {
    Pool { conn: PooledConn, pool: Pool },
    Tx(&'c mut Tx),
}

/// The stream's hold on its connection, and what becomes of the connection
/// when the stream stops early (see `Drop`).
struct Holder<'c> {
    /// `None` once the connection was given back or closed.
    place: Option<Place<'c>>,
    protocol: Protocol,
    /// A row is being read: the connection is mid-packet.
    reading: bool,
}

impl<'c> Holder<'c> {
    /// Reads the next row, giving the holder back with it.
    async fn read(mut self, timeout: Option<Duration>) -> (Holder<'c>, Read) {
        let protocol = self.protocol;
        // Left set if this future is dropped mid-read: `Drop` then knows.
        self.reading = true;
        let outcome = match self.conn() {
            Some(conn) => bounded(timeout, next_row(conn, protocol)).await,
            None => Err(Bounded::Failed(
                mysql_async::DriverError::ConnectionClosed.into(),
            )),
        };
        self.reading = false;
        (self, outcome)
    }

    fn conn(&mut self) -> Option<&mut Conn> {
        match self.place.as_mut()? {
            Place::Pool { conn, .. } => Some(conn),
            Place::Tx(tx) => tx.live_conn(),
        }
    }

    /// The result was read to its end: the connection is clean.
    fn finish(mut self) {
        // A pool connection goes back; a transaction keeps its own.
        self.place = None;
    }

    /// What an error that ended the stream means for the caller and for
    /// the connection.
    fn fail(mut self, failure: Bounded, delivered: u64) -> ErrorKind {
        let place = self.place.take();
        let e = match failure {
            Bounded::TimedOut(timeout) => {
                match place {
                    Some(Place::Pool { conn, pool }) => {
                        pool.exec_counters().statement_timeout();
                        conn.discard();
                    }
                    Some(Place::Tx(tx)) => tx.timed_out(),
                    None => {}
                }
                return ErrorKind::StatementTimeout { timeout };
            }
            Bounded::Failed(e) => e,
        };
        let class = classify(&e);
        let in_tx = matches!(place, Some(Place::Tx(_)));
        if class != Class::Server {
            // Mid-result and not a server's answer: the protocol state is
            // unknown, so the connection cannot be used again.
            match place {
                Some(Place::Pool { conn, .. }) => conn.discard_after(&e),
                Some(Place::Tx(tx)) => tx.lose_after(&e),
                None => {}
            }
        }
        match class {
            // The server ended the result with an error (killed query,
            // lock wait, a failing statement in a CALL): the connection
            // is clean and goes back (or stays in the transaction).
            Class::Server => server_error(e),
            Class::Client => ErrorKind::Client(e),
            Class::NotExecuted(_) | Class::Lost(_) if in_tx => {
                ErrorKind::TransactionLost { source: e }
            }
            Class::NotExecuted(_) | Class::Lost(_) => ErrorKind::StreamInterrupted {
                rows: delivered,
                source: e,
            },
        }
    }
}

impl Drop for Holder<'_> {
    /// The stream stopped before the end of its result.
    fn drop(&mut self) {
        match self.place.take() {
            None => {}
            Some(Place::Pool { conn, .. }) => {
                tracing::debug!(
                    conn = conn.pool_id(),
                    "row stream dropped before its end: closing its connection rather than \
                     returning it with unread rows"
                );
                conn.discard();
            }
            // Cut mid-packet: the connection cannot be read any more.
            Some(Place::Tx(tx)) if self.reading => tx.lose(),
            // Between rows: the transaction reads the rest away before
            // its next statement.
            Some(Place::Tx(tx)) => tx.left_unread(self.protocol),
        }
    }
}

impl Pool {
    /// Opens a stream with the retries of a read; its connection is owned,
    /// so the stream may live as long as the caller needs (`'c`).
    pub(crate) async fn open_stream<'c, T: FromRow>(
        &self,
        sql: Sql<'_>,
    ) -> Result<RowStream<'c, T>, ErrorKind> {
        let (opened, conn) = self.run(&OpenStream(sql)).await?;
        let place = Place::Pool {
            conn,
            pool: self.clone(),
        };
        Ok(RowStream::new(
            opened,
            place,
            self.statement_timeout(),
            Arc::clone(self.name()),
        ))
    }
}

impl Tx {
    pub(crate) async fn open_stream<T: FromRow>(
        &mut self,
        sql: Sql<'_>,
    ) -> Result<RowStream<'_, T>, ErrorKind> {
        let opened = self.run(&OpenStream(sql)).await?;
        let timeout = self.statement_timeout();
        let pool = Arc::clone(self.pool_name());
        Ok(RowStream::new(opened, Place::Tx(self), timeout, pool))
    }
}
