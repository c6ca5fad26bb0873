//! `password_file`: the password read from a file at every connect.

use std::path::{Path, PathBuf};

use super::{CredentialError, Credentials, Secret};
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

pub(crate) enum Problem {
    Empty,
    Unreadable(String),
}

/// The password in `path`, one trailing newline (`\n` or `\r\n`) trimmed.
/// Errors say what is wrong with the file, never what is in it.
pub(crate) fn read_password(path: &Path) -> Result<Secret, Problem> {
    if path.is_dir() {
        return Err(Problem::Unreadable(
            "it is a directory: point password_file at the file inside it".into(),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Problem::Unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file: create it, or fix the path".into(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied: let this process's user read it".into()
            }
            kind => format!("{kind}"),
        })
    })?;
    let text =
        String::from_utf8(bytes).map_err(|_| Problem::Unreadable("it is not UTF-8 text".into()))?;
    let password = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if password.is_empty() {
        return Err(Problem::Empty);
    }
    Ok(Secret::new(password))
}

/// The config loader's check of a `password_file` value (same words as at
/// connect).
pub(crate) fn check(path: &Path) -> Result<(), String> {
    match read_password(path) {
        Ok(_) => Ok(()),
        Err(Problem::Empty) => Err(format!(
            "`{}` is empty: write the password into it (one trailing newline is trimmed)",
            path.display()
        )),
        Err(Problem::Unreadable(problem)) => {
            Err(format!("cannot read `{}`: {problem}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(contents: &[u8]) -> Result<String, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, contents).unwrap();
        match read_password(&path) {
            Ok(s) => Ok(s.expose().to_owned()),
            Err(Problem::Empty) => Err("empty".into()),
            Err(Problem::Unreadable(p)) => Err(p),
        }
    }

    #[test]
    fn one_trailing_newline_is_trimmed_and_nothing_else() {
        assert_eq!(read(b"p1\n").unwrap(), "p1");
        assert_eq!(read(b"p1\r\n").unwrap(), "p1");
        assert_eq!(read(b"p1").unwrap(), "p1");
        assert_eq!(read(b" p1 \n\n").unwrap(), " p1 \n");
        assert_eq!(read(b"\n").unwrap_err(), "empty");
        assert_eq!(read(b"").unwrap_err(), "empty");
        assert!(read(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn a_directory_or_a_missing_file_is_named_without_contents() {
        let dir = tempfile::tempdir().unwrap();
        let Err(Problem::Unreadable(p)) = read_password(dir.path()) else {
            panic!("a directory is no password file");
        };
        assert!(p.contains("directory"), "{p}");
        let e = check(&dir.path().join("missing")).unwrap_err();
        assert!(e.contains("missing") && e.contains("no such file"), "{e}");
    }
}
