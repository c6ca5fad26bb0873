//! `password_file`: the password read from a file at every connect.

use std::path::PathBuf;

use super::{CredentialError, Credentials};
use crate::credentials::password_file::{Problem, read_password};
use crate::source::Source;

/// The password in a file (a Kubernetes secret, a Vault-agent sink), the
/// user from the URL. Read at every connect: a rotated file is picked up by
/// the next connection, with no restart.
#[derive(Debug, Clone)]
pub(crate) struct PasswordFile {
    pub(crate) path: PathBuf,
    /// Where the `password_file` setting came from.
    pub(crate) origin: Source,
    pub(crate) user: String,
}

impl PasswordFile {
    /// Reads the file. A secret file is a few bytes on a local (often
    /// in-memory) file system, so a plain read is cheaper than a hop to a
    /// blocking thread.
    pub(crate) fn read(&self) -> Result<Credentials, CredentialError> {
        match read_password(&self.path) {
            Ok(password) => Ok(Credentials::new(self.user.clone(), password)),
            Err(Problem::Empty) => Err(CredentialError::FileEmpty {
                path: self.path.clone(),
                origin: self.origin.clone(),
            }),
            Err(Problem::Unreadable(problem)) => Err(CredentialError::FileUnreadable {
                path: self.path.clone(),
                origin: self.origin.clone(),
                problem,
            }),
        }
    }

    /// How errors and the boot report name it.
    pub(crate) fn describe(&self) -> String {
        format!(
            "password_file `{}` (from {})",
            self.path.display(),
            self.origin
        )
    }
}
