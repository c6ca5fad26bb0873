//! TLS to the server: the settings (and the URL's `ssl-*` parameters)
//! resolved into one plan, checked before the first connect, turned into
//! mysql_async's `SslOpts`, and TLS connect failures sorted into errors a
//! person can act on.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::options::{PoolOptions, SslMode};
use crate::source::{Source, Sources};
use crate::url::DatabaseUrl;

/// How the pool's connections use TLS, with every setting resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsPlan {
    /// The mode in force (`preferred` with a CA is `verify_identity`).
    pub(crate) mode: SslMode,
    /// The trusted CAs' file; `None` means the built-in webpki roots.
    pub(crate) ca: Option<PathBuf>,
    /// The client certificate and key files.
    pub(crate) identity: Option<(PathBuf, PathBuf)>,
    /// The name the certificate must carry, when not the host.
    pub(crate) server_name: Option<String>,
    /// The URL's host.
    pub(crate) host: String,
}

/// A TLS setting that cannot work, named with its key and where its value
/// came from. Never shows a file's contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} from {origin}: {problem}")]
pub struct TlsConfigError {
    /// The setting (or URL parameter) at fault.
    pub key: &'static str,
    /// Where its value came from.
    pub origin: Source,
    /// What is wrong, and what to do.
    pub problem: String,
}

/// The name a certificate was checked for, and where the CAs came from, for
/// connect errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) name: String,
    pub(crate) ca_source: String,
    pub(crate) mode: SslMode,
}

impl TlsPlan {
    /// Resolves the TLS settings of `options` and `url` (the URL's
    /// `ssl-mode`, `ssl-ca`, `ssl-cert` and `ssl-key` fill what the settings
    /// leave at their defaults; both set to different values is an error),
    /// and checks that they can work: files readable and holding what they
    /// should, the key matching the certificate, something to verify against.
    pub(crate) fn resolve(
        options: &PoolOptions,
        url: &DatabaseUrl,
        sources: Option<&Sources>,
    ) -> Result<TlsPlan, TlsConfigError> {
        let source_of = |key: &str| match sources {
            Some(s) => s.of(key),
            None => Source::Code,
        };
        let from_url = |key: &'static str| Source::Provider(format!("the URL's `{key}`"));
        let fail = |key: &'static str, origin: Source, problem: String| TlsConfigError {
            key,
            origin,
            problem,
        };
        let wanted = url.tls();

        let (mode, mode_source) = match (options.ssl_mode, wanted.mode) {
            (SslMode::Preferred, Some(m)) => (m, from_url("ssl-mode")),
            (m, Some(u)) if m != u => {
                return Err(fail(
                    "ssl_mode",
                    source_of("ssl_mode"),
                    format!("`{m}` here, but the URL says ssl-mode={u}: set it in one place"),
                ));
            }
            (m, _) => (m, source_of("ssl_mode")),
        };
        let path = |key: &'static str,
                    url_key: &'static str,
                    set: &Option<PathBuf>,
                    in_url: &Option<PathBuf>|
         -> Result<Option<(PathBuf, Source)>, TlsConfigError> {
            match (set, in_url) {
                (Some(a), Some(b)) if a != b => Err(fail(
                    key,
                    source_of(key),
                    format!(
                        "`{}` here, but the URL says {url_key}={}: set it in one place",
                        a.display(),
                        b.display()
                    ),
                )),
                (Some(a), _) => Ok(Some((a.clone(), source_of(key)))),
                (None, Some(b)) => Ok(Some((b.clone(), from_url(url_key)))),
                (None, None) => Ok(None),
            }
        };
        let ca = path("ssl_ca", "ssl-ca", &options.ssl_ca, &wanted.ca)?;
        let cert = path("ssl_cert", "ssl-cert", &options.ssl_cert, &wanted.cert)?;
        let key = path("ssl_key", "ssl-key", &options.ssl_key, &wanted.key)?;
        let server_name = options.tls_server_name.clone().filter(|s| !s.is_empty());
        let host = url.opts().ip_or_hostname().to_owned();

        // A CA given without a mode means: verify with it.
        let mode = if mode == SslMode::Preferred && ca.is_some() {
            SslMode::VerifyIdentity
        } else {
            mode
        };

        if !cfg!(feature = "tls") {
            let asks = if mode > SslMode::Preferred {
                Some(("ssl_mode", mode_source.clone()))
            } else if let Some((_, s)) = &ca {
                Some(("ssl_ca", s.clone()))
            } else if let Some((_, s)) = &cert {
                Some(("ssl_cert", s.clone()))
            } else if let Some((_, s)) = &key {
                Some(("ssl_key", s.clone()))
            } else {
                None
            };
            if let Some((key, source)) = asks {
                return Err(fail(
                    key,
                    source,
                    "asks for TLS, but this build of pool-runtime has no TLS support: \
                     enable its `tls` feature (on by default)"
                        .to_owned(),
                ));
            }
        }

        let identity = match (cert, key) {
            (Some((c, cs)), Some((k, ks))) => {
                check_identity(&c, cs, &k, ks)?;
                Some((c, k))
            }
            (Some((_, cs)), None) => {
                return Err(fail(
                    "ssl_cert",
                    cs,
                    "a client certificate needs its private key: set `ssl_key` too".to_owned(),
                ));
            }
            (None, Some((_, ks))) => {
                return Err(fail(
                    "ssl_key",
                    ks,
                    "a private key needs its certificate: set `ssl_cert` too".to_owned(),
                ));
            }
            (None, None) => None,
        };
        if let Some((path, source)) = &ca {
            if let Err(problem) = check_certificates(path) {
                return Err(fail("ssl_ca", source.clone(), problem));
            }
        }
        if mode.verifies()
            && ca.is_none()
            && is_private_host(server_name.as_deref().unwrap_or(&host))
        {
            return Err(fail(
                "ssl_mode",
                mode_source,
                format!(
                    "`{mode}` without `ssl_ca` trusts only the public webpki roots, which do not \
                     sign certificates for `{}`: nothing to verify against; set `ssl_ca` to the \
                     CA that signed the server's certificate",
                    server_name.as_deref().unwrap_or(&host)
                ),
            ));
        }
        Ok(TlsPlan {
            mode,
            ca: ca.map(|(p, _)| p),
            identity,
            server_name,
            host,
        })
    }

    /// Whether connects try TLS first.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn tries_tls(&self) -> bool {
        cfg!(feature = "tls") && self.mode != SslMode::Disabled
    }

    /// What a certificate is checked for, for errors.
    pub(crate) fn checked(&self) -> Checked {
        Checked {
            mode: self.mode,
            name: self
                .server_name
                .clone()
                .unwrap_or_else(|| self.host.clone()),
            ca_source: match &self.ca {
                Some(path) => format!("the CA file {} (ssl_ca)", path.display()),
                None => "the built-in webpki roots (no ssl_ca set)".to_owned(),
            },
        }
    }

    /// mysql_async's options for this plan; `None` for plaintext.
    #[cfg(feature = "tls")]
    pub(crate) fn ssl_opts(&self) -> Option<mysql_async::SslOpts> {
        use mysql_async::{ClientIdentity, SslOpts};
        if !self.tries_tls() {
            return None;
        }
        let mut opts = SslOpts::default()
            .with_danger_accept_invalid_certs(!self.mode.verifies())
            .with_danger_skip_domain_validation(self.mode != SslMode::VerifyIdentity)
            .with_danger_tls_hostname_override(self.server_name.clone());
        if let Some(ca) = &self.ca {
            opts = opts
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some((cert, key)) = &self.identity {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        Some(opts)
    }
}

/// Loopback, an IP literal or a single-label name: no public CA signs a
/// certificate for it.
fn is_private_host(host: &str) -> bool {
    host.parse::<std::net::IpAddr>().is_ok() || host == "localhost" || !host.contains('.')
}

/// Whether `host` is this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost"),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

/// The file holds at least one PEM certificate.
pub(crate) fn check_certificates(path: &Path) -> Result<(), String> {
    let data = read(path)?;
    #[cfg(feature = "tls")]
    {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(&data) {
            if cert.is_err() {
                return Err(format!(
                    "`{}` is not a valid PEM file of certificates",
                    path.display()
                ));
            }
            n += 1;
        }
        if n == 0 {
            return Err(format!(
                "`{}` holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)",
                path.display()
            ));
        }
    }
    let _ = data;
    Ok(())
}

/// The file holds a private key; says nothing of its contents.
pub(crate) fn check_private_key(path: &Path) -> Result<(), String> {
    let data = read(path)?;
    #[cfg(feature = "tls")]
    {
        use rustls_pki_types::PrivateKeyDer;
        use rustls_pki_types::pem::PemObject;
        if PrivateKeyDer::from_pem_slice(&data).is_err() {
            return Err(format!(
                "`{}` holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                path.display()
            ));
        }
    }
    let _ = data;
    Ok(())
}

/// Certificate and key files readable, and the key the certificate's.
fn check_identity(cert: &Path, cs: Source, key: &Path, ks: Source) -> Result<(), TlsConfigError> {
    let fail = |k: &'static str, origin: Source, problem: String| TlsConfigError {
        key: k,
        origin,
        problem,
    };
    check_certificates(cert).map_err(|p| fail("ssl_cert", cs.clone(), p))?;
    check_private_key(key).map_err(|p| fail("ssl_key", ks.clone(), p))?;
    #[cfg(feature = "tls")]
    {
        use rustls_pki_types::pem::PemObject;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|_| {
                fail(
                    "ssl_cert",
                    cs.clone(),
                    format!("cannot read `{}`", cert.display()),
                )
            })?
            .filter_map(Result::ok)
            .collect();
        let private = PrivateKeyDer::from_pem_file(key).map_err(|_| {
            fail(
                "ssl_key",
                ks.clone(),
                format!("cannot read `{}`", key.display()),
            )
        })?;
        let provider = rustls::crypto::ring::default_provider();
        match rustls::sign::CertifiedKey::from_der(chain, private, &provider) {
            Ok(_) => {}
            Err(rustls::Error::InconsistentKeys(_)) => {
                return Err(fail(
                    "ssl_key",
                    ks,
                    format!(
                        "the key in `{}` is not the key of the certificate in `{}`",
                        key.display(),
                        cert.display()
                    ),
                ));
            }
            Err(_) => {
                return Err(fail(
                    "ssl_key",
                    ks,
                    format!(
                        "the key in `{}` cannot be used (unsupported key type?)",
                        key.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Why a TLS connect failed, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) enum TlsFailure {
    /// The server does not offer TLS.
    NotOffered,
    /// The certificate does not chain to a trusted CA.
    Untrusted,
    /// The certificate is not valid for the name checked.
    NameMismatch,
    /// The certificate has expired (or is not yet valid).
    Expired,
    /// Another TLS failure: the words.
    Other(String),
}

/// Sorts a driver error into a TLS failure, if it is one.
pub(crate) fn classify(error: &mysql_async::Error) -> Option<TlsFailure> {
    use mysql_async::{DriverError, Error as E, IoError};
    match error {
        E::Driver(DriverError::NoClientSslFlagFromServer) => Some(TlsFailure::NotOffered),
        #[cfg(feature = "tls")]
        E::Io(IoError::Tls(tls)) => Some(from_tls(tls)),
        E::Io(IoError::Io(io)) => {
            #[cfg(feature = "tls")]
            if let Some(inner) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return Some(from_rustls(inner));
            }
            let _ = io;
            None
        }
        _ => None,
    }
}

#[cfg(feature = "tls")]
fn from_tls(tls: &mysql_async::TlsError) -> TlsFailure {
    match tls {
        mysql_async::TlsError::Tls(e) => from_rustls(e),
        other => TlsFailure::Other(other.to_string()),
    }
}

#[cfg(feature = "tls")]
fn from_rustls(e: &rustls::Error) -> TlsFailure {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => {
                TlsFailure::Untrusted
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::NameMismatch,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsFailure::Expired,
            other => TlsFailure::Other(format!("invalid certificate: {other}")),
        },
        other => TlsFailure::Other(other.to_string()),
    }
}

impl TlsFailure {
    /// The failure in words, with the fix.
    pub(crate) fn explain(&self, checked: &Checked) -> String {
        match self {
            TlsFailure::NotOffered => "ssl_mode requires TLS, but the server does not offer it: \
                 enable TLS on the server, or set ssl_mode = preferred (plaintext allowed)"
                .to_owned(),
            TlsFailure::Untrusted => format!(
                "the server's certificate is not signed by a trusted CA (trusted: {}): set \
                 ssl_ca to the CA that signed it",
                checked.ca_source
            ),
            TlsFailure::NameMismatch => format!(
                "the server's certificate is not valid for the name `{}`: connect by a name the \
                 certificate carries, or set tls_server_name to it{}",
                checked.name,
                if checked.mode == SslMode::VerifyCa {
                    " (with this mysql_async and rustls, verify_ca checks the name too)"
                } else {
                    ""
                }
            ),
            TlsFailure::Expired => "the server's certificate has expired (or is not valid yet): \
                 renew it on the server, and check this machine's clock"
                .to_owned(),
            TlsFailure::Other(words) => format!("the TLS handshake failed: {words}"),
        }
    }
}

impl fmt::Display for TlsPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssl_mode = {}", self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> PoolOptions {
        PoolOptions::from_url(url).unwrap()
    }

    #[test]
    fn the_default_prefers_tls_without_verifying() {
        let o = options("mysql://u:p@db.example.com/x");
        let plan = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap();
        assert_eq!(plan.mode, SslMode::Preferred);
        assert_eq!(plan.tries_tls(), cfg!(feature = "tls"));
    }

    #[test]
    fn the_url_sets_the_mode_in_any_case() {
        let o = options("mysql://u:p@db.example.com/x?ssl-mode=VERIFY_IDENTITY");
        let plan = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None);
        if cfg!(feature = "tls") {
            assert_eq!(plan.unwrap().mode, SslMode::VerifyIdentity);
        } else {
            let e = plan.unwrap_err();
            assert_eq!(e.key, "ssl_mode");
            assert!(e.to_string().contains("`tls` feature"), "{e}");
        }
    }

    #[test]
    fn a_mode_set_twice_differently_is_refused() {
        let mut o = options("mysql://u:p@db.example.com/x?ssl-mode=required");
        o.ssl_mode = SslMode::Disabled;
        let e = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap_err();
        assert_eq!(e.key, "ssl_mode");
        assert!(e.problem.contains("one place"), "{e}");
    }

    #[test]
    #[cfg(feature = "tls")]
    fn verifying_a_private_host_without_a_ca_is_refused() {
        let mut o = options("mysql://u:p@10.0.0.5/x");
        o.ssl_mode = SslMode::VerifyIdentity;
        let e = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap_err();
        assert_eq!((e.key, e.origin.clone()), ("ssl_mode", Source::Code));
        assert!(e.problem.contains("ssl_ca"), "{e}");
    }

    #[test]
    #[cfg(feature = "tls")]
    fn a_missing_ca_file_names_key_and_file() {
        let mut o = options("mysql://u:p@db.example.com/x");
        o.ssl_ca = Some("/no/such/ca.pem".into());
        let e = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap_err();
        assert_eq!(e.key, "ssl_ca");
        assert!(e.problem.contains("/no/such/ca.pem"), "{e}");
    }

    #[test]
    #[cfg(feature = "tls")]
    fn a_certificate_without_its_key_is_refused() {
        let mut o = options("mysql://u:p@db.example.com/x");
        o.ssl_cert = Some("/tmp/c.pem".into());
        let e = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap_err();
        assert_eq!(e.key, "ssl_cert");
        assert!(e.problem.contains("ssl_key"), "{e}");
    }

    #[test]
    #[cfg(not(feature = "tls"))]
    fn without_the_tls_feature_every_ask_for_tls_is_a_clear_error() {
        let asks: [fn(&mut PoolOptions); 4] = [
            |o| o.ssl_mode = SslMode::Required,
            |o| o.ssl_mode = SslMode::VerifyIdentity,
            |o| o.ssl_ca = Some("/etc/db/ca.pem".into()),
            |o| o.ssl_cert = Some("/etc/db/client.pem".into()),
        ];
        for ask in asks {
            let mut o = options("mysql://u:p@db.example.com/x");
            ask(&mut o);
            let e = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap_err();
            assert!(e.problem.contains("`tls` feature"), "{e}");
        }
        // The URL's spellings too, the driver's own ones refused at parse.
        let o = options("mysql://u:p@db.example.com/x?ssl-mode=REQUIRED");
        assert!(TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).is_err());
        assert!(PoolOptions::from_url("mysql://u:p@h/x?require_ssl=true").is_err());
        // `preferred` is plaintext there, not an error.
        let o = options("mysql://u:p@db.example.com/x");
        let plan = TlsPlan::resolve(&o, o.url.as_ref().unwrap(), None).unwrap();
        assert!(!plan.tries_tls());
    }

    #[test]
    fn a_ca_with_the_default_mode_means_verify_identity() {
        let mut o = options("mysql://u:p@db.example.com/x");
        assert_eq!(effective_mode(&o), SslMode::Preferred);
        o.ssl_ca = Some("/etc/db/ca.pem".into());
        assert_eq!(effective_mode(&o), SslMode::VerifyIdentity);
        o.ssl_mode = SslMode::Required;
        assert_eq!(
            effective_mode(&o),
            SslMode::Required,
            "an explicit mode stays"
        );
        let o = options("mysql://u:p@db.example.com/x?ssl-ca=/etc/db/ca.pem");
        assert_eq!(effective_mode(&o), SslMode::VerifyIdentity);
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(is_loopback("127.0.0.1") && is_loopback("localhost") && is_loopback("::1"));
        assert!(!is_loopback("db.example.com") && !is_loopback("10.0.0.5"));
    }

    #[test]
    fn driver_errors_are_sorted() {
        let e = mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer);
        assert_eq!(classify(&e), Some(TlsFailure::NotOffered));
        let e = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert_eq!(classify(&e), None);
    }
}

/// What went wrong with TLS at connect, for matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// `ssl_mode` requires TLS and the server does not offer it.
    NotOffered,
    /// The server's certificate is not signed by a trusted CA.
    Untrusted,
    /// The server's certificate is not valid for the name checked.
    NameMismatch,
    /// The server's certificate has expired or is not valid yet.
    Expired,
    /// Another handshake failure.
    Handshake,
}

/// A TLS connect failure: what happened, the fix, and the driver's error as
/// the source. Names the server and user, never the password.
#[derive(Debug, thiserror::Error)]
#[error("TLS to {target} failed: {explanation}")]
pub struct TlsConnectError {
    /// What went wrong.
    pub kind: TlsErrorKind,
    /// Host, port and user (no password).
    pub target: String,
    /// The failure in words, with the fix.
    pub explanation: String,
    /// The driver's (rustls') error.
    #[source]
    pub source: mysql_async::Error,
}

impl TlsConnectError {
    pub(crate) fn new(
        failure: TlsFailure,
        checked: &Checked,
        target: String,
        source: mysql_async::Error,
    ) -> Self {
        let kind = match failure {
            TlsFailure::NotOffered => TlsErrorKind::NotOffered,
            TlsFailure::Untrusted => TlsErrorKind::Untrusted,
            TlsFailure::NameMismatch => TlsErrorKind::NameMismatch,
            TlsFailure::Expired => TlsErrorKind::Expired,
            TlsFailure::Other(_) => TlsErrorKind::Handshake,
        };
        TlsConnectError {
            kind,
            target,
            explanation: failure.explain(checked),
            source,
        }
    }

    /// The TLS failure inside a driver error from the pool's manager.
    pub fn of(error: &mysql_async::Error) -> Option<&TlsConnectError> {
        match error {
            mysql_async::Error::Other(inner) => inner.downcast_ref::<TlsConnectError>(),
            _ => None,
        }
    }
}

/// The mode in force for `options`, as [`TlsPlan::resolve`] works it out
/// (without checking files): for the boot rules.
pub(crate) fn effective_mode(options: &PoolOptions) -> SslMode {
    let url = options.url.as_ref().map(DatabaseUrl::tls);
    let mode = match (options.ssl_mode, url.and_then(|u| u.mode)) {
        (SslMode::Preferred, Some(m)) => m,
        (m, _) => m,
    };
    let ca = options.ssl_ca.is_some() || url.is_some_and(|u| u.ca.is_some());
    if mode == SslMode::Preferred && ca {
        SslMode::VerifyIdentity
    } else {
        mode
    }
}
