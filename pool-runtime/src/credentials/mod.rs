//! The vocabulary of credentials: what a source returns, the trait custom
//! sources implement, the secret type, and the errors. A leaf module: the
//! MySQL side (`mysql/credentials/`: the cache, `password_file`, the
//! connect with a refresh on access denied) and the boot errors both use
//! it without importing each other.

mod cleartext;
mod error;
pub(crate) mod password_file;
mod secret;
mod source;

pub use cleartext::CleartextWithoutTls;
pub use error::CredentialError;
pub use secret::Secret;
pub use source::{CredentialSource, Credentials, FetchError};
pub(crate) use source::{DynSource, SharedSource};
