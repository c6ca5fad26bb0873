use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What went wrong while starting, controlling or proxying a test server.
///
/// Messages never contain a password: the URL from `POOL_TEST_URL` is only
/// ever described, not echoed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// Neither `mariadbd` nor `mysqld` was found, and `POOL_TEST_URL` is unset.
    #[error(
        "no MariaDB/MySQL server binary found (looked for mariadbd and mysqld in {searched}); \
         install one with `apt-get install -y mariadb-server`, \
         or set POOL_TEST_URL to a server the tests may use"
    )]
    NoServerBinary {
        /// The directories that were searched, joined with `:`.
        searched: String,
    },

    /// The server binary is one the kit cannot drive.
    #[error("{binary} is not supported by the test kit: {reason}; set POOL_TEST_URL to use it")]
    UnsupportedServer {
        /// The binary that was found.
        binary: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// Initialising the data directory failed.
    #[error("`{program}` could not initialise {datadir}: {detail}")]
    InitFailed {
        /// The install program that ran.
        program: PathBuf,
        /// The data directory it was asked to fill.
        datadir: PathBuf,
        /// Its exit status and the tail of its output.
        detail: String,
    },

    /// The server process exited or never accepted connections.
    #[error("the test server on 127.0.0.1:{port} did not start: {detail}")]
    StartFailed {
        /// The TCP port it was given.
        port: u16,
        /// What was observed, with the tail of the server's error log.
        detail: String,
    },

    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the kit was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A statement the kit sent to the server failed.
    #[error("test server statement `{statement}` failed: {source}")]
    Query {
        /// The statement, without values.
        statement: String,
        /// The driver's error.
        #[source]
        source: mysql_async::Error,
    },

    /// `POOL_TEST_URL` (or a URL given to the kit) could not be used.
    #[error("{what} is not a usable MySQL URL: {reason}")]
    BadUrl {
        /// Which URL: never its text, which may carry a password.
        what: &'static str,
        /// Why.
        reason: String,
    },

    /// A control operation was asked of a server the kit does not own.
    #[error(
        "{action} needs a server started by the test kit; the server from POOL_TEST_URL \
         is shared and is never changed (use TestServer::start() in this test)"
    )]
    NotOwned {
        /// The operation that was refused.
        action: &'static str,
    },

    /// An operation needs a running server, but it was stopped.
    #[error("{action} needs a running test server; it is stopped (call start_again() first)")]
    Stopped {
        /// The operation that was refused.
        action: &'static str,
    },

    /// The TLS material of a test server (CA, certificates, keys) could not
    /// be made.
    #[error("the test kit could not make {what}: {reason}")]
    TlsMaterial {
        /// What was being made.
        what: String,
        /// Why it failed.
        reason: String,
    },

    /// A user name the kit will not put in an account statement.
    #[error("`{name}` is not a user name the test kit accepts (letters, digits and `_` only)")]
    BadUserName {
        /// The rejected name.
        name: String,
    },

    /// A server of a [`TestCluster`](crate::testkit::TestCluster) did not
    /// start.
    #[error("test cluster server {index} did not start: {source}")]
    ClusterStart {
        /// The server's index in the cluster (0 = the first primary).
        index: usize,
        /// Why.
        #[source]
        source: Box<TestkitError>,
    },

    /// A step of setting up or driving replication failed on one server of
    /// a [`TestCluster`](crate::testkit::TestCluster).
    #[error("test cluster server {index} (127.0.0.1:{port}): {step} failed: {source}")]
    ClusterStep {
        /// The server's index in the cluster (0 = the first primary).
        index: usize,
        /// Its TCP port.
        port: u16,
        /// What the kit was doing, e.g. `promote` or `point at the new primary`.
        step: &'static str,
        /// The server's error (statements carrying a password are named, not shown).
        #[source]
        source: Box<TestkitError>,
    },

    /// A replica did not apply everything the primary has within the
    /// deadline: its replication is stopped, delayed, broken or slow.
    #[error(
        "test cluster replica {index} (127.0.0.1:{port}) did not apply the primary's GTID \
         position `{target}` within {waited:?}; replica status: {status}"
    )]
    NotCaughtUp {
        /// The replica's index in the cluster.
        index: usize,
        /// Its TCP port.
        port: u16,
        /// The primary's GTID position it was waiting for.
        target: String,
        /// How long it was waited for.
        waited: Duration,
        /// What the replica reported (threads running, last errors, its position).
        status: String,
    },

    /// An operation was asked of a cluster server that has no such index,
    /// or whose role does not fit it (a replica operation on the primary).
    #[error("test cluster server {index}: {reason}")]
    ClusterRole {
        /// The index that was given.
        index: usize,
        /// Why it does not fit.
        reason: String,
    },

    /// A privilege list the kit will not put in a `GRANT`.
    #[error(
        "`{privileges}` is not a privilege list the test kit accepts \
         (letters, spaces and commas only, e.g. `SLAVE MONITOR`)"
    )]
    BadPrivilege {
        /// The rejected text.
        privileges: String,
    },

    /// A global variable name that is not a plain identifier.
    #[error("`{name}` is not a server variable name (letters, digits and `_` only)")]
    BadVariableName {
        /// The rejected name.
        name: String,
    },
}

impl TestkitError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        TestkitError::Io {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn query(statement: impl Into<String>, source: mysql_async::Error) -> Self {
        TestkitError::Query {
            statement: statement.into(),
            source,
        }
    }
}
