//! The refusal of `mysql_clear_password` without verified TLS.

use crate::findings::Code;
use crate::options::SslMode;
use crate::source::Source;

/// `mysql_clear_password` sends the password as it is: allowed only when
/// asked for, and only over TLS that authenticates the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[{code}] {key} from {origin} allows the mysql_clear_password plugin, which sends the \
     password as it is, but ssl_mode = {mode} does not guarantee a verified TLS connection: set \
     ssl_mode = verify_identity (or verify_ca) with ssl_ca"
)]
pub struct CleartextWithoutTls {
    /// The rule's code, [`Code::CleartextPasswordWithoutTls`].
    pub code: Code,
    /// The setting (or URL parameter) that allows the plugin.
    pub key: &'static str,
    /// Where its value came from.
    pub origin: Source,
    /// The TLS mode in force.
    pub mode: SslMode,
}
