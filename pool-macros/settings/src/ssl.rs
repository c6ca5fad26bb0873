//! `ssl_mode`'s values: MySQL's own `--ssl-mode`.

/// Whether and how the pool's connections use TLS, with MySQL's names and
/// meaning (`--ssl-mode`, sqlx's `ssl-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SslMode {
    /// Plaintext only.
    Disabled,
    /// TLS when the server offers it, plaintext otherwise; the certificate is
    /// not checked. With `ssl_ca` set, it means [`SslMode::VerifyIdentity`].
    Preferred,
    /// TLS or no connection; the certificate is not checked (encrypted, not
    /// authenticated).
    Required,
    /// TLS, and the server's certificate must chain to a trusted CA. (With
    /// mysql_async 0.37.1 and rustls 0.23.46 its name is checked too: the
    /// driver's name-skip no longer recognises rustls' error.)
    VerifyCa,
    /// TLS, a trusted certificate, and its name must match the host (or
    /// `tls_server_name`).
    VerifyIdentity,
}

impl SslMode {
    /// The words configs write, in the order of the variants.
    pub const WORDS: &'static [&'static str] = &[
        "disabled",
        "preferred",
        "required",
        "verify_ca",
        "verify_identity",
    ];

    /// The mode a config word names, in any case, with `-` or `_`
    /// (`VERIFY_IDENTITY`, `verify-ca`).
    pub fn from_word(word: &str) -> Option<SslMode> {
        match word.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "disabled" | "disable" => Some(SslMode::Disabled),
            "preferred" | "prefer" => Some(SslMode::Preferred),
            "required" | "require" => Some(SslMode::Required),
            "verify_ca" => Some(SslMode::VerifyCa),
            "verify_identity" | "verify_full" => Some(SslMode::VerifyIdentity),
            _ => None,
        }
    }

    /// The word configs write for it.
    pub fn as_word(self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify_ca",
            SslMode::VerifyIdentity => "verify_identity",
        }
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(self) -> bool {
        self >= SslMode::Required
    }

    /// Whether the server's certificate is checked against a CA.
    pub fn verifies(self) -> bool {
        self >= SslMode::VerifyCa
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_names_its_mode_in_any_spelling() {
        for word in SslMode::WORDS {
            let mode = SslMode::from_word(word).unwrap();
            assert_eq!(mode.as_word(), *word);
            assert_eq!(SslMode::from_word(&word.to_ascii_uppercase()), Some(mode));
            assert_eq!(SslMode::from_word(&word.replace('_', "-")), Some(mode));
        }
        assert_eq!(SslMode::from_word("verify_idenity"), None);
        assert!(SslMode::VerifyCa.verifies() && !SslMode::Required.verifies());
        assert!(SslMode::Required.requires_tls() && !SslMode::Preferred.requires_tls());
    }
}
