use std::time::Duration;

use super::facts::FactsError;
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
        "the server at {target} refuses new connections (too many connections): free some, or \
         raise max_connections (or the account's max_user_connections)"
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

    /// The server refused the connection with an error the variants above
    /// do not cover; its code and message are in the source.
    #[error("the server at {target} refused the connection (error {code})")]
    ServerRefused {
        /// Host, port and user (no password).
        target: String,
        /// The server's error code.
        code: u16,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// Opening the first connection failed on the client side (a protocol or
    /// TLS error, an option the server does not support).
    #[error("cannot open a connection to {target}")]
    ConnectFailed {
        /// Host, port and user (no password).
        target: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The server's limits could not be read on the first connection, so the
    /// config could not be judged: the pool fails closed.
    #[error("cannot judge the pool config against {target}")]
    FactsUnreadable {
        /// Host, port and user (no password).
        target: String,
        /// Which query failed, and how.
        #[source]
        source: FactsError,
    },

    /// A TLS setting cannot work (a file missing or holding the wrong
    /// thing, a key that is not the certificate's, a mode with nothing to
    /// verify against): names the key and where its value came from.
    #[error("the TLS settings cannot work: {0}")]
    TlsConfig(#[source] crate::tls::TlsConfigError),

    /// TLS to the server failed: the server offers none but `ssl_mode`
    /// requires it, its certificate is not trusted, not valid for the name
    /// checked, or expired. The message names the fix; the source chain
    /// holds the driver's words.
    #[error("{0}")]
    Tls(#[source] Box<crate::tls::TlsConnectError>),

    /// The server requires secure transport (`require_secure_transport =
    /// ON`) and `ssl_mode = disabled`: the boot rule
    /// [`Code::TlsDisabledButRequired`](crate::boot::Code::TlsDisabledButRequired).
    #[error(
        "[{code}] the server at {target} requires secure transport (require_secure_transport = \
         ON), but ssl_mode = disabled: set ssl_mode = verify_identity (with ssl_ca) or required"
    )]
    SecureTransportRequired {
        /// Host, port and user (no password).
        target: String,
        /// The rule's code.
        code: crate::boot::Code,
        /// The server's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The credentials could not be had (`password_file` missing, unreadable
    /// or empty; a custom source failing), were refused by the server, or
    /// the password is set in two places. Names the file and the key that
    /// set it, or the source; never the password.
    #[error("{0}")]
    Credentials(#[source] crate::credentials::CredentialError),

    /// `mysql_clear_password` is allowed but the TLS mode does not verify
    /// the server: the boot rule
    /// [`Code::CleartextPasswordWithoutTls`](crate::boot::Code::CleartextPasswordWithoutTls),
    /// refused before any password is sent.
    #[error("{0}")]
    CleartextWithoutTls(#[source] crate::credentials::CleartextWithoutTls),
    /// `warm_up` is set and the pool did not open `min_idle` connections
    /// within it; the pool was closed again.
    #[error(
        "the pool for {target} opened {opened} of min_idle {min_idle} connections within \
         warm_up ({within:?}){}: the server may refuse more sessions (max_user_connections, \
         max_connections) or be slow to accept them; lower min_idle, raise the server's limit, \
         or raise warm_up",
        last_error_text(.last_error.as_deref())
    )]
    WarmUp {
        /// Host, port and user (no password).
        target: String,
        /// The connections wanted open: `min_idle` (capped by `max_idle`
        /// and `max_open`).
        min_idle: u64,
        /// The connections open when time ran out.
        opened: u64,
        /// The `warm_up` deadline.
        within: Duration,
        /// The last connect error, sorted as a first connect's would be.
        #[source]
        last_error: Option<Box<BootError>>,
    },

    /// `connect()` was called outside a Tokio runtime.
    #[error(
        "the pool for {target} must be created inside a Tokio runtime: its maintenance task \
         runs there (create it from async code, or inside Runtime::block_on)"
    )]
    NoRuntime {
        /// Host, port and user (no password).
        target: String,
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

    /// The boot rule's code, when a rule refused the pool (in the report,
    /// or before it, as with secure transport).
    pub fn code(&self) -> Option<crate::boot::Code> {
        match self {
            BootError::SecureTransportRequired { code, .. } => Some(*code),
            BootError::CleartextWithoutTls(e) => Some(e.code),
            BootError::Rejected(report) => report
                .findings
                .iter()
                .find(|f| f.severity == crate::boot::Severity::Error)
                .map(|f| f.code),
            _ => None,
        }
    }
}

fn last_error_text(last: Option<&BootError>) -> String {
    last.map(|e| format!("; the last connect failed: {e}"))
        .unwrap_or_default()
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
pub(crate) fn from_connect(
    url: &DatabaseUrl,
    plaintext: bool,
    error: mysql_async::Error,
) -> BootError {
    let target = target(url);
    let opts = url.opts();
    let error = match error {
        mysql_async::Error::Other(inner) => match inner.downcast::<crate::tls::TlsConnectError>() {
            Ok(tls) => return BootError::Tls(tls),
            Err(inner) => {
                if let Some(config) = inner.downcast_ref::<crate::tls::TlsConfigError>() {
                    return BootError::TlsConfig(config.clone());
                }
                if let Some(e) = inner.downcast_ref::<crate::credentials::CredentialError>() {
                    return BootError::Credentials(e.clone());
                }
                mysql_async::Error::Other(inner)
            }
        },
        other => other,
    };
    if plaintext && is_secure_transport_refusal(&error) {
        return BootError::SecureTransportRequired {
            target,
            code: crate::boot::Code::TlsDisabledButRequired,
            source: error,
        };
    }
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
            // 1226: the account's own MAX_USER_CONNECTIONS is reached.
            1040 | 1203 | 1226 => BootError::TooManyConnections {
                target,
                source: error,
            },
            code => BootError::ServerRefused {
                target,
                code,
                source: error,
            },
        },
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => {
            let detail = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    "connection refused: is the server running and listening on that port?"
                        .to_owned()
                }
                std::io::ErrorKind::NotFound => "the host name does not resolve".to_owned(),
                std::io::ErrorKind::TimedOut => {
                    "the connection attempt timed out: is a firewall dropping it?".to_owned()
                }
                // The source carries the OS's words.
                kind => format!("an I/O error ({kind})"),
            };
            BootError::Unreachable {
                target,
                detail,
                source: error,
            }
        }
        _ => BootError::ConnectFailed {
            target,
            source: error,
        },
    }
}

/// The server's "insecure transport prohibited" refusal: MySQL's error
/// 3159, MariaDB's access-denied wording for `require_secure_transport`.
pub(crate) fn is_secure_transport_refusal(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Server(e) => {
            let message = e.message.to_ascii_lowercase();
            e.code == 3159
                || message.contains("secure transport")
                || message.contains("insecure transport")
                || message.contains("require_secure_transport")
        }
        _ => false,
    }
}
