use std::time::Duration;

use super::report::Report;
use crate::url::DatabaseUrl;

/// Why a pool did not start. Names the server and user, never the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// No URL was configured.
    #[error("no database URL configured: set `url` (e.g. mysql://user:password@host:3306/db)")]
    MissingUrl,

    /// The database URL could not be parsed (from
    /// [`Pool::connect`](crate::Pool::connect)); the source says what is
    /// wrong with it. Neither shows the password.
    #[error("the database URL is not valid")]
    InvalidUrl(#[source] crate::url::UrlError),

    /// The config does not fit the server; the report says why and how to fix it.
    #[error("{0}")]
    Rejected(Box<Report>),

    /// Nothing answered at the server's address.
    #[error("cannot reach the database at {target}: {detail}")]
    Unreachable {
        /// Host, port and user (no password).
        target: String,
        /// What happened, in words.
        detail: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The server refused the user name or password.
    #[error(
        "the server at {target} refused the credentials of user `{user}`: check the user name \
         and password (the password is not shown) and that the account may connect from this host"
    )]
    AccessDenied {
        /// Host, port and user (no password).
        target: String,
        /// The user name.
        user: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The database in the URL does not exist.
    #[error(
        "the server at {target} has no database `{database}`: create it, or fix the URL's path"
    )]
    UnknownDatabase {
        /// Host, port and user (no password).
        target: String,
        /// The database name from the URL.
        database: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The server is at its connection limit already.
    #[error(
        "the server at {target} refuses new connections (too many connections): free some, or raise max_connections"
    )]
    TooManyConnections {
        /// Host, port and user (no password).
        target: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The first connection did not open within `connect_timeout`.
    #[error(
        "connecting to {target} took longer than {after:?} (connect_timeout): is the server up, \
         and reachable from here (firewall, DNS)?"
    )]
    ConnectTimeout {
        /// Host, port and user (no password).
        target: String,
        /// The timeout that expired.
        after: Duration,
    },

    /// Any other failure to connect, or to read the server's limits.
    #[error("cannot start the pool for {target}: {message}")]
    Other {
        /// Host, port and user (no password).
        target: String,
        /// What went wrong.
        message: String,
    },
}

impl BootError {
    /// The report, when the config was rejected.
    pub fn report(&self) -> Option<&Report> {
        match self {
            BootError::Rejected(report) => Some(report),
            _ => None,
        }
    }
}

/// `user@host:port/db`: who connects where, without the password.
pub(crate) fn target(url: &DatabaseUrl) -> String {
    let opts = url.opts();
    format!(
        "{}@{}:{}/{}",
        opts.user().unwrap_or(""),
        opts.ip_or_hostname(),
        opts.tcp_port(),
        opts.db_name().unwrap_or("")
    )
}

/// Sorts a failed first connect into the error a person can act on.
pub(crate) fn from_connect(url: &DatabaseUrl, error: mysql_async::Error) -> BootError {
    let target = target(url);
    let opts = url.opts();
    match &error {
        mysql_async::Error::Server(e) => match e.code {
            1045 | 1044 | 1698 => BootError::AccessDenied {
                target,
                user: opts.user().unwrap_or("").to_owned(),
                source: error,
            },
            1049 => BootError::UnknownDatabase {
                target,
                database: opts.db_name().unwrap_or("").to_owned(),
                source: error,
            },
            1040 | 1203 => BootError::TooManyConnections {
                target,
                source: error,
            },
            _ => BootError::Other {
                message: error.to_string(),
                target,
            },
        },
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
            let detail = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    "connection refused: is the server running and listening on that port?"
                        .to_owned()
                }
                std::io::ErrorKind::NotFound => "the host name does not resolve".to_owned(),
                _ => io.to_string(),
            };
            BootError::Unreachable {
                target,
                detail,
                source: error,
            }
        }
        _ => BootError::Other {
            message: error.to_string(),
            target,
        },
    }
}
