//! `Cluster`: the handle services hold, its members and its background
//! replica check.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use mysql_async::Params;
use mysql_async::prelude::FromRow;
use tokio::task::JoinHandle;

use super::error::{ClusterBootError, ClusterError};
use super::health::Replica;
use super::options::ClusterOptions;
use super::routing::RoundRobin;
use super::session::{ClusterTx, Session, WriteMark};
use super::stats::{ClusterStats, Counters, MemberStats};
use crate::mysql::Pool;
use crate::mysql::exec::{ExecOutcome, RowStream, TxOptions};
use crate::source::Sources;

/// One primary pool and N replica pools, with routing: see the
/// [module docs](super). Cheap to clone; clones are one handle (they share
/// its read-your-writes mark): give each request or user its own
/// [`Session`].
#[derive(Debug, Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
    mark: Arc<WriteMark>,
}

/// What every handle of a cluster shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: ClusterOptions,
    pub(crate) primary: Pool,
    pub(crate) replicas: Vec<Replica>,
    pub(crate) counters: Counters,
    pub(crate) round_robin: RoundRobin,
    checker: Mutex<Option<JoinHandle<()>>>,
}

impl Cluster {
    /// Opens every member (each runs its own boot checks, `instances`
    /// included), then starts the replica check. Fails with the first
    /// member that did not start; the others are closed.
    pub async fn connect(options: ClusterOptions) -> Result<Cluster, ClusterBootError> {
        Cluster::connect_with_sources(options, None, Vec::new()).await
    }

    pub(crate) async fn connect_with_sources(
        options: ClusterOptions,
        primary_sources: Option<Sources>,
        replica_sources: Vec<Sources>,
    ) -> Result<Cluster, ClusterBootError> {
        let mut set = tokio::task::JoinSet::new();
        let mut members = vec![(None, options.primary_pool(), primary_sources)];
        let mut replica_sources = replica_sources.into_iter();
        for i in 0..options.replicas.len() {
            if let Some(pool) = options.replica_pool(i) {
                members.push((Some(i), pool, replica_sources.next()));
            }
        }
        for (index, pool_options, sources) in members {
            let name = options.member_name(index);
            set.spawn(async move {
                let mut builder = Pool::builder(pool_options);
                if let Some(sources) = sources {
                    builder = builder.sources(sources);
                }
                (index, name, builder.connect().await)
            });
        }
        let mut primary = None;
        let mut replicas: Vec<(usize, Replica)> = Vec::new();
        let mut failed = None;
        while let Some(joined) = set.join_next().await {
            let Ok((index, name, result)) = joined else {
                failed.get_or_insert(ClusterBootError::Interrupted);
                continue;
            };
            match (result, index) {
                (Ok(pool), None) => primary = Some(pool),
                (Ok(pool), Some(i)) => replicas.push((i, Replica::new(i, name, pool))),
                (Err(source), _) => {
                    failed.get_or_insert(ClusterBootError::Member {
                        member: name,
                        source,
                    });
                }
            }
        }
        let primary = match (failed, primary) {
            (None, Some(primary)) => primary,
            (failed, primary) => {
                if let Some(pool) = primary {
                    pool.close().await;
                }
                for (_, replica) in &replicas {
                    replica.pool.close().await;
                }
                return Err(failed.unwrap_or(ClusterBootError::Interrupted));
            }
        };
        replicas.sort_by_key(|(i, _)| *i);
        let replicas: Vec<Replica> = replicas.into_iter().map(|(_, r)| r).collect();
        // Each series under its member's metric name, as its pool's own.
        let metric_name = |pool: &Pool, fallback: &str| {
            pool.options()
                .pool_name
                .clone()
                .unwrap_or_else(|| fallback.to_owned())
        };
        let names: Vec<String> = replicas
            .iter()
            .map(|r| metric_name(&r.pool, &r.name))
            .collect();
        let shared = Arc::new(Shared {
            counters: Counters::new(&metric_name(&primary, &options.member_name(None)), &names),
            options,
            primary,
            replicas,
            round_robin: RoundRobin::default(),
            checker: Mutex::new(None),
        });
        // A first check before any read, so that a stopped replica takes none.
        check_all(&shared).await;
        let task = tokio::spawn(check_loop(Arc::downgrade(&shared)));
        *shared
            .checker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(task);
        tracing::info!(
            primary = %shared.primary.name(),
            replicas = shared.replicas.len(),
            "cluster started"
        );
        Ok(Cluster {
            shared,
            mark: Arc::default(),
        })
    }

    /// A write (or any statement) on the primary; reads through this handle
    /// then go to the primary for `read_your_writes`.
    pub async fn exec(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<ExecOutcome, ClusterError> {
        self.shared.exec(&self.mark, sql, params.into()).await
    }

    /// A read, on a replica in rotation (least in use, ties round-robin),
    /// or on the primary within `read_your_writes` of this handle's last
    /// write, or when no replica is in rotation (`replica_fallback`).
    pub async fn query<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Vec<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared.query(&self.mark, sql, params.into()).await
    }

    /// The first row of a read, routed as [`query`](Self::query).
    pub async fn query_first<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<Option<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared
            .query_first(&self.mark, sql, params.into())
            .await
    }

    /// A read whose rows come one at a time (see [`RowStream`]), routed as
    /// [`query`](Self::query). Opening it (the query and its first row) is
    /// retried as a read is, on another replica too when the first loses
    /// its connection; once a row was delivered nothing is retried. The
    /// stream holds its member's connection until its last row.
    ///
    /// ```no_run
    /// # async fn demo(cluster: pool_runtime::Cluster) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut rows = cluster.query_stream::<(u64, String)>("SELECT id, email FROM users", ()).await?;
    /// while let Some(row) = rows.next().await {
    ///     let (id, email) = row?;
    ///     println!("{id} {email}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn query_stream<T>(
        &self,
        sql: &str,
        params: impl Into<Params>,
    ) -> Result<RowStream<'static, T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.shared
            .query_stream(&self.mark, sql, params.into())
            .await
    }

    /// A transaction on the primary, never retried; its commit counts as a
    /// write of this handle.
    pub async fn begin(&self) -> Result<ClusterTx, ClusterError> {
        self.shared.begin(&self.mark, TxOptions::new()).await
    }

    /// A transaction on the primary with options (isolation, read-only).
    pub async fn begin_with(&self, options: TxOptions) -> Result<ClusterTx, ClusterError> {
        self.shared.begin(&self.mark, options).await
    }

    /// A read-your-writes scope of its own, for one request or user.
    pub fn session(&self) -> Session {
        Session {
            shared: Arc::clone(&self.shared),
            mark: Arc::default(),
        }
    }

    /// The primary's pool, for explicit control (no routing, no mark).
    pub fn primary(&self) -> &Pool {
        &self.shared.primary
    }

    /// The pool of the replica a read would go to now (in rotation, least
    /// in use), without read-your-writes; `None` when none is in rotation.
    pub fn replica(&self) -> Option<&Pool> {
        self.shared
            .pick(None)
            .map(|i| &self.shared.replicas[i].pool)
    }

    /// Every replica's pool, in configuration order, in rotation or not.
    pub fn replicas(&self) -> impl Iterator<Item = &Pool> {
        self.shared.replicas.iter().map(|r| &r.pool)
    }

    /// The options the cluster runs with.
    pub fn options(&self) -> &ClusterOptions {
        &self.shared.options
    }

    /// Reads every replica's replication state now (as the background
    /// check does: all replicas at once, each bounded by
    /// `replica_check_interval` or 1 s, whichever is longer), so that a
    /// caller need not wait for the next interval.
    pub async fn check_replicas(&self) {
        check_all(&self.shared).await;
    }

    /// Each member's stats and the routing counters.
    pub fn stats(&self) -> ClusterStats {
        let s = &self.shared;
        let mut members = vec![MemberStats {
            pool_name: s.options.member_name(None),
            primary: true,
            out: None,
            lag: None,
            pool: s.primary.stats(),
        }];
        for r in &s.replicas {
            let state = r.state();
            members.push(MemberStats {
                pool_name: r.name.clone(),
                primary: false,
                out: state.out,
                lag: state.lag,
                pool: r.pool.stats(),
            });
        }
        ClusterStats::new(members, &s.counters)
    }

    /// Stops the replica check and closes every member (see
    /// [`Pool::close`]), all at once.
    pub async fn close(&self) {
        let task = self
            .shared
            .checker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
        let mut set = tokio::task::JoinSet::new();
        for pool in std::iter::once(&self.shared.primary).chain(self.replicas()) {
            let pool = pool.clone();
            set.spawn(async move { pool.close().await });
        }
        while set.join_next().await.is_some() {}
    }
}

impl Shared {
    pub(crate) async fn exec(
        &self,
        mark: &WriteMark,
        sql: &str,
        params: Params,
    ) -> Result<ExecOutcome, ClusterError> {
        let result = self.primary.exec(sql, params).await;
        if result.as_ref().map_or_else(|e| e.may_have_run(), |_| true) {
            mark.wrote();
        }
        Ok(result?)
    }

    pub(crate) async fn query<T>(
        &self,
        mark: &WriteMark,
        sql: &str,
        params: Params,
    ) -> Result<Vec<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.read(mark, |pool| {
            let params = params.clone();
            async move { pool.query::<T>(sql, params).await }
        })
        .await
    }

    pub(crate) async fn query_first<T>(
        &self,
        mark: &WriteMark,
        sql: &str,
        params: Params,
    ) -> Result<Option<T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.read(mark, |pool| {
            let params = params.clone();
            async move { pool.query_first::<T>(sql, params).await }
        })
        .await
    }

    pub(crate) async fn query_stream<T>(
        &self,
        mark: &WriteMark,
        sql: &str,
        params: Params,
    ) -> Result<RowStream<'static, T>, ClusterError>
    where
        T: FromRow + Send + 'static,
    {
        self.read(mark, |pool| {
            let params = params.clone();
            async move { pool.query_stream::<T>(sql, params).await }
        })
        .await
    }

    pub(crate) async fn begin(
        &self,
        mark: &Arc<WriteMark>,
        options: TxOptions,
    ) -> Result<ClusterTx, ClusterError> {
        let tx = self.primary.begin_with(options).await?;
        Ok(ClusterTx {
            tx,
            mark: Arc::clone(mark),
        })
    }
}

/// Checks every replica once, all at the same time, each bounded by the
/// interval or 1 s, whichever is longer: a replica that hangs holds up no
/// other's check, and a round takes at most that bound.
async fn check_all(shared: &Shared) {
    let limit = shared
        .options
        .replica_check_interval
        .max(std::time::Duration::from_secs(1));
    let max_lag = shared.options.max_replica_lag;
    let checks = shared
        .replicas
        .iter()
        .map(|r| r.check(max_lag, limit, &shared.counters));
    join_all(checks).await;
}

/// Runs `futures` concurrently on this task until all are done; dropping
/// it drops them all. (A handful of checks: polling each on every wake
/// costs less than spawning tasks that would need the shared state owned.)
async fn join_all<F: Future<Output = ()>>(futures: impl IntoIterator<Item = F>) {
    let mut pending: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

async fn check_loop(shared: Weak<Shared>) {
    loop {
        let Some(interval) = shared.upgrade().map(|s| s.options.replica_check_interval) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        check_all(&shared).await;
    }
}
