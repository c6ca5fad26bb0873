//! What can go wrong getting credentials, named by their source.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::FetchError;
use crate::source::Source;

/// Why a connect had no credentials, or had them refused. Names the file
/// (and the key that set it) or the source; never shows a password, a
/// token or a file's contents.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// `password_file` is missing, not a file, or cannot be read.
    #[error("password_file `{}` (from {origin}) cannot be read: {problem}", path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// Where the `password_file` setting came from.
        origin: Source,
        /// What is wrong, and what to do.
        problem: String,
    },

    /// `password_file` holds nothing (but a newline).
    #[error(
        "password_file `{}` (from {origin}) is empty: write the password into it (one trailing \
         newline is trimmed)",
        path.display()
    )]
    FileEmpty {
        /// The file.
        path: PathBuf,
        /// Where the `password_file` setting came from.
        origin: Source,
    },

    /// A custom source returned an error.
    #[error("credential source `{source_name}` failed: {cause}")]
    Fetch {
        /// The source's [`name`](super::CredentialSource::name).
        source_name: String,
        /// Its error.
        #[source]
        cause: Arc<FetchError>,
    },

    /// A custom source did not answer within `connect_timeout`.
    #[error("credential source `{source_name}` did not answer within {after:?} (connect_timeout)")]
    Timeout {
        /// The source's name.
        source_name: String,
        /// The bound that ran out.
        after: Duration,
    },

    /// The server refused the credentials, also after they were fetched
    /// fresh: connects with the same answer are held back for `retry_in`
    /// so that a wrong password neither hammers the server nor locks the
    /// account.
    #[error(
        "the server at {target} refused user `{user}` with the credentials from {from} (fetched \
         fresh and tried again): fix the password there or the account on the server; \
         connects with the same credentials are held back for {retry_in:?}"
    )]
    AccessDenied {
        /// Host, port and user of the URL (no password).
        target: String,
        /// The user name the source gave.
        user: String,
        /// The source: `password_file` with its path, or the source's name.
        from: String,
        /// How long connects with the refused credentials fail at once.
        retry_in: Duration,
        /// The server's message (it names user and host, never the password).
        server_said: String,
    },

    /// The password is set in two places.
    #[error("{first} and {second} both give the password: set it in one place")]
    Ambiguous {
        /// One place.
        first: String,
        /// The other.
        second: String,
    },
}

impl CredentialError {
    /// The error behind a failed connect, if it is about credentials.
    pub fn of(error: &mysql_async::Error) -> Option<&CredentialError> {
        match error {
            mysql_async::Error::Other(inner) => inner.downcast_ref::<CredentialError>(),
            _ => None,
        }
    }

    pub(crate) fn into_driver(self) -> mysql_async::Error {
        mysql_async::Error::Other(Box::new(self))
    }
}
