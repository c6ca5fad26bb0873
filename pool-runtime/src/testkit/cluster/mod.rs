//! [`TestCluster`]: a primary and replicas with real replication between
//! throwaway servers, an application user that `read_only` applies to, and
//! a virtual IP in front of the primary.
//!
//! A pool's behaviour past one server is about what real servers do: a
//! replica that refuses writes with 1290, lag that grows while writes
//! arrive, a primary that becomes read-only at a switchover while
//! connections to it stay open, a VIP that sends new connections elsewhere.
//! A mock shows none of that, so the cluster is made of the kit's
//! [`TestServer`]s replicating by GTID, and its VIP is a [`FaultProxy`].
//!
//! Layout: this file holds the cluster and its accessors; [`replication`]
//! the dialect (MariaDB or MySQL words for the same steps); `lag` the
//! per-replica controls (stop, start, delay, lag, catch-up); `switchover`
//! the promotion of a replica; `lifecycle` stopping and starting a server
//! while keeping its role.

mod lag;
mod lifecycle;
mod replication;
mod switchover;

use std::fmt;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use tokio::task::JoinSet;

use self::replication::{Flavour, Source, exec, exec_secret};
use super::{FaultProxy, TestServer, TestkitError};

/// The application user's name on every server of a cluster.
const APP_USER: &str = "app";
/// The user replicas log in to their primary as.
const REPLICATION_USER: &str = "repl";
/// How long a replica may take to apply what its primary has, when the kit
/// waits for it (at start, at a switchover, in
/// [`TestCluster::wait_caught_up`]). A few milliseconds on an idle machine;
/// a loaded CI box starting several clusters at once is given slack.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(30);
/// How long a single kit statement may take before the step fails (a
/// statement stuck behind a lock, a server that stopped answering).
const STATEMENT_DEADLINE: Duration = Duration::from_secs(30);

/// A primary and replicas of MariaDB with real GTID replication, an
/// application user, and a virtual IP ([`vip`](Self::vip)) in front of the
/// primary. For tests of pools that route to replicas, watch lag, or live
/// through a switchover.
///
/// Every server has the binary log and GTIDs on and can change roles;
/// replicas run with `read_only=ON`. The application user `app` may read,
/// write and change tables in database `test` only: it has none of `SUPER`,
/// `READ ONLY ADMIN` or `CONNECTION ADMIN`, so `read_only` applies to it
/// and a write on a replica fails with error 1290, as it does for a
/// production service. [`app_url`](Self::app_url) and
/// [`vip_url`](Self::vip_url) log in as `app`; [`TestServer::conn`] logs in
/// as root, which `read_only` does not stop: write through root on the
/// primary only, or the replicas' histories diverge from it.
///
/// Servers keep their index for life: 0 is the first primary, and after a
/// [`switchover`](Self::switchover) [`primary_index`](Self::primary_index)
/// names the new one. Dropping the cluster drops its servers and the VIP
/// (see [`TestServer`] for how they go away).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use pool_runtime::mysql_async::{self, prelude::*};
/// use pool_runtime::testkit::TestCluster;
///
/// let mut cluster = TestCluster::start(1).await?;
/// let mut conn = mysql_async::Conn::from_url(cluster.vip_url()).await?;
/// conn.query_drop("CREATE TABLE t (id INT PRIMARY KEY)").await?;
///
/// cluster.switchover(1).await?;          // 0 read-only and replicating from 1
/// cluster.kill_app_sessions(0).await?;   // as a failover's fencing does
/// cluster.vip().retarget(cluster.primary().addr()); // new connections go to 1
/// # Ok(()) }
/// ```
pub struct TestCluster {
    servers: Vec<TestServer>,
    primary: usize,
    flavour: Flavour,
    vip: FaultProxy,
    app_password: String,
    replication_password: String,
}

impl TestCluster {
    /// A primary and `replicas` replicas (real MariaDB replication: binlog
    /// and GTID on every server, replicas `read_only=ON`), the application
    /// user `app` (DML and DDL on `test` only), and a VIP pointed at the
    /// primary.
    ///
    /// The servers start concurrently; the call returns once every replica
    /// replicates and has applied the primary's setup (so `app` exists
    /// everywhere). `TestCluster::start(2)` takes 2 to 4 s on a 2-core
    /// machine busy with other builds, nearly all of it each server's
    /// `mariadb-install-db` and start. It always starts servers of its own,
    /// also when `POOL_TEST_URL` is set.
    ///
    /// # Errors
    ///
    /// [`TestkitError::ClusterStart`] naming the server that did not start,
    /// [`TestkitError::ClusterStep`] naming the server and the setup step
    /// that failed, [`TestkitError::NotCaughtUp`] when a replica did not
    /// apply the setup in time, [`TestkitError::Io`] when the VIP could not
    /// listen.
    pub async fn start(replicas: usize) -> Result<TestCluster, TestkitError> {
        let begun = Instant::now();
        let servers = start_servers(replicas + 1).await?;
        let mut cluster = TestCluster {
            vip: FaultProxy::start(servers[0].addr()).await?,
            servers,
            primary: 0,
            flavour: Flavour::MariaDb,
            app_password: secret(),
            replication_password: secret(),
        };
        cluster.set_up().await?;
        tracing::info!(
            replicas,
            millis = begun.elapsed().as_millis(),
            vip = %cluster.vip.addr(),
            "test cluster started"
        );
        Ok(cluster)
    }

    /// Users on the primary (replicated from there), then every replica
    /// read-only and replicating, then caught up.
    async fn set_up(&mut self) -> Result<(), TestkitError> {
        let mut conn = self.conn(0, "connect to the primary").await?;
        self.flavour = self
            .step(0, "read the server flavour", Flavour::of(&mut conn))
            .await?;
        let grant = self.flavour.replication_grant();
        let password = &self.replication_password;
        let mut statements = Vec::new();
        for host in ["%", "localhost"] {
            statements.push(format!(
                "CREATE USER '{REPLICATION_USER}'@'{host}' IDENTIFIED BY '{password}'"
            ));
            statements.push(format!(
                "GRANT {grant} ON *.* TO '{REPLICATION_USER}'@'{host}'"
            ));
        }
        let create = async {
            for statement in &statements {
                exec_secret(&mut conn, statement, "CREATE USER repl / GRANT").await?;
            }
            Ok(())
        };
        self.step(0, "create the replication user", create).await?;
        self.step(
            0,
            "create the application user",
            self.servers[0].create_user(APP_USER, &self.app_password),
        )
        .await?;
        let _ = conn.disconnect().await;
        for i in 1..self.servers.len() {
            let mut conn = self.conn(i, "connect to the replica").await?;
            self.step(
                i,
                "set read_only",
                exec(&mut conn, "SET GLOBAL read_only = ON"),
            )
            .await?;
            self.replicate_from(i, 0, &mut conn, false).await?;
            let _ = conn.disconnect().await;
        }
        for i in 1..self.servers.len() {
            self.wait_caught_up(i).await?;
        }
        Ok(())
    }

    /// Points server `i` (connected as `conn`) at server `source` and starts
    /// replicating; `own_history`: it was a primary, whose position is its
    /// own binary log.
    async fn replicate_from(
        &self,
        i: usize,
        source: usize,
        conn: &mut Conn,
        own_history: bool,
    ) -> Result<(), TestkitError> {
        let flavour = self.flavour;
        let change = flavour.change_source(&Source {
            port: self.servers[source].port(),
            user: REPLICATION_USER,
            password: &self.replication_password,
        });
        let work = async {
            exec(conn, flavour.stop()).await?;
            if own_history {
                if let Some(adopt) = flavour.adopt_own_position() {
                    exec(conn, adopt).await?;
                }
            }
            exec_secret(conn, &change, "CHANGE MASTER TO (password not shown)").await?;
            exec(conn, flavour.start()).await
        };
        self.step(i, "point at the primary and replicate", work)
            .await
    }

    /// How many servers the cluster has, the primary included.
    pub fn len(&self) -> usize {
        self.servers.len()
    }

    /// Always false: a cluster has at least its primary. (For clippy's
    /// `len_without_is_empty`.)
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// Server `i`; 0 is the first primary, and each server keeps its index
    /// whatever its role.
    ///
    /// # Panics
    ///
    /// If `i >= len()`, as slice indexing does.
    pub fn server(&self, i: usize) -> &TestServer {
        &self.servers[i]
    }

    /// The index of the current primary.
    pub fn primary_index(&self) -> usize {
        self.primary
    }

    /// The current primary.
    pub fn primary(&self) -> &TestServer {
        &self.servers[self.primary]
    }

    /// The indexes of the current replicas, in index order.
    pub fn replica_indexes(&self) -> Vec<usize> {
        (0..self.servers.len())
            .filter(|&i| i != self.primary)
            .collect()
    }

    /// The application user's URL for server `i`:
    /// `mysql://app:PASSWORD@127.0.0.1:PORT/test?prefer_socket=false` (TCP
    /// only, so a proxy or port in it cannot be bypassed through the Unix
    /// socket). It holds the password: never print it.
    ///
    /// # Panics
    ///
    /// If `i >= len()`.
    pub fn app_url(&self, i: usize) -> String {
        self.app_url_at(self.servers[i].port())
    }

    /// The VIP: a [`FaultProxy`] that starts pointed at the primary. Move
    /// it with [`FaultProxy::retarget`]; [`switchover`](Self::switchover)
    /// does not.
    pub fn vip(&self) -> &FaultProxy {
        &self.vip
    }

    /// The application user's URL through the VIP.
    pub fn vip_url(&self) -> String {
        self.app_url_at(self.vip.addr().port())
    }

    /// The application user's name (`app`).
    pub fn app_user(&self) -> &'static str {
        APP_USER
    }

    /// Grants the application user `privileges` on every database
    /// (`GRANT privileges ON *.* TO app`), on every server: the grant is
    /// made on the primary and the call returns once every replica has
    /// applied it. For a pool that reads replica status through the
    /// application's own login: `SHOW SLAVE STATUS` needs `SLAVE MONITOR`
    /// (MariaDB 10.5+; `REPLICATION CLIENT` on MySQL), which does not lift
    /// `read_only`. Without it the application user gets error 1227 there,
    /// as a least-privilege production login does.
    ///
    /// # Errors
    ///
    /// [`TestkitError::BadPrivilege`] for anything but letters, spaces and
    /// commas; [`TestkitError::ClusterStep`] if the grant failed;
    /// [`TestkitError::NotCaughtUp`] if a replica did not apply it in time.
    pub async fn grant_app(&self, privileges: &str) -> Result<(), TestkitError> {
        let plain = privileges
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == ' ' || c == ',');
        if privileges.trim().is_empty() || !plain {
            return Err(TestkitError::BadPrivilege {
                privileges: privileges.into(),
            });
        }
        let primary = self.primary;
        let mut conn = self.conn(primary, "connect to the primary").await?;
        let grant = async {
            for host in ["%", "localhost"] {
                let statement = format!("GRANT {privileges} ON *.* TO '{APP_USER}'@'{host}'");
                exec(&mut conn, &statement).await?;
            }
            Ok(())
        };
        self.step(primary, "grant to the application user", grant)
            .await?;
        let _ = conn.disconnect().await;
        for i in self.replica_indexes() {
            self.wait_caught_up(i).await?;
        }
        Ok(())
    }

    /// Kills every session of the application user on server `i`, as a
    /// failover's fencing does; returns how many were killed.
    pub async fn kill_app_sessions(&self, i: usize) -> Result<usize, TestkitError> {
        self.index(i)?;
        self.step(
            i,
            "kill the application sessions",
            self.servers[i].kill_user_connections(APP_USER),
        )
        .await
    }

    fn app_url_at(&self, port: u16) -> String {
        // The password is alphanumeric (`secret`): nothing to escape.
        format!(
            "mysql://{APP_USER}:{}@127.0.0.1:{port}/test?prefer_socket=false",
            self.app_password
        )
    }

    /// Refuses an index the cluster has no server for.
    fn index(&self, i: usize) -> Result<(), TestkitError> {
        if i < self.servers.len() {
            return Ok(());
        }
        Err(TestkitError::ClusterRole {
            index: i,
            reason: format!("the cluster has {} servers (0..{})", self.len(), self.len()),
        })
    }

    /// Refuses an index that is not a current replica.
    fn replica(&self, i: usize, action: &str) -> Result<(), TestkitError> {
        self.index(i)?;
        if i == self.primary {
            return Err(TestkitError::ClusterRole {
                index: i,
                reason: format!("{action} needs a replica, and server {i} is the primary"),
            });
        }
        Ok(())
    }

    /// A kit session on server `i` (root, over its socket).
    async fn conn(&self, i: usize, step: &'static str) -> Result<Conn, TestkitError> {
        self.step(i, step, self.servers[i].conn()).await
    }

    /// Runs `work` as `step` on server `i`: bounded, and its error names the
    /// server and the step.
    async fn step<T>(
        &self,
        i: usize,
        step: &'static str,
        work: impl Future<Output = Result<T, TestkitError>>,
    ) -> Result<T, TestkitError> {
        let outcome = match tokio::time::timeout(STATEMENT_DEADLINE, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TestkitError::io(
                format!("waiting for the server to answer within {STATEMENT_DEADLINE:?}"),
                std::io::ErrorKind::TimedOut.into(),
            )),
        };
        outcome.map_err(|source| TestkitError::ClusterStep {
            index: i,
            port: self.servers[i].port(),
            step,
            source: Box::new(source),
        })
    }
}

impl fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No URL with the application user: it carries the password.
        let servers: Vec<u16> = self.servers.iter().map(TestServer::port).collect();
        f.debug_struct("TestCluster")
            .field("ports", &servers)
            .field("primary", &self.primary)
            .field("vip", &self.vip.addr())
            .field("vip_upstream", &self.vip.upstream())
            .field("app_user", &APP_USER)
            .finish_non_exhaustive()
    }
}

/// Starts `n` servers for replication at once, server `i` with
/// `server_id = i + 1`; all or none (the started ones are dropped on error).
async fn start_servers(n: usize) -> Result<Vec<TestServer>, TestkitError> {
    let mut starting = JoinSet::new();
    for i in 0..n {
        let server_id = u32::try_from(i + 1).unwrap_or(u32::MAX);
        starting.spawn(async move {
            let started = TestServer::builder().replication(server_id).start().await;
            (i, started)
        });
    }
    let mut servers: Vec<Option<TestServer>> = (0..n).map(|_| None).collect();
    while let Some(joined) = starting.join_next().await {
        // Only a panic in the kit's start ends a task this way.
        let (i, started) = joined.map_err(|e| {
            TestkitError::io("starting a test cluster server", std::io::Error::other(e))
        })?;
        let server = started.map_err(|source| TestkitError::ClusterStart {
            index: i,
            source: Box::new(source),
        })?;
        servers[i] = Some(server);
    }
    Ok(servers.into_iter().flatten().collect())
}

/// A fresh password: 24 letters and digits.
fn secret() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(24)
        .collect()
}
