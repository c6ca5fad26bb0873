//! The trait for custom credential sources, and what they return.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use super::Secret;

/// A user name and password for one or more connects, with an optional
/// expiry (an RDS IAM token lives 15 minutes, a Vault lease its TTL).
///
/// `Debug` shows the user and the expiry, never the password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Credentials {
    /// The user name to log in as.
    pub user: String,
    /// The password or token.
    pub password: Secret,
    /// When the password stops working, if it does; the pool fetches new
    /// credentials shortly before (60 s, or a quarter of the lifetime when
    /// shorter). `None`: good until the server refuses it.
    pub expires_at: Option<SystemTime>,
}

impl Credentials {
    /// Credentials without an expiry.
    pub fn new(user: impl Into<String>, password: impl Into<Secret>) -> Self {
        Credentials {
            user: user.into(),
            password: password.into(),
            expires_at: None,
        }
    }

    /// The same, expiring at `at`.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// The same, expiring `lifetime` from now.
    pub fn valid_for(self, lifetime: Duration) -> Self {
        self.expires_at(SystemTime::now() + lifetime)
    }

    /// Same user and password (the expiry aside).
    pub(crate) fn same_login(&self, other: &Credentials) -> bool {
        self.user == other.user && self.password == other.password
    }
}

/// Why a [`CredentialSource`] could not answer: any error, boxed. Its text
/// is shown in the pool's errors, so it must not carry the secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(Box<dyn std::error::Error + Send + Sync>);

impl FetchError {
    /// Wraps an error (or a message: `FetchError::new("vault sealed")`).
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        FetchError(error.into())
    }
}

/// Where the pool gets the user name and password for each new connection:
/// a secrets manager, a token signer, a file of your own format.
///
/// The pool asks it when it has no credentials, or when the cached ones
/// are within a minute of their [`expires_at`](Credentials::expires_at);
/// concurrent connects share one fetch, which is bounded by
/// `connect_timeout`. After an access-denied error (1045) on a connect the
/// pool fetches once more and retries that connect if the answer differs;
/// if the server still refuses, connects fail with
/// [`CredentialError::AccessDenied`](super::CredentialError::AccessDenied)
/// naming [`name`](Self::name), and are held back (1 s doubling up to 60 s)
/// while the source keeps giving the refused answer.
///
/// ```
/// use pool_runtime::{CredentialSource, Credentials, FetchError};
/// use std::time::Duration;
///
/// struct Vault { role: String }
///
/// impl CredentialSource for Vault {
///     fn name(&self) -> &str { "vault database/creds" }
///     async fn fetch(&self) -> Result<Credentials, FetchError> {
///         // Ask Vault for a lease here; this one is made up.
///         let (user, password) = (format!("v-{}", self.role), "s3cr3t".to_owned());
///         Ok(Credentials::new(user, password).valid_for(Duration::from_secs(3600)))
///     }
/// }
/// ```
pub trait CredentialSource: Send + Sync + 'static {
    /// How errors and the boot report name this source; never a secret.
    fn name(&self) -> &str;

    /// Fresh credentials.
    fn fetch(&self) -> impl Future<Output = Result<Credentials, FetchError>> + Send;
}

/// A fetch as the cache awaits it.
pub(crate) type Fetching<'a> =
    Pin<Box<dyn Future<Output = Result<Credentials, FetchError>> + Send + 'a>>;

/// [`CredentialSource`] made object-safe, so the pool can hold any one.
pub(crate) trait DynSource: Send + Sync {
    fn name(&self) -> &str;
    fn fetch_boxed(&self) -> Fetching<'_>;
}

impl<T: CredentialSource> DynSource for T {
    fn name(&self) -> &str {
        CredentialSource::name(self)
    }

    fn fetch_boxed(&self) -> Fetching<'_> {
        Box::pin(self.fetch())
    }
}

/// A custom source as the builder keeps it: shared, and shown by its name.
#[derive(Clone)]
pub(crate) struct SharedSource(pub(crate) std::sync::Arc<dyn DynSource>);

impl std::fmt::Debug for SharedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CredentialSource")
            .field(&self.0.name())
            .finish()
    }
}
