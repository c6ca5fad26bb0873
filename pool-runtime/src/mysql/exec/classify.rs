//! Sorting driver errors by what they prove about the statement.

use std::io::ErrorKind;

use mysql_async::{DriverError, IoError};

/// What an error from running a statement proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The statement certainly did not run: the connection was dead before
    /// it could be delivered. Safe to send again on another connection.
    NotExecuted(&'static str),
    /// The connection broke after the statement may have been delivered.
    Lost(&'static str),
    /// The server answered with an error: it ran or refused the statement.
    Server,
    /// A client-side problem (row conversion, parameters); the connection
    /// is fine.
    Client,
}

/// ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+): sent unprompted before the
/// server closes an idle session, so before it read our statement.
const ER_CLIENT_INTERACTION_TIMEOUT: u16 = 4031;
/// ER_SERVER_SHUTDOWN: the server is going down, maybe mid-statement.
const ER_SERVER_SHUTDOWN: u16 = 1053;
/// ER_CONNECTION_KILLED (MariaDB): killed, maybe mid-statement.
const ER_CONNECTION_KILLED: u16 = 1927;
/// ER_QUERY_INTERRUPTED: the statement was interrupted (KILL QUERY).
const ER_QUERY_INTERRUPTED: u16 = 1317;

/// The codec's "packets out of sync": a reply whose sequence id is not the
/// next one. The server only speaks out of turn to say goodbye (error 4031
/// on idle timeout, shutdown notices), and it does so before it reads the
/// next command, so the command was not run.
fn is_out_of_sync(e: &std::io::Error) -> bool {
    use mysql_common::proto::codec::error::PacketCodecError;
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<PacketCodecError>())
        .is_some_and(|codec| matches!(codec, PacketCodecError::PacketsOutOfSync))
}

/// ER_OPTION_PREVENTS_STATEMENT: "The MySQL server is running with the %s
/// option so it cannot execute this statement" (read-only only when the
/// option named is; also `--secure-file-priv`, `--skip-grant-tables`...).
const ER_OPTION_PREVENTS_STATEMENT: u16 = 1290;
/// ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION.
const ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;
/// ER_READ_ONLY_MODE (MySQL: `innodb_read_only`, ...).
const ER_READ_ONLY_MODE: u16 = 1836;

/// Whether a server error says the server (not the caller's own
/// transaction) is read-only: 1290 when it names a read-only option, 1836,
/// and 1792 unless `own_read_only_tx` (the caller's transaction was started
/// `READ ONLY`, or is one: inside a [`Tx`](crate::Tx) it is the
/// transaction's own mode).
pub(crate) fn is_read_only(error: &mysql_async::ServerError, own_read_only_tx: bool) -> bool {
    match error.code {
        ER_OPTION_PREVENTS_STATEMENT => {
            let m = error.message.to_ascii_lowercase();
            m.contains("read-only") || m.contains("read_only")
        }
        ER_READ_ONLY_MODE => true,
        ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION => !own_read_only_tx,
        _ => false,
    }
}

/// See the table in the [module docs](super).
pub(crate) fn classify(error: &mysql_async::Error) -> Class {
    use mysql_async::Error as E;
    match error {
        E::Server(e) => match e.code {
            ER_CLIENT_INTERACTION_TIMEOUT => {
                Class::NotExecuted("the server had closed the idle connection (error 4031)")
            }
            ER_SERVER_SHUTDOWN | ER_CONNECTION_KILLED | ER_QUERY_INTERRUPTED => {
                Class::Lost("the server shut down or killed the session during the statement")
            }
            _ => Class::Server,
        },
        E::Io(IoError::Io(e)) => match e.kind() {
            // EPIPE comes only from a write to a socket whose peer had
            // already reset it: nothing of this statement was delivered.
            ErrorKind::BrokenPipe => {
                Class::NotExecuted("the connection was closed before the statement was written")
            }
            ErrorKind::UnexpectedEof => Class::Lost("the server closed the connection"),
            ErrorKind::Other if is_out_of_sync(e) => Class::NotExecuted(
                "the server had said goodbye before the statement arrived (MySQL 8 idle timeout)",
            ),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                Class::Lost("the connection was reset")
            }
            _ => Class::Lost("an I/O error broke the connection"),
        },
        // `IoError::Tls` exists when a TLS feature of mysql_async is on
        // (possibly enabled by another crate in the build).
        #[allow(unreachable_patterns)]
        E::Io(_) => Class::Lost("a TLS error broke the connection"),
        E::Driver(DriverError::ConnectionClosed) => {
            Class::NotExecuted("the connection was already closed")
        }
        // A packet with the wrong sequence id in reply to a command is the
        // server speaking unprompted: it does that only to say goodbye
        // (4031 idle timeout, shutdown) before it reads the next command.
        E::Driver(DriverError::PacketOutOfOrder) => {
            Class::NotExecuted("the server had sent a goodbye before the statement arrived")
        }
        E::Driver(_) | E::Url(_) | E::Other(_) => Class::Client,
    }
}

/// Whether `error` proves the server side ended the connection's session
/// (so it may have ended its siblings too: a restart, a failover killing
/// every session, an idle timeout): a socket the peer closed or reset, the
/// server's goodbye sent out of turn, or a session shut down or killed
/// (1053, 1927, 4031). Not a timeout, a TLS or other I/O error, a killed
/// query (1317: the session lives on), nor `ConnectionClosed` (the client's
/// own state).
pub(crate) fn proves_peer_closed(error: &mysql_async::Error) -> bool {
    use mysql_async::Error as E;
    match error {
        E::Server(e) => matches!(
            e.code,
            ER_CLIENT_INTERACTION_TIMEOUT | ER_SERVER_SHUTDOWN | ER_CONNECTION_KILLED
        ),
        E::Io(IoError::Io(e)) => {
            matches!(
                e.kind(),
                ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
            ) || is_out_of_sync(e)
        }
        E::Driver(DriverError::PacketOutOfOrder) => true,
        _ => false,
    }
}

/// Driver errors as the tests of this module and of the exec table build them.
#[cfg(test)]
pub(super) mod test_errors {
    use mysql_async::IoError;
    use std::io;

    pub(in crate::mysql::exec) fn io(kind: io::ErrorKind) -> mysql_async::Error {
        mysql_async::Error::Io(IoError::Io(io::Error::from(kind)))
    }

    pub(in crate::mysql::exec) fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: String::new(),
            state: "HY000".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::test_errors::{io as io_error, server};
    use super::*;

    #[test]
    fn only_errors_that_prove_nothing_was_delivered_allow_a_resend() {
        let not_executed = [
            io_error(ErrorKind::BrokenPipe),
            server(4031),
            mysql_async::Error::Driver(DriverError::ConnectionClosed),
            mysql_async::Error::Driver(DriverError::PacketOutOfOrder),
            mysql_async::Error::from(
                mysql_common::proto::codec::error::PacketCodecError::PacketsOutOfSync,
            ),
        ];
        for e in &not_executed {
            assert!(matches!(classify(e), Class::NotExecuted(_)), "{e:?}");
        }
        let lost = [
            io_error(ErrorKind::UnexpectedEof),
            io_error(ErrorKind::ConnectionReset),
            io_error(ErrorKind::TimedOut),
            io_error(ErrorKind::Other),
            server(1053),
            server(1927),
        ];
        for e in &lost {
            assert!(matches!(classify(e), Class::Lost(_)), "{e:?}");
        }
    }

    #[test]
    fn only_a_session_ended_by_the_server_makes_its_siblings_suspect() {
        let proof = [
            io_error(ErrorKind::BrokenPipe),
            io_error(ErrorKind::UnexpectedEof),
            io_error(ErrorKind::ConnectionReset),
            io_error(ErrorKind::ConnectionAborted),
            server(4031),
            server(1053),
            server(1927),
            mysql_async::Error::Driver(DriverError::PacketOutOfOrder),
            mysql_async::Error::from(
                mysql_common::proto::codec::error::PacketCodecError::PacketsOutOfSync,
            ),
        ];
        for e in &proof {
            assert!(proves_peer_closed(e), "{e:?}");
        }
        let no_proof = [
            io_error(ErrorKind::TimedOut),
            io_error(ErrorKind::Other),
            server(1317),
            server(1062),
            server(1290),
            mysql_async::Error::Driver(DriverError::ConnectionClosed),
            mysql_async::Error::Driver(DriverError::MixedParams),
        ];
        for e in &no_proof {
            assert!(!proves_peer_closed(e), "{e:?}");
        }
    }

    fn server_error(code: u16, message: &str) -> mysql_async::ServerError {
        mysql_async::ServerError {
            code,
            message: message.into(),
            state: "HY000".into(),
        }
    }

    #[test]
    fn read_only_refusals_are_told_from_other_1290s_and_own_read_only_transactions() {
        let ro = server_error(
            1290,
            "The MariaDB server is running with the --read-only option so it cannot execute this statement",
        );
        let ro8 = server_error(
            1290,
            "The MySQL server is running with the --super-read-only option so it cannot execute this statement",
        );
        let file_priv = server_error(
            1290,
            "The MariaDB server is running with the --secure-file-priv option so it cannot execute this statement",
        );
        assert!(is_read_only(&ro, false));
        assert!(is_read_only(&ro8, false));
        assert!(!is_read_only(&file_priv, false));
        let tx = server_error(1792, "Cannot execute statement in a READ ONLY transaction");
        assert!(is_read_only(&tx, false));
        assert!(!is_read_only(&tx, true));
        assert!(is_read_only(
            &server_error(1836, "Running in read-only mode"),
            false
        ));
        assert!(!is_read_only(&server_error(1062, "Duplicate entry"), false));
    }

    #[test]
    fn server_answers_are_returned_as_they_are() {
        // Duplicate key, deadlock, syntax, too many connections.
        for code in [1062, 1213, 1064, 1040] {
            assert_eq!(classify(&server(code)), Class::Server, "code {code}");
        }
        let conversion = mysql_async::Error::Driver(DriverError::MixedParams);
        assert_eq!(classify(&conversion), Class::Client);
    }
}
