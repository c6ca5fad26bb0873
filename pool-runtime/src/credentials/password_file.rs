//! Reading a password file: one trailing newline trimmed, and errors that
//! say what is wrong with the file, never what is in it. Used at every
//! connect (`mysql/credentials/file.rs`) and by the config loader.

use std::path::Path;

use super::Secret;

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
