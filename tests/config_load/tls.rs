//! The TLS settings: loaded from files and the environment into a derive
//! struct, and bad values refused with their key and source.

use std::path::PathBuf;

use figment::Jail;
use pool_runtime::{PoolConfig, SslMode};

use crate::helpers::*;

/// A service's config with the TLS settings as fields.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_TLS", file = "tls.yaml")]
pub(crate) struct WithTls {
    pub(crate) url: String,
    #[pool(default = "preferred")]
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_ca: Option<PathBuf>,
    pub(crate) tls_server_name: Option<String>,
}

/// A self-signed certificate (made with openssl; a public certificate, no key).
const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBeTCCAR+gAwIBAgIUXhyIvPq6t6ClWHj7ypYaDfx5Ca8wCgYIKoZIzj0EAwIw\nEjEQMA4GA1UEAwwHdGVzdC1jYTAeFw0yNjEyMDIwMDM4MTdaFw0zNjExMjkwMDM4\nMTdaMBIxEDAOBgNVBAMMB3Rlc3QtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\nAAQ2tgQh7yBU/JN4Rw+cebvBU+shGrnKu2eFh6MSqDv4nfFLFZzTrPDBdVdVduTN\nJnEJa8SgS9jFEgt7hoRXjh2Yo1MwUTAdBgNVHQ4EFgQUkj9PPtv4wsXXSw/+9hqg\nVCCp/i0wHwYDVR0jBBgwFoAUkj9PPtv4wsXXSw/+9hqgVCCp/i0wDwYDVR0TAQH/\nBAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA4Z/54UpPBEyF17/OS2DkLfN2Q9P7\nM9XbD4R6Y2BVuqQCIDJadmu1KIkvVARIDiBpuXCuhloSGgp7Xfiss//XtRHU\n-----END CERTIFICATE-----\n";

#[test]
fn tls_settings_load_from_the_file_and_the_environment() {
    Jail::expect_with(|jail| {
        jail.create_file("ca.pem", CERT)?;
        jail.create_file(
            "tls.yaml",
            &format!("url: {URL}\nssl_mode: VERIFY_IDENTITY\nssl_ca: ca.pem\n"),
        )?;
        jail.set_env("APP_TLS_TLS_SERVER_NAME", "db.internal");
        let cfg = expect_ok(WithTls::load());
        assert_eq!(cfg.ssl_mode, SslMode::VerifyIdentity);
        assert_eq!(cfg.ssl_ca, Some(PathBuf::from("ca.pem")));
        let options = cfg.options();
        assert_eq!(options.ssl_mode, SslMode::VerifyIdentity);
        assert_eq!(options.ssl_ca, Some(PathBuf::from("ca.pem")));
        assert_eq!(options.tls_server_name.as_deref(), Some("db.internal"));
        assert_eq!(
            cfg.sources().of("tls_server_name"),
            env("APP_TLS_TLS_SERVER_NAME")
        );
        Ok(())
    });
}

#[test]
fn an_unknown_mode_is_refused_with_a_suggestion() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "tls.yaml",
            &format!("url: {URL}\nssl_mode: verify_identiy\n"),
        )?;
        let err = expect_err(WithTls::load());
        assert_single_issue(
            &err,
            "ssl_mode",
            &file("tls.yaml", "ssl_mode"),
            "verify_identity",
        );
        Ok(())
    });
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_refused_naming_it() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "tls.yaml",
            &format!("url: {URL}\nssl_ca: /no/such/ca.pem\n"),
        )?;
        let err = expect_err(WithTls::load());
        assert_single_issue(
            &err,
            "ssl_ca",
            &file("tls.yaml", "ssl_ca"),
            "/no/such/ca.pem",
        );

        jail.create_file("empty.pem", "not a certificate\n")?;
        jail.create_file("tls.yaml", &format!("url: {URL}\n"))?;
        jail.set_env("APP_TLS_SSL_CA", "empty.pem");
        let err = expect_err(WithTls::load());
        assert_single_issue(&err, "ssl_ca", &env("APP_TLS_SSL_CA"), "no certificate");
        Ok(())
    });
}
