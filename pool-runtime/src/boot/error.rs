use std::time::Duration;

use crate::pool::PoolError;
use crate::url::DatabaseUrl;

/// Why a pool did not start. Names the server and user, never the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// No URL was configured.
    #[error("no database URL configured: set `url` (e.g. mysql://user:password@host:3306/db)")]
    MissingUrl,

    /// The first connection could not be opened.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: DatabaseUrl,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// The first connection did not open within `connect_timeout`.
    #[error(
        "connecting to {url} took longer than {after:?} (connect_timeout): is the server up and reachable from here?"
    )]
    ConnectTimeout {
        /// The URL, password redacted.
        url: DatabaseUrl,
        /// The timeout that expired.
        after: Duration,
    },

    /// The pool could not be created.
    #[error("cannot start the pool for {url}: {message}")]
    Pool {
        /// The URL, password redacted.
        url: DatabaseUrl,
        /// What went wrong.
        message: String,
    },
}

impl BootError {
    pub(crate) fn from_acquire(url: &DatabaseUrl, error: PoolError<mysql_async::Error>) -> Self {
        let url = url.clone();
        match error {
            PoolError::Connect(source) => BootError::Connect { url, source },
            PoolError::ConnectTimeout(after) => BootError::ConnectTimeout { url, after },
            other => BootError::Pool {
                url,
                message: other.to_string(),
            },
        }
    }
}
