//! The error of the exec path: which pool, what happened, and whether the
//! statement may have run.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::pool::PoolError;

/// Why [`Pool::get`](crate::Pool::get), [`Pool::get_timeout`](crate::Pool::get_timeout)
/// or [`Pool::try_get`](crate::Pool::try_get) failed. Defined here, beside
/// the statement error that wraps it, so that this module needs nothing of
/// the MySQL pool.
pub type AcquireError = PoolError<mysql_async::Error>;

/// Why a statement run through [`Pool`](crate::Pool) or [`Tx`](crate::Tx)
/// failed, and on which pool: its `Display` starts with the pool's target
/// (`user@host:port/db`, never the password), so that a log line tells the
/// primary from a replica. [`kind`](Self::kind) says what happened.
///
/// ```no_run
/// use pool_runtime::ErrorKind;
///
/// # async fn demo(pool: pool_runtime::Pool) {
/// match pool.exec("UPDATE stock SET n = n - 1 WHERE id = ?", (7,)).await {
///     Ok(_) => {}
///     Err(e) if e.may_have_run() => eprintln!("{e}: check before retrying"),
///     Err(e) => match e.kind() {
///         ErrorKind::Server(server) if server.code == 1213 => eprintln!("deadlock: retry"),
///         _ => eprintln!("{e}"),
///     },
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Error {
    pool: Arc<str>,
    kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(pool: &Arc<str>, kind: ErrorKind) -> Self {
        Error {
            pool: Arc::clone(pool),
            kind,
        }
    }

    /// What happened.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// What happened, by value.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// The pool it came from: its target, `user@host:port/db`.
    pub fn pool(&self) -> &str {
        &self.pool
    }

    /// Whether the statement (or transaction) may have taken effect.
    /// `false` means it certainly did not: safe to retry.
    pub fn may_have_run(&self) -> bool {
        self.kind.may_have_run()
    }

    /// The server's error code, for [`ErrorKind::Server`] and
    /// [`ErrorKind::ReadOnly`].
    pub fn server_code(&self) -> Option<u16> {
        self.kind.server_code()
    }

    /// Whether the server refused the statement as read-only: the pool's
    /// target moved ([`ErrorKind::ReadOnly`]). The statement did not run.
    pub fn is_read_only(&self) -> bool {
        self.kind.is_read_only()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pool {}: {}", self.pool, self.kind)
    }
}

/// The kind's own cause, so that the chain reads pool, kind, cause, with no
/// text twice.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// What went wrong with a statement. Each variant says whether it may have
/// taken effect, because that decides what the caller may safely do next.
///
/// Never contains a password: driver errors carry user and host at most.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No connection could be had: pool exhausted past `acquire_timeout`,
    /// pool closed, or opening a connection failed (server down, wrong
    /// password, too many connections). Nothing was sent.
    #[error(transparent)]
    Acquire(#[from] AcquireError),

    /// The server ran or refused the statement and said why (duplicate key,
    /// syntax error, lock wait timeout...). Returned as is, never retried.
    #[error(
        "the server refused the statement: error {} ({}): {}",
        .0.code,
        .0.state,
        .0.message
    )]
    Server(mysql_async::ServerError),

    /// The connection was lost after the statement may have reached the
    /// server. It may or may not have run, so it was not sent again.
    #[error(
        "the connection was lost after the statement may have reached the server; it may or \
         may not have run and was not re-sent: check its effect before retrying"
    )]
    MaybeExecuted {
        /// The connection error.
        #[source]
        source: mysql_async::Error,
    },

    /// Every attempt found a dead connection before the statement was sent:
    /// it did not run. The server is probably restarting or unreachable.
    #[error(
        "the statement was not run: {attempts} connections in a row were dead before it \
         could be sent; is the server restarting or unreachable?"
    )]
    BadConnection {
        /// Attempts made, the last on a new connection.
        attempts: u32,
        /// The last connection error.
        #[source]
        source: mysql_async::Error,
    },

    /// No answer within the statement timeout. The connection was closed,
    /// since its state is unknown; the statement may or may not have run.
    #[error(
        "no answer within {timeout:?} (statement_timeout): the connection was closed and \
         the statement may or may not have run"
    )]
    StatementTimeout {
        /// The timeout that expired.
        timeout: Duration,
    },

    /// The connection was lost inside a transaction, before `COMMIT`. The
    /// server rolls back uncommitted work: none of it was applied.
    #[error(
        "the connection was lost inside the transaction; the server rolls back uncommitted \
         work, so none of it was applied: retry the whole transaction"
    )]
    TransactionLost {
        /// The connection error.
        #[source]
        source: mysql_async::Error,
    },

    /// The connection was lost during `COMMIT`: the transaction may or may
    /// not have been committed.
    #[error(
        "the connection was lost during COMMIT: the transaction may or may not have been \
         committed; check before retrying it"
    )]
    CommitOutcomeUnknown {
        /// The connection error.
        #[source]
        source: mysql_async::Error,
    },

    /// The connection was lost while a [`RowStream`](crate::RowStream) was
    /// being read, after some of its rows had been delivered. The stream
    /// ended there; the query was not re-sent, since the caller had already
    /// seen rows.
    #[error(
        "the connection was lost after {rows} row(s) of the result had been delivered; \
         the rest was not read and the query was not re-sent: run it again to read the \
         whole result"
    )]
    StreamInterrupted {
        /// Rows delivered before the loss.
        rows: u64,
        /// The connection error.
        #[source]
        source: mysql_async::Error,
    },

    /// The transaction already ended: its connection was lost or timed out.
    #[error("the transaction already ended (its connection was lost); start a new one")]
    TransactionClosed,

    /// A row did not convert to the requested type: the statement ran.
    #[error(
        "a row of {columns} column(s) does not convert to `{target}`: check the SELECT list \
         against the type (count, order, NULLs, value ranges)"
    )]
    Conversion {
        /// The Rust type asked for.
        target: &'static str,
        /// The columns the row had.
        columns: usize,
    },

    /// The server refused the statement because it is read-only (error
    /// 1290 for `--read-only`, 1836 read-only mode, or 1792 outside a
    /// transaction the caller started `READ ONLY`): the pool's target has
    /// moved, e.g. the primary was demoted after a switchover. The
    /// statement did **not** run. The pool discarded the connection and
    /// retired every connection opened before it (once, however many
    /// tasks see it); new connections resolve the host again. Outside a
    /// transaction the statement was re-sent once on a new connection
    /// (`retried`); this error means that attempt was refused too, or
    /// that it came inside a [`Tx`](crate::Tx), which is never retried.
    #[error(
        "the server is read-only (error {} ({}): {}): the statement did not run; the pool retired its connections to it{}",
        .server.code,
        .server.state,
        .server.message,
        if *.retried { " and a retry on a new connection was refused too: is the primary's address (DNS/VIP) pointing at a replica?" } else { "; retry it (a new connection follows the DNS/VIP)" }
    )]
    ReadOnly {
        /// The server's error: its code (1290, 1836, 1792) and message.
        server: mysql_async::ServerError,
        /// Whether this error started the switch (retired the generation);
        /// `false` when another task's error already had.
        retired: bool,
        /// The pool generation of the connection that met it.
        generation: u64,
        /// Whether the statement had been re-sent once on a new connection
        /// after a first read-only refusal.
        retried: bool,
    },

    /// A client-side error unrelated to the connection: a row that does not
    /// convert to the requested type, parameters that do not match.
    #[error(transparent)]
    Client(mysql_async::Error),
}

impl ErrorKind {
    /// Whether the statement (or transaction) may have taken effect.
    /// `false` means it certainly did not: safe to retry.
    pub fn may_have_run(&self) -> bool {
        matches!(
            self,
            ErrorKind::MaybeExecuted { .. }
                | ErrorKind::StatementTimeout { .. }
                | ErrorKind::StreamInterrupted { .. }
                | ErrorKind::CommitOutcomeUnknown { .. }
        )
    }

    /// The server's error code, for [`ErrorKind::Server`] and
    /// [`ErrorKind::ReadOnly`].
    pub fn server_code(&self) -> Option<u16> {
        match self {
            ErrorKind::Server(e) | ErrorKind::ReadOnly { server: e, .. } => Some(e.code),
            _ => None,
        }
    }

    /// Whether the server refused the statement as read-only
    /// ([`ErrorKind::ReadOnly`]).
    pub fn is_read_only(&self) -> bool {
        matches!(self, ErrorKind::ReadOnly { .. })
    }
}
