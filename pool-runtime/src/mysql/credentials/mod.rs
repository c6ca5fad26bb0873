//! Credentials asked for at every physical connect, never fixed at start
//! (the types are in the leaf module `crate::credentials`).
//!
//! A pool whose password is fixed at start fails every new connection
//! after the first rotation (an RDS IAM token lives 15 minutes; Vault and
//! Kubernetes rotate secrets under a running service). Here the password
//! comes from one of:
//!
//! - the URL (fixed, as before);
//! - `password_file`: read at every connect, one trailing newline trimmed
//!   ([`file`]);
//! - a [`CredentialSource`] given to
//!   [`PoolBuilder::credentials`](crate::PoolBuilder::credentials): cached
//!   until shortly before its expiry, fetched by one task at a time within
//!   `connect_timeout` ([`cache`]).
//!
//! A connect refused with error 1045 fetches once more and retries if the
//! answer changed; a second refusal is [`CredentialError::AccessDenied`]
//! naming the source, and connects with the refused answer fail at once
//! for 1 s, then 2 s, ... up to 60 s, so a wrong password neither hammers
//! the server nor locks the account. The password in two places is refused
//! at boot ([`plan`]); so is `mysql_clear_password` without verified TLS.

mod cache;
pub(crate) mod connect;
pub(crate) mod file;
mod plan;

pub(crate) use crate::credentials::{CredentialError, CredentialSource, Credentials, SharedSource};
pub(crate) use cache::{CredentialCache, Issued, Provider};
pub(crate) use plan::{cleartext, describe, resolve};
