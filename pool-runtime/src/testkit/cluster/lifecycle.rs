//! Stopping and starting one server of a cluster, keeping its role.
//!
//! A server's role lives partly in globals that a restart forgets:
//! `read_only` comes back OFF. Replication itself survives (the replica's
//! primary and GTID position are stored in its data directory, and its
//! threads start with the server), so starting a replica again is the
//! server's start plus `read_only=ON`.

use super::TestCluster;
use super::replication::exec;
use crate::testkit::TestkitError;

impl TestCluster {
    /// Shuts server `i` down gracefully (its clients' connections end, new
    /// ones are refused), keeping its data and port, as a crashed or
    /// rebooting database host. The cluster's roles do not change: stopping
    /// the primary is not a failover (call [`switchover`](Self::switchover)
    /// first for that).
    pub async fn stop(&mut self, i: usize) -> Result<(), TestkitError> {
        self.index(i)?;
        let port = self.servers[i].port();
        self.servers[i]
            .stop()
            .await
            .map_err(|source| TestkitError::ClusterStep {
                index: i,
                port,
                step: "stop",
                source: Box::new(source),
            })
    }

    /// Starts a stopped server `i` again on the same data and port. A
    /// replica is made read-only again at once (for the moment between its
    /// start and that statement it is writable) and resumes replicating
    /// from where it was, also if its SQL thread had been stopped by
    /// [`stop_replication`](Self::stop_replication).
    pub async fn start_again(&mut self, i: usize) -> Result<(), TestkitError> {
        self.index(i)?;
        let port = self.servers[i].port();
        self.servers[i]
            .start_again()
            .await
            .map_err(|source| TestkitError::ClusterStep {
                index: i,
                port,
                step: "start again",
                source: Box::new(source),
            })?;
        if i != self.primary {
            let mut conn = self.conn(i, "connect to the replica").await?;
            let read_only = exec(&mut conn, "SET GLOBAL read_only = ON");
            self.step(i, "set read_only", read_only).await?;
            let start = exec(&mut conn, self.flavour.start());
            self.step(i, "start replication", start).await?;
            let _ = conn.disconnect().await;
        }
        Ok(())
    }
}
