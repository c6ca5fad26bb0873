//! The TLS material of a test server started with
//! [`TestServerBuilder::tls`](super::TestServerBuilder::tls): a private CA,
//! a server certificate it signed, a client identity it signed, and an
//! unrelated CA for "untrusted" tests, all made at start (rcgen, `ring`
//! backend) and written as PEM files into the server's own directory, so
//! they go away with it. Nothing is checked into the repository.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

use crate::testkit::TestkitError;

/// The name the server certificate is made for (with `127.0.0.1`).
const SERVER_NAME: &str = "localhost";
/// How far before "now" every certificate's validity starts: a small clock
/// difference between the test and the server never makes a fresh
/// certificate "not yet valid".
const BACKDATE: Duration = Duration::from_secs(3600);
/// The last second a certificate (and the `time` crate) can name:
/// 9999-12-31T23:59:59Z.
const LATEST: Duration = Duration::from_secs(253_402_300_799);
/// A server certificate's lifetime unless the test chooses one.
pub(super) const DEFAULT_VALID_FOR: Duration = Duration::from_secs(365 * 86400);

/// The TLS files of a test server, and the facts a test asserts on.
///
/// Every path is a PEM file inside the server's directory
/// ([`TestServer::dir`](super::TestServer::dir)), removed with it.
#[derive(Debug, Clone)]
pub struct TestTls {
    dir: PathBuf,
    ca: PathBuf,
    other_ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    not_after: SystemTime,
}

impl TestTls {
    /// The CA that signed the server certificate (and the client's): what a
    /// client must trust to verify the server.
    pub fn ca_path(&self) -> &Path {
        &self.ca
    }

    /// A CA that signed nothing the server uses: a client trusting only this
    /// one must refuse the server.
    pub fn other_ca_path(&self) -> &Path {
        &self.other_ca
    }

    /// The name the server certificate is valid for: `localhost`. Its
    /// subject alternative names are DNS `localhost` and IP `127.0.0.1`.
    pub fn server_name(&self) -> &str {
        SERVER_NAME
    }

    /// The server certificate (PEM), as the server presents it.
    pub fn server_cert_path(&self) -> &Path {
        &self.server_cert
    }

    /// A client certificate (PEM) signed by [`ca_path`](Self::ca_path),
    /// with the client-authentication purpose.
    pub fn client_cert_path(&self) -> &Path {
        &self.client_cert
    }

    /// The private key (PEM, PKCS#8) of [`client_cert_path`](Self::client_cert_path).
    pub fn client_key_path(&self) -> &Path {
        &self.client_key
    }

    /// When the server certificate expires, to the second (what the
    /// certificate holds): now plus
    /// [`tls_valid_for`](super::TestServerBuilder::tls_valid_for), one year
    /// by default.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// The directory holding these files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's command-line options that turn TLS on with these files.
    pub(super) fn server_args(&self) -> Vec<String> {
        vec![
            format!("--ssl-ca={}", self.ca.display()),
            format!("--ssl-cert={}", self.server_cert.display()),
            format!("--ssl-key={}", self.server_key.display()),
        ]
    }

    /// Makes the CAs and certificates and writes them into `dir` (created).
    /// The server certificate expires `valid_for` from now.
    pub(super) fn generate(dir: &Path, valid_for: Duration) -> Result<TestTls, TestkitError> {
        let now = SystemTime::now();
        let not_after = now
            .checked_add(valid_for)
            .and_then(whole_seconds)
            .filter(|t| *t <= UNIX_EPOCH + LATEST)
            .ok_or_else(|| TestkitError::TlsMaterial {
                what: "the server certificate's expiry".into(),
                reason: format!("now + {valid_for:?} is not a representable time"),
            })?;
        let not_before = now.checked_sub(BACKDATE).unwrap_or(UNIX_EPOCH);

        let ca = make_ca("pool-testkit CA", not_before)?;
        let other_ca = make_ca("pool-testkit unrelated CA", not_before)?;

        let server_key = key_pair("the server certificate")?;
        let mut server = leaf_params(
            "the server certificate",
            vec![SERVER_NAME.into(), "127.0.0.1".into()],
            "pool-testkit server",
            not_before,
        )?;
        server.not_after = not_after.into();
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server
            .signed_by(&server_key, &ca)
            .map_err(|e| material("the server certificate", e))?;

        let client_key = key_pair("the client certificate")?;
        let mut client = leaf_params(
            "the client certificate",
            Vec::new(),
            "pool-testkit client",
            not_before,
        )?;
        client.not_after = now.checked_add(DEFAULT_VALID_FOR).unwrap_or(now).into();
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client
            .signed_by(&client_key, &ca)
            .map_err(|e| material("the client certificate", e))?;

        std::fs::create_dir_all(dir)
            .map_err(|e| TestkitError::io(format!("creating {}", dir.display()), e))?;
        let tls = TestTls {
            dir: dir.to_path_buf(),
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            server_cert: dir.join("server-cert.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client-cert.pem"),
            client_key: dir.join("client-key.pem"),
            not_after,
        };
        write(&tls.ca, &ca.pem())?;
        write(&tls.other_ca, &other_ca.pem())?;
        write(&tls.server_cert, &server_cert.pem())?;
        write(&tls.server_key, &server_key.serialize_pem())?;
        write(&tls.client_cert, &client_cert.pem())?;
        write(&tls.client_key, &client_key.serialize_pem())?;
        Ok(tls)
    }
}

/// A self-signed CA valid from `not_before` for ten years.
fn make_ca(
    name: &str,
    not_before: SystemTime,
) -> Result<CertifiedIssuer<'static, KeyPair>, TestkitError> {
    let what = "the test CA";
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| material(what, e))?;
    params.distinguished_name = common_name(name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = not_before.into();
    // Outlives any server certificate a test can ask for.
    params.not_after = (UNIX_EPOCH + LATEST).into();
    CertifiedIssuer::self_signed(params, key_pair(what)?).map_err(|e| material(what, e))
}

/// The parameters of a certificate a CA signs: `sans`, subject `name`.
fn leaf_params(
    what: &str,
    sans: Vec<String>,
    name: &str,
    not_before: SystemTime,
) -> Result<CertificateParams, TestkitError> {
    let mut params = CertificateParams::new(sans).map_err(|e| material(what, e))?;
    params.distinguished_name = common_name(name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before.into();
    Ok(params)
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}

/// A fresh ECDSA P-256 key.
fn key_pair(what: &str) -> Result<KeyPair, TestkitError> {
    KeyPair::generate().map_err(|e| material(what, e))
}

fn material(what: &str, e: rcgen::Error) -> TestkitError {
    TestkitError::TlsMaterial {
        what: what.into(),
        reason: e.to_string(),
    }
}

/// `t` without its fraction of a second: a certificate holds whole seconds.
fn whole_seconds(t: SystemTime) -> Option<SystemTime> {
    let since = t.duration_since(UNIX_EPOCH).ok()?;
    UNIX_EPOCH.checked_add(Duration::from_secs(since.as_secs()))
}

fn write(path: &Path, pem: &str) -> Result<(), TestkitError> {
    std::fs::write(path, pem)
        .map_err(|e| TestkitError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_pem_and_the_expiry_is_whole_seconds() {
        let dir = tempfile::tempdir().unwrap();
        let valid_for = Duration::from_secs(3 * 86400);
        let before = SystemTime::now();
        let tls = TestTls::generate(&dir.path().join("tls"), valid_for).unwrap();
        for (path, kind) in [
            (tls.ca_path(), "CERTIFICATE"),
            (tls.other_ca_path(), "CERTIFICATE"),
            (tls.server_cert_path(), "CERTIFICATE"),
            (tls.client_cert_path(), "CERTIFICATE"),
            (tls.client_key_path(), "PRIVATE KEY"),
        ] {
            let text = std::fs::read_to_string(path).unwrap();
            assert!(
                text.starts_with(&format!("-----BEGIN {kind}-----")),
                "{}: {text}",
                path.display()
            );
        }
        assert_ne!(
            std::fs::read(tls.ca_path()).unwrap(),
            std::fs::read(tls.other_ca_path()).unwrap()
        );
        let expiry = tls.not_after().duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(expiry.subsec_nanos(), 0);
        let lower = whole_seconds(before + valid_for).unwrap();
        assert!(
            tls.not_after() >= lower,
            "{:?} < {lower:?}",
            tls.not_after()
        );
        assert!(tls.not_after() <= SystemTime::now() + valid_for);
    }

    #[test]
    fn an_unrepresentable_lifetime_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        for too_long in [Duration::MAX, Duration::from_secs(10_000 * 365 * 86400)] {
            let err = TestTls::generate(dir.path(), too_long).unwrap_err();
            assert!(matches!(err, TestkitError::TlsMaterial { .. }), "{err:?}");
        }
    }
}
