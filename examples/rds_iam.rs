//! Amazon RDS IAM authentication: a custom credential source that makes a
//! fresh auth token for new connections, so a pool outlives every token.
//!
//! ```text
//! RDS_URL=mysql://app_iam@mydb.abc123.eu-west-1.rds.amazonaws.com:3306/shop \
//! RDS_CA=/etc/ssl/rds/global-bundle.pem \
//!   cargo run --example rds_iam
//! ```
//!
//! Compiled in CI, not run there: it needs an RDS instance, AWS credentials
//! and a signer (below). What RDS IAM authentication needs, and where each
//! piece is:
//!
//! - **A database user for IAM**: `CREATE USER app_iam IDENTIFIED WITH
//!   AWSAuthenticationPlugin AS 'RDS'` (MySQL) and IAM authentication
//!   enabled on the instance.
//! - **An IAM policy** for the service's role allowing `rds-db:connect` on
//!   `arn:aws:rds-db:REGION:ACCOUNT:dbuser:DB_RESOURCE_ID/app_iam`.
//! - **The cleartext plugin**: the token travels through
//!   `mysql_clear_password`, so `allow_cleartext_password = true`.
//! - **Verified TLS**: the pool refuses the cleartext plugin at boot unless
//!   `ssl_mode` is `verify_identity` or `verify_ca`
//!   (rule `cleartext_password_without_tls`); `ssl_ca` is the RDS CA bundle.
//! - **A token**: a SigV4-presigned request for the service `rds-db`, for
//!   `{host}:{port}/?Action=connect&DBUser={user}`, valid 15 minutes, written
//!   without its `https://` scheme. Signing it is [`TokenSigner`]'s job: fill
//!   it in with the AWS SDK's RDS auth-token helper or a SigV4 presigner
//!   (e.g. the `aws-sigv4` crate) and the role's credentials. This example
//!   does not pull the AWS SDK into the workspace, and signs nothing itself.
//!
//! The pool caches the token until a minute before it expires, fetches a
//! new one for the next connect after that (one fetch, however many
//! connects wait for it), and fetches once more if the server refuses one.
//! Open connections stay logged in when their token expires.

use std::future::Future;
use std::process::ExitCode;
use std::time::Duration;

use pool_runtime::{CredentialSource, Credentials, FetchError, Pool, PoolOptions, Secret, SslMode};

/// How long an RDS IAM token is accepted for new logins.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Makes an RDS IAM auth token: a SigV4-presigned `connect` request for
/// `user` at `host:port`, without its scheme. Fill it in with your AWS
/// SDK's signer and the role's credentials.
pub trait TokenSigner: Send + Sync + 'static {
    /// A token for one login (it may be reused until it expires).
    fn sign(
        &self,
        host: &str,
        port: u16,
        user: &str,
    ) -> impl Future<Output = Result<Secret, FetchError>> + Send;
}

/// The credential source: a token from the signer, valid 15 minutes.
pub struct RdsIamSource<S> {
    signer: S,
    host: String,
    port: u16,
    user: String,
    name: String,
}

impl<S: TokenSigner> RdsIamSource<S> {
    /// A source for `user` at `host:port` (the instance's endpoint, as in
    /// the URL: the token is signed for that name).
    pub fn new(signer: S, host: &str, port: u16, user: &str) -> Self {
        RdsIamSource {
            signer,
            host: host.to_owned(),
            port,
            user: user.to_owned(),
            name: format!("rds-iam {user}@{host}:{port}"),
        }
    }
}

impl<S: TokenSigner> CredentialSource for RdsIamSource<S> {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(&self) -> Result<Credentials, FetchError> {
        let token = self.signer.sign(&self.host, self.port, &self.user).await?;
        Ok(Credentials::new(self.user.clone(), token).valid_for(TOKEN_LIFETIME))
    }
}

/// The signer to replace: it refuses, saying so, so that nothing here
/// pretends to be an AWS call.
struct FillMeIn;

impl TokenSigner for FillMeIn {
    async fn sign(&self, host: &str, port: u16, user: &str) -> Result<Secret, FetchError> {
        Err(FetchError::new(format!(
            "no signer: presign `{host}:{port}/?Action=connect&DBUser={user}` for service \
             rds-db with SigV4 here (examples/rds_iam.rs, TokenSigner)"
        )))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(url), Ok(ca)) = (std::env::var("RDS_URL"), std::env::var("RDS_CA")) else {
        eprintln!("set RDS_URL (mysql://user@endpoint:3306/db, no password) and RDS_CA");
        return ExitCode::from(2);
    };
    let mut options = match PoolOptions::from_url(&url) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    options.ssl_mode = SslMode::VerifyIdentity;
    options.ssl_ca = Some(ca.into());
    options.allow_cleartext_password = true;
    let opts = options.url.as_ref().map(|u| u.opts()).expect("set above");
    let source = RdsIamSource::new(
        FillMeIn,
        opts.ip_or_hostname(),
        opts.tcp_port(),
        opts.user().unwrap_or_default(),
    );
    match Pool::builder(options).credentials(source).connect().await {
        Ok(pool) => {
            println!("{}", pool.boot_report());
            pool.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
