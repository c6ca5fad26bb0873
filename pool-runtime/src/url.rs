//! A database URL that never prints its password.

use std::fmt;

use mysql_async::Opts;

/// A `mysql://user:password@host:port/db?params` URL, parsed and checked.
///
/// Its `Debug` and `Display` show everything but the password, which becomes
/// `***`, so the URL can sit in configs, logs and error reports safely.
///
/// ```
/// use pool_runtime::DatabaseUrl;
///
/// let url = DatabaseUrl::parse("mysql://app:hunter2@db.internal:3306/shop").unwrap();
/// assert_eq!(url.to_string(), "mysql://app:***@db.internal:3306/shop");
/// assert!(!format!("{url:?}").contains("hunter2"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    redacted: String,
}

/// Why a database URL was refused. Never contains the URL's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid database URL `{redacted}`: {reason}")]
pub struct UrlError {
    redacted: String,
    reason: String,
}

impl DatabaseUrl {
    /// Parses and checks a URL the way the driver will read it.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        let redacted = redact(raw);
        // The driver's message may quote parameter values, never the password.
        Opts::from_url(raw).map_err(|e| UrlError {
            redacted: redacted.clone(),
            reason: e.to_string(),
        })?;
        Ok(DatabaseUrl {
            raw: raw.to_owned(),
            redacted,
        })
    }

    /// The full URL, password included: hand it to the driver, never to a log.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The driver options this URL describes.
    pub fn opts(&self) -> Opts {
        // Checked in `parse`; a failure here would mean the driver changed
        // its mind about the same string, so fall back to a redacted default.
        Opts::from_url(&self.raw).unwrap_or_default()
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

/// Replaces the password of `scheme://user:password@host...` with `***`.
///
/// Works on the text, not a parse, so that even a URL the driver rejects is
/// printed without its secret. The userinfo ends at the last `@` of the
/// whole text: a password that is not percent-encoded may contain `@`, and
/// also `/`, `?` or `#`, which the driver then reads as the start of the
/// path, query or fragment and rejects the URL; its error must still not
/// show the password. (An `@` in the query, rare, hides a little more than
/// the password: never less.)
pub(crate) fn redact(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://").map(|i| i + 3) else {
        // Not a URL at all: it might be a bare secret. Show nothing of it.
        return "<not a URL>".to_owned();
    };
    let rest = &raw[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return raw.to_owned();
    };
    let userinfo = &rest[..at];
    let user = match userinfo.find(':') {
        Some(colon) => format!("{}:***", &userinfo[..colon]),
        None => userinfo.to_owned(),
    };
    format!("{}{}{}", &raw[..scheme_end], user, &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_replaced_in_every_shape_of_url() {
        let cases = [
            ("mysql://u:secret@h:1/db", "mysql://u:***@h:1/db"),
            ("mysql://u:secret@h", "mysql://u:***@h"),
            ("mysql://u:se@cr@et@h/db?x=1", "mysql://u:***@h/db?x=1"),
            ("mysql://u:s%40c@h/db", "mysql://u:***@h/db"),
            ("mysql://u@h/db", "mysql://u@h/db"),
            ("mysql://h:3306/db", "mysql://h:3306/db"),
            // Unencoded delimiters in the password: the driver rejects these.
            ("mysql://u:pa/ss@h/db", "mysql://u:***@h/db"),
            ("mysql://u:p?ss@h/db", "mysql://u:***@h/db"),
            ("mysql://u:p#ss@h/db", "mysql://u:***@h/db"),
            ("mysql://u:p@ss/wo@rd@h:1/db", "mysql://u:***@h:1/db"),
            ("secret-without-scheme", "<not a URL>"),
        ];
        for (raw, expected) in cases {
            assert_eq!(redact(raw), expected, "for {raw}");
        }
    }

    #[test]
    fn a_rejected_url_does_not_leak_its_password_in_the_error() {
        let err = DatabaseUrl::parse("mysql://u:topsecret@h/db?prefer_socket=maybe").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("topsecret"), "{text}");
        assert!(text.contains("prefer_socket"), "{text}");
    }

    #[test]
    fn a_password_the_driver_reads_as_a_path_does_not_leak_in_the_error() {
        for raw in [
            "mysql://u:top/secret@h:3306/db",
            "mysql://u:top?secret@h:3306/db",
            "mysql://u:top#secret@h:3306/db",
        ] {
            let err = DatabaseUrl::parse(raw).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains("top") && !text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_password_but_expose_keeps_it() {
        let url = DatabaseUrl::parse("mysql://u:topsecret@h:3306/db").unwrap();
        assert!(!format!("{url} {url:?}").contains("topsecret"));
        assert_eq!(url.expose(), "mysql://u:topsecret@h:3306/db");
        assert_eq!(url.opts().pass(), Some("topsecret"));
    }
}
