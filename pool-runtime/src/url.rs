//! A database URL that never prints its password.

use std::fmt;

use std::path::PathBuf;

use mysql_async::Opts;

use pool_settings::SslMode;

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
    /// The URL the driver reads: without the TLS parameters, which the pool
    /// reads itself.
    driver: String,
    tls: UrlTls,
}

/// The URL's TLS parameters (`ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key`,
/// as sqlx and the mysql client spell them; `_` works for `-`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UrlTls {
    pub(crate) mode: Option<SslMode>,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

/// mysql_async's own TLS parameters: refused, so that every parameter the
/// pool accepts is one it honours (and a build without TLS cannot panic in
/// the driver).
const DRIVER_TLS_PARAMS: &[&str] = &[
    "require_ssl",
    "verify_ca",
    "verify_identity",
    "built_in_roots",
];

/// Takes the TLS parameters out of `raw`: the URL for the driver, and them.
fn split_tls(raw: &str, redacted: &str) -> Result<(String, UrlTls), UrlError> {
    let fail = |reason: String| UrlError {
        redacted: redacted.to_owned(),
        reason,
    };
    // The query starts at the first `?` after the userinfo (a password may
    // hold an unencoded `?`).
    let after = raw.find("://").map_or(0, |i| i + 3);
    let host_start = raw[after..].rfind('@').map_or(after, |at| after + at + 1);
    let Some(q) = raw[host_start..].find('?').map(|i| host_start + i) else {
        return Ok((raw.to_owned(), UrlTls::default()));
    };
    let (base, query) = (&raw[..q], &raw[q + 1..]);
    let mut tls = UrlTls::default();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode(value);
        let path = || -> Result<Option<PathBuf>, UrlError> {
            if value.is_empty() {
                return Err(fail(format!("`{key}` needs a file path")));
            }
            Ok(Some(PathBuf::from(&value)))
        };
        match key.to_ascii_lowercase().replace('_', "-").as_str() {
            "ssl-mode" | "sslmode" => {
                let mode = SslMode::from_word(&value).ok_or_else(|| {
                    let word = value.to_ascii_lowercase().replace('-', "_");
                    let hint = pool_settings::words::did_you_mean(&word, SslMode::WORDS)
                        .map(|w| format!("; did you mean `{}`?", w.to_ascii_uppercase()))
                        .unwrap_or_default();
                    fail(format!(
                        "ssl-mode={value} is not a TLS mode (DISABLED, PREFERRED, REQUIRED, \
                         VERIFY_CA or VERIFY_IDENTITY){hint}"
                    ))
                })?;
                tls.mode = Some(mode);
            }
            "ssl-ca" => tls.ca = path()?,
            "ssl-cert" => tls.cert = path()?,
            "ssl-key" => tls.key = path()?,
            _ if DRIVER_TLS_PARAMS.contains(&key) => {
                return Err(fail(format!(
                    "`{key}` is mysql_async's spelling, which this pool does not read: write \
                     ssl-mode=REQUIRED, VERIFY_CA or VERIFY_IDENTITY (and ssl-ca=FILE) instead"
                )));
            }
            _ => kept.push(pair),
        }
    }
    let driver = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((driver, tls))
}

/// `%2F` to `/`; a malformed escape stays as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() && text.is_char_boundary(i + 3) {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        let (driver, tls) = split_tls(raw, &redacted)?;
        // The driver's message may quote parameter values, never the password.
        Opts::from_url(&driver).map_err(|e| UrlError {
            redacted: redacted.clone(),
            reason: e.to_string(),
        })?;
        Ok(DatabaseUrl {
            raw: raw.to_owned(),
            redacted,
            driver,
            tls,
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
        Opts::from_url(&self.driver).unwrap_or_default()
    }

    /// The URL's TLS parameters.
    pub(crate) fn tls(&self) -> &UrlTls {
        &self.tls
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
    fn tls_parameters_are_read_by_the_pool_not_the_driver() {
        let url = DatabaseUrl::parse(
            "mysql://u:p@db.example.com/x?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fdb%2Fca.pem&ssl_cert=/c.pem&ssl-key=/k.pem&prefer_socket=false",
        )
        .unwrap();
        let tls = url.tls();
        assert_eq!(tls.mode, Some(SslMode::VerifyIdentity));
        assert_eq!(
            tls.ca.as_deref(),
            Some(std::path::Path::new("/etc/db/ca.pem"))
        );
        assert_eq!(tls.cert.as_deref(), Some(std::path::Path::new("/c.pem")));
        assert_eq!(tls.key.as_deref(), Some(std::path::Path::new("/k.pem")));
        assert_eq!(url.opts().ssl_opts(), None);
        for mode in [
            "disabled",
            "Preferred",
            "REQUIRED",
            "verify_ca",
            "verify-identity",
        ] {
            let url = DatabaseUrl::parse(&format!("mysql://h/x?ssl-mode={mode}")).unwrap();
            assert!(url.tls().mode.is_some(), "{mode}");
        }
    }

    #[test]
    fn an_unknown_ssl_mode_is_refused_with_a_suggestion() {
        let err = DatabaseUrl::parse("mysql://u:secret@h/x?ssl-mode=VERIFY_IDENTIY").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("VERIFY_IDENTITY"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn the_drivers_own_tls_spellings_are_refused_never_passed_on() {
        for param in [
            "require_ssl=true",
            "verify_ca=false",
            "verify_identity=false",
            "built_in_roots=false",
        ] {
            let err = DatabaseUrl::parse(&format!("mysql://u:secret@h/x?{param}")).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("ssl-mode="), "{param}: {text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn a_question_mark_in_the_password_is_not_the_query() {
        let url = DatabaseUrl::parse("mysql://u:p%3Fss@h/x?ssl-mode=required").unwrap();
        assert_eq!(url.tls().mode, Some(SslMode::Required));
        assert_eq!(url.opts().pass(), Some("p?ss"));
    }

    #[test]
    fn debug_and_display_hide_the_password_but_expose_keeps_it() {
        let url = DatabaseUrl::parse("mysql://u:topsecret@h:3306/db").unwrap();
        assert!(!format!("{url} {url:?}").contains("topsecret"));
        assert_eq!(url.expose(), "mysql://u:topsecret@h:3306/db");
        assert_eq!(url.opts().pass(), Some("topsecret"));
    }
}
