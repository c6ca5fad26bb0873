//! Per-replica controls for lag tests: catch-up by GTID, stopping and
//! starting the SQL thread, a replication delay, and the lag the replica
//! reports.
//!
//! Lag is made the way it happens: a replica whose SQL thread stopped
//! reports `Seconds_Behind_Master` NULL and applies nothing; a delayed one
//! (`MASTER_DELAY`) holds each event until it is that old, so its lag grows
//! while writes arrive. Catching up is judged by GTID, not by the lag
//! figure: `Seconds_Behind_Master` is 0 both for a replica that applied
//! everything and for one that has not yet heard of the last write.

use std::time::Duration;

use super::replication::exec;
use super::{CATCH_UP_DEADLINE, STATEMENT_DEADLINE, TestCluster};
use crate::testkit::TestkitError;

impl TestCluster {
    /// Waits until replica `i` has applied everything the primary has (its
    /// GTID position now), at most 30 s. Immediate for the primary itself.
    ///
    /// # Errors
    ///
    /// [`TestkitError::NotCaughtUp`] after the deadline, with the replica's
    /// status (threads, last errors); [`TestkitError::ClusterStep`] if a
    /// server did not answer.
    pub async fn wait_caught_up(&self, i: usize) -> Result<(), TestkitError> {
        self.wait_caught_up_within(i, CATCH_UP_DEADLINE).await
    }

    /// [`wait_caught_up`](Self::wait_caught_up) with another deadline
    /// (whole seconds, at least one).
    pub async fn wait_caught_up_within(
        &self,
        i: usize,
        within: Duration,
    ) -> Result<(), TestkitError> {
        self.index(i)?;
        if i == self.primary {
            return Ok(());
        }
        let flavour = self.flavour;
        let mut primary = self.conn(self.primary, "connect to the primary").await?;
        let target = self
            .step(
                self.primary,
                "read the GTID position",
                flavour.gtid_position(&mut primary),
            )
            .await?;
        let _ = primary.disconnect().await;
        let mut replica = self.conn(i, "connect to the replica").await?;
        // The server bounds the wait; the runtime bounds it too, with slack,
        // in case the server stops answering altogether.
        let wait = async {
            match tokio::time::timeout(
                within + STATEMENT_DEADLINE,
                flavour.wait_for_position(&mut replica, &target, within),
            )
            .await
            {
                Ok(outcome) => outcome,
                Err(_) => Ok(false),
            }
        };
        let reached = self.step(i, "wait for the GTID position", wait).await?;
        if reached {
            let _ = replica.disconnect().await;
            return Ok(());
        }
        let status = match flavour.status(&mut replica).await {
            Ok(status) => status.describe(),
            Err(e) => format!("unknown ({e})"),
        };
        let _ = replica.disconnect().await;
        Err(TestkitError::NotCaughtUp {
            index: i,
            port: self.servers[i].port(),
            target,
            waited: within,
            status,
        })
    }

    /// Stops replica `i`'s SQL thread: it still receives the primary's
    /// events but applies none, and reports `Seconds_Behind_Master` NULL
    /// ([`seconds_behind`](Self::seconds_behind) is `None`).
    pub async fn stop_replication(&self, i: usize) -> Result<(), TestkitError> {
        self.replica(i, "stop_replication")?;
        let mut conn = self.conn(i, "connect to the replica").await?;
        let stop = exec(&mut conn, self.flavour.stop_sql_thread());
        self.step(i, "stop the SQL thread", stop).await?;
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// Starts replica `i`'s replication again (whichever threads are
    /// stopped); it then applies what it missed (await
    /// [`wait_caught_up`](Self::wait_caught_up) for that).
    pub async fn start_replication(&self, i: usize) -> Result<(), TestkitError> {
        self.replica(i, "start_replication")?;
        let mut conn = self.conn(i, "connect to the replica").await?;
        let start = exec(&mut conn, self.flavour.start());
        self.step(i, "start replication", start).await?;
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// Makes replica `i` apply each event only once it is `by` old
    /// (`MASTER_DELAY`, whole seconds, rounded up): its lag grows towards
    /// `by` as writes arrive, and stays 0 while none do.
    /// `Duration::ZERO` removes the delay. Replication restarts.
    pub async fn delay_replication(&self, i: usize, by: Duration) -> Result<(), TestkitError> {
        self.replica(i, "delay_replication")?;
        let seconds = by.as_secs() + u64::from(by.subsec_nanos() > 0);
        let flavour = self.flavour;
        let mut conn = self.conn(i, "connect to the replica").await?;
        let work = async {
            exec(&mut conn, flavour.stop()).await?;
            exec(&mut conn, &flavour.set_delay(seconds)).await?;
            exec(&mut conn, flavour.start()).await
        };
        self.step(i, "set the replication delay", work).await?;
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// How far behind the primary replica `i` says it is
    /// (`Seconds_Behind_Master`); `None` when it is not replicating: its SQL
    /// or IO thread is stopped, or it is the primary.
    pub async fn seconds_behind(&self, i: usize) -> Result<Option<u64>, TestkitError> {
        self.index(i)?;
        let mut conn = self.conn(i, "connect to the server").await?;
        let status = self
            .step(i, "read the replica status", self.flavour.status(&mut conn))
            .await?;
        let _ = conn.disconnect().await;
        Ok(status.seconds_behind)
    }
}
