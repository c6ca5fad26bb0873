//! A planned switchover: the primary's role moves to a replica without
//! losing a write, the way Orchestrator, MaxScale or a managed service do
//! it, minus the VIP, which tests move themselves
//! ([`FaultProxy::retarget`](crate::testkit::FaultProxy::retarget)) so they
//! choose the moment connections start going to the new primary.
//!
//! The order matters: the old primary is made read-only first, so nothing
//! is written on it after the GTID position the new primary must reach; only
//! once the new primary has applied that position is it made writable; then
//! the old primary and the other replicas follow it from their GTID
//! positions, which its binary log (`log_slave_updates`) holds.

use super::replication::exec;
use super::{TestCluster, TestkitError};

impl TestCluster {
    /// Makes replica `to` the primary: demotes the current primary
    /// (`read_only=ON`, as a switchover does; its open sessions stay open and
    /// their writes fail with 1290), waits until `to` has applied everything
    /// (bounded, as [`wait_caught_up`](Self::wait_caught_up)), promotes it
    /// (replication stopped and reset, `read_only=OFF`), and makes the old
    /// primary and the other replicas replicate from it.
    ///
    /// The demotion waits for statements running on the primary (bounded,
    /// 30 s), not for transactions that sit open: their `COMMIT` then fails
    /// with 1290 and their writes are lost, as in a real switchover. Every
    /// replica's replication is restarted on the new primary (a SQL thread
    /// stopped by [`stop_replication`](Self::stop_replication) runs again).
    ///
    /// Does not move the [`vip`](Self::vip), nor kill sessions
    /// ([`kill_app_sessions`](Self::kill_app_sessions)): tests choose when.
    /// Takes 20 to 50 ms on an idle cluster.
    ///
    /// # Errors
    ///
    /// [`TestkitError::ClusterRole`] if `to` is not a replica;
    /// [`TestkitError::NotCaughtUp`] if it did not catch up (the old primary
    /// then stays read-only and still the primary: a test can inspect it);
    /// [`TestkitError::ClusterStep`] naming the server and step that failed.
    pub async fn switchover(&mut self, to: usize) -> Result<(), TestkitError> {
        self.replica(to, "switchover")?;
        let old = self.primary;
        let flavour = self.flavour;
        tracing::info!(
            from = old,
            to,
            from_port = self.servers[old].port(),
            to_port = self.servers[to].port(),
            "test cluster switchover"
        );

        let mut demoted = self.conn(old, "connect to the primary").await?;
        let demote = exec(&mut demoted, "SET GLOBAL read_only = ON");
        self.step(old, "demote (read_only=ON)", demote).await?;
        self.wait_caught_up(to).await?;

        let mut promoted = self.conn(to, "connect to the new primary").await?;
        let promote = async {
            exec(&mut promoted, flavour.stop()).await?;
            exec(&mut promoted, flavour.reset()).await?;
            exec(&mut promoted, "SET GLOBAL read_only = OFF").await
        };
        self.step(to, "promote", promote).await?;
        let _ = promoted.disconnect().await;
        self.primary = to;

        self.replicate_from(old, to, &mut demoted, true).await?;
        let _ = demoted.disconnect().await;
        for i in self.replica_indexes() {
            if i == old {
                continue;
            }
            let mut conn = self.conn(i, "connect to the replica").await?;
            self.replicate_from(i, to, &mut conn, false).await?;
            let _ = conn.disconnect().await;
        }
        Ok(())
    }
}
