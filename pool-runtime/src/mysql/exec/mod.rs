//! The exec path: statements that survive dead connections and never run
//! twice.
//!
//! [`Pool::exec`](crate::Pool::exec) and the `query*` methods run a statement
//! the way Go's `database/sql` does, with one rule added: **a statement that
//! may have reached the server is never sent again** (reads excepted, see
//! below). The steps:
//!
//! 1. Up to two attempts on a connection from the pool (idle or new). An
//!    idle connection was already pinged by the pool if it sat idle past
//!    `validate_after_idle`, so most dead connections never get this far.
//! 2. One last attempt on a guaranteed new connection ([`GenericPool::get_new`](crate::pool::GenericPool::get_new)).
//!
//! A further attempt is made only when the error proves the statement did
//! not run. Every retry is counted in [`PoolStats`](crate::PoolStats) and
//! logged with its reason and attempt number.
//!
//! # What each error proves
//!
//! | Error from the driver | Proves | Writes | Reads (`retry_reads`) |
//! |---|---|---|---|
//! | I/O `BrokenPipe` | peer had reset the socket before the write: nothing delivered | retried | retried |
//! | server error 4031 (MySQL 8 idle timeout) | the server closed the session before reading the statement | retried | retried |
//! | codec "packets out of sync" (how `mysql_async` reports MySQL 8's unprompted 4031), driver `PacketOutOfOrder` | the server spoke out of turn: a goodbye sent before it read the statement | retried | retried |
//! | driver `ConnectionClosed` | the connection was closed before the statement | retried | retried |
//! | I/O `UnexpectedEof`, `ConnectionReset`, other I/O, TLS | the connection broke after the write: the statement **may have run** | [`ErrorKind::MaybeExecuted`](crate::ErrorKind::MaybeExecuted) | retried |
//! | server errors 1053, 1927, 1317 (shutdown, killed, interrupted) | the session ended during the statement: **may have run** | [`ErrorKind::MaybeExecuted`](crate::ErrorKind::MaybeExecuted) | retried |
//! | any other server error (duplicate key, deadlock, syntax, ...) | the server answered | [`ErrorKind::Server`](crate::ErrorKind::Server) | same |
//! | row conversion, parameter errors | a client-side mistake | [`ErrorKind::Client`](crate::ErrorKind::Client) | same |
//! | acquire errors (timeout, closed, connect failed) | nothing was sent | [`ErrorKind::Acquire`](crate::ErrorKind::Acquire) | same |
//!
//! "Retried" in the Reads column needs `retry_reads` (on by default); with
//! it off, a read is treated as a write. A read re-sent after a loss whose
//! last attempt fails too is reported as
//! [`ErrorKind::MaybeExecuted`](crate::ErrorKind::MaybeExecuted), not
//! [`ErrorKind::BadConnection`](crate::ErrorKind::BadConnection): one of its
//! attempts may have run. `BadConnection` means every attempt failed with an
//! error of the first four rows.
//!
//! Why 1053, 1927 and 1317 are not proof: the server sends them in reply to
//! a statement it interrupted (shutdown, `KILL CONNECTION`, `KILL QUERY`);
//! an interrupted statement may have changed non-transactional tables, and
//! a `COMMIT` may have been interrupted after it committed. Sent unprompted
//! to an idle session, they arrive out of sequence and are read as "packets
//! out of sync" (third row).
//!
//! Why `ConnectionReset` is not proof: the server may have executed the
//! statement and then crashed, or been killed, before answering. Why
//! `BrokenPipe` is: the kernel raises it only on a write to a socket already
//! reset by the peer, so the statement's bytes never left.
//!
//! # Why re-sending a read is safe, and when it is not
//!
//! A read-only statement outside a transaction changes nothing, so running
//! it a second time cannot corrupt data; the caller gets the second answer.
//! "Read-only" is judged from the text: it starts with `SELECT`, `SHOW`,
//! `DESCRIBE`, `EXPLAIN`, ... and has no `INTO`. A `SELECT` that calls a
//! function with side effects (`GET_LOCK()`, `NEXTVAL()`, a stored function
//! that writes) looks like a read and is not one: switch `retry_reads` off if
//! you send those through `query*`. Statements sent with `exec` are always
//! treated as writes. Nothing inside a [`Tx`](crate::Tx) is ever retried.
//!
//! # Statement timeout
//!
//! With `statement_timeout` set (per pool, or per handle with
//! [`Pool::with_statement_timeout`](crate::Pool::with_statement_timeout)),
//! each attempt is bounded. On expiry the connection is closed, because its
//! state is unknown, and [`ErrorKind::StatementTimeout`](crate::ErrorKind::StatementTimeout)
//! says the statement may have run; it is not retried. Without it, a
//! statement on a connection whose flow was silently dropped waits until TCP
//! gives up (minutes).

mod classify;
mod counters;
mod executor;
mod pool_statements;
mod row_stream;
mod statement;
mod tx;
mod tx_options;

pub(crate) use classify::proves_peer_closed;
pub(crate) use counters::{ExecCounters, ExecStats};
pub use executor::Executor;
pub use row_stream::RowStream;
pub use statement::ExecOutcome;
pub use tx::Tx;
pub use tx_options::{IsolationLevel, TxOptions};

use std::future::Future;
use std::time::Duration;

use crate::error::ErrorKind;
use crate::mysql::{Pool, PooledConn};
use classify::{Class, classify};
use statement::Op;

/// Attempts on a connection from the pool (idle or new) before the last,
/// guaranteed new one.
const POOLED_ATTEMPTS: u32 = 2;
const ATTEMPTS: u32 = POOLED_ATTEMPTS + 1;

impl Pool {
    /// Runs `op` with retries; returns its output and the connection it ran
    /// on (the transaction start keeps it).
    pub(crate) async fn run<O: Op>(&self, op: &O) -> Result<(O::Output, PooledConn), ErrorKind> {
        let counters = self.exec_counters();
        let mut attempt = 1;
        // Whether an earlier attempt (a read) lost its connection after it
        // may have reached the server.
        let mut lost_once = false;
        // Whether the statement was already re-sent after a read-only
        // refusal (once at most).
        let mut read_only_retried = false;
        loop {
            let mut conn = if read_only_retried && attempt == 0 {
                // The retry after a read-only refusal: a new connection,
                // so of the new generation, whose connect resolved the
                // host again.
                attempt = 1;
                self.get_new().await?
            } else if attempt <= POOLED_ATTEMPTS {
                self.get().await?
            } else {
                counters.new_conn_attempt();
                self.get_new().await?
            };
            let error = match bounded(self.statement_timeout(), op.run(&mut conn)).await {
                Ok(output) => return Ok((output, conn)),
                Err(Bounded::Failed(error)) => error,
                Err(Bounded::TimedOut(timeout)) => {
                    // The connection is mid-statement: its state is unknown.
                    counters.statement_timeout();
                    conn.discard();
                    return Err(ErrorKind::StatementTimeout { timeout });
                }
            };
            let class = classify(&error);
            let (retry_reason, lost) = match decide(class, op.is_read(), self.options().retry_reads)
            {
                Decision::ServerAnswer => match error {
                    mysql_async::Error::Server(server)
                        if classify::is_read_only(&server, false) =>
                    {
                        let generation = conn.generation();
                        let retired = conn.retire_generation().is_some();
                        conn.discard();
                        if read_only_retried {
                            return Err(ErrorKind::ReadOnly {
                                server,
                                retired,
                                generation,
                                retried: true,
                            });
                        }
                        counters.read_only_retry();
                        tracing::warn!(
                            target: "pool_runtime::pool",
                            statement = op.verb(),
                            code = server.code,
                            generation,
                            retired,
                            "the server is read-only (the target moved?): re-sending the statement once on a new connection"
                        );
                        read_only_retried = true;
                        attempt = 0;
                        continue;
                    }
                    error => return Err(server_error(error)),
                },
                Decision::ClientError => return Err(ErrorKind::Client(error)),
                Decision::Resend {
                    reason,
                    may_have_run,
                } => {
                    conn.discard_after(&error);
                    lost_once |= may_have_run;
                    (reason, may_have_run)
                }
                Decision::MaybeExecuted(reason) => {
                    conn.discard_after(&error);
                    counters.maybe_executed();
                    tracing::warn!(
                        statement = op.verb(),
                        attempt,
                        reason,
                        "connection lost after the statement may have run; not re-sending it"
                    );
                    return Err(ErrorKind::MaybeExecuted { source: error });
                }
            };
            if attempt == ATTEMPTS {
                // A read re-sent after a loss may have run on the server at
                // least once: "not run" would be a claim nobody proved.
                if lost_once {
                    counters.maybe_executed();
                    tracing::warn!(
                        statement = op.verb(),
                        attempt,
                        reason = retry_reason,
                        "every attempt failed, one after the read may have run; giving up"
                    );
                    return Err(ErrorKind::MaybeExecuted { source: error });
                }
                return Err(ErrorKind::BadConnection {
                    attempts: attempt,
                    source: error,
                });
            }
            // Counted only when it is re-sent: the last attempt's error is
            // returned, not retried.
            if lost {
                counters.read_retry();
            } else {
                counters.bad_conn_retry();
            }
            tracing::info!(
                statement = op.verb(),
                attempt,
                reason = retry_reason,
                next = if attempt + 1 > POOLED_ATTEMPTS {
                    "new connection"
                } else {
                    "pooled connection"
                },
                "retrying statement on another connection"
            );
            attempt += 1;
        }
    }
}

/// What the exec path does with a failed attempt: the columns "Writes"
/// and "Reads" of the table in the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send it again on another connection. `may_have_run`: the attempt
    /// lost its connection after the statement may have reached the
    /// server (a read, with `retry_reads`).
    Resend {
        reason: &'static str,
        may_have_run: bool,
    },
    /// Stop: [`ErrorKind::MaybeExecuted`].
    MaybeExecuted(&'static str),
    /// Stop: [`ErrorKind::Server`].
    ServerAnswer,
    /// Stop: [`ErrorKind::Client`].
    ClientError,
}

/// Decides what to do with an attempt that failed with an error of `class`.
pub(crate) fn decide(class: Class, is_read: bool, retry_reads: bool) -> Decision {
    match class {
        Class::Server => Decision::ServerAnswer,
        Class::Client => Decision::ClientError,
        Class::NotExecuted(reason) => Decision::Resend {
            reason,
            may_have_run: false,
        },
        Class::Lost(reason) if retry_reads && is_read => Decision::Resend {
            reason,
            may_have_run: true,
        },
        Class::Lost(reason) => Decision::MaybeExecuted(reason),
    }
}

/// Runs `work` within the statement timeout, if there is one.
pub(crate) async fn bounded<T>(
    limit: Option<Duration>,
    work: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, Bounded> {
    match limit {
        Some(limit) => match tokio::time::timeout(limit, work).await {
            Ok(outcome) => outcome.map_err(Bounded::Failed),
            Err(_) => Err(Bounded::TimedOut(limit)),
        },
        None => work.await.map_err(Bounded::Failed),
    }
}

/// Why a bounded statement did not produce its output.
pub(crate) enum Bounded {
    Failed(mysql_async::Error),
    TimedOut(Duration),
}

/// A server error as the exec path reports it.
pub(crate) fn server_error(e: mysql_async::Error) -> ErrorKind {
    match e {
        mysql_async::Error::Server(e) => ErrorKind::Server(e),
        other => ErrorKind::Client(other),
    }
}

#[cfg(test)]
mod tests {
    //! One row per row of the table in the module docs: changing a row of
    //! the table without changing this test (or the other way round) fails.

    use super::classify::test_errors::{io, server};
    use super::*;
    use mysql_async::DriverError;
    use std::io;

    /// What a row's column says, without the reason text.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Then {
        /// Re-sent; the statement did not run.
        Retried,
        /// Re-sent; it may have run (reads only).
        RetriedMayHaveRun,
        MaybeExecuted,
        Server,
        Client,
    }

    fn then(decision: Decision) -> Then {
        match decision {
            Decision::Resend {
                may_have_run: false,
                ..
            } => Then::Retried,
            Decision::Resend {
                may_have_run: true, ..
            } => Then::RetriedMayHaveRun,
            Decision::MaybeExecuted(_) => Then::MaybeExecuted,
            Decision::ServerAnswer => Then::Server,
            Decision::ClientError => Then::Client,
        }
    }

    #[test]
    fn every_row_of_the_documented_table_holds() {
        use Then::*;
        use io::ErrorKind as K;
        let out_of_sync = || {
            mysql_async::Error::from(
                mysql_common::proto::codec::error::PacketCodecError::PacketsOutOfSync,
            )
        };
        // (row, its errors, writes, reads with retry_reads, reads without)
        let rows: Vec<(&str, Vec<mysql_async::Error>, Then, Then, Then)> = vec![
            (
                "BrokenPipe",
                vec![io(K::BrokenPipe)],
                Retried,
                Retried,
                Retried,
            ),
            (
                "server error 4031",
                vec![server(4031)],
                Retried,
                Retried,
                Retried,
            ),
            (
                "packets out of sync, PacketOutOfOrder",
                vec![
                    out_of_sync(),
                    mysql_async::Error::Driver(DriverError::PacketOutOfOrder),
                ],
                Retried,
                Retried,
                Retried,
            ),
            (
                "ConnectionClosed",
                vec![mysql_async::Error::Driver(DriverError::ConnectionClosed)],
                Retried,
                Retried,
                Retried,
            ),
            (
                "UnexpectedEof, ConnectionReset, other I/O",
                vec![
                    io(K::UnexpectedEof),
                    io(K::ConnectionReset),
                    io(K::ConnectionAborted),
                    io(K::TimedOut),
                    io(K::Other),
                ],
                MaybeExecuted,
                RetriedMayHaveRun,
                MaybeExecuted,
            ),
            (
                "server errors 1053, 1927, 1317",
                vec![server(1053), server(1927), server(1317)],
                MaybeExecuted,
                RetriedMayHaveRun,
                MaybeExecuted,
            ),
            (
                "other server errors",
                vec![
                    server(1062),
                    server(1213),
                    server(1064),
                    server(1040),
                    server(1969),
                ],
                Server,
                Server,
                Server,
            ),
            (
                "client-side mistakes",
                vec![mysql_async::Error::Driver(DriverError::MixedParams)],
                Client,
                Client,
                Client,
            ),
        ];
        for (row, errors, writes, reads, reads_off) in rows {
            for e in &errors {
                let class = classify::classify(e);
                assert_eq!(
                    then(decide(class, false, true)),
                    writes,
                    "{row}: write, {e:?}"
                );
                assert_eq!(
                    then(decide(class, false, false)),
                    writes,
                    "{row}: write, {e:?}"
                );
                assert_eq!(then(decide(class, true, true)), reads, "{row}: read, {e:?}");
                assert_eq!(
                    then(decide(class, true, false)),
                    reads_off,
                    "{row}: read without retry_reads, {e:?}"
                );
            }
        }
    }
}
