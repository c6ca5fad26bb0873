//! The statement API users expect, against real servers: transactions with
//! options, rows streamed one at a time, one trait for pool and
//! transaction, and `Pool::connect(url)`.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use pool_runtime::boot::{BootPolicy, Policy};
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{Conn, Row};
use pool_runtime::testkit::{Fault, FaultProxy, TestServer};
use pool_runtime::{
    BootError, Error, ErrorKind, Executor, IsolationLevel, Pool, PoolOptions, RowStream, TxOptions,
};

/// Every test is bounded: a hang fails it instead of stalling the suite.
async fn within<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .expect("the test did not finish within 120 s")
}

/// A pool of `max_open` connections that never validates idle ones, so
/// that a test decides what each connection meets.
async fn pool(url: &str, max_open: u32) -> Pool {
    let mut options = PoolOptions::from_url(url).unwrap();
    options.max_open = max_open;
    options.max_idle = max_open;
    options.validate_after_idle = Duration::from_secs(3600);
    options.on_violation = BootPolicy::all(Policy::Warn);
    Pool::builder(options).connect().await.unwrap()
}

/// `v`: one row (1, 0), for isolation tests; `digits`: 0 to 9, for large
/// results made by joining it with itself.
async fn tables(server: &TestServer) -> Conn {
    let mut admin = server.conn().await.unwrap();
    admin
        .query_drop(
            "CREATE TABLE v (k INT PRIMARY KEY, v INT) ENGINE = InnoDB;
             INSERT INTO v VALUES (1, 0);
             CREATE TABLE digits (d INT PRIMARY KEY);
             INSERT INTO digits VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9);
             CREATE TABLE t (k INT PRIMARY KEY)",
        )
        .await
        .unwrap();
    admin
}

/// 0 to 99 999 in order: five digits tables joined.
const HUNDRED_THOUSAND: &str = "SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n \
     FROM digits a, digits b, digits c, digits e, digits f ORDER BY n";

/// The same from `?` on, as a prepared statement (binary protocol).
const FROM_PARAM: &str = "SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n \
     FROM digits a, digits b, digits c, digits e, digits f HAVING n >= ? ORDER BY n";

/// The same with 200 bytes more per row (20 MB), more than sockets and the
/// proxy can hold: the server is still sending while the client reads.
const PADDED: &str = "SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n, \
     REPEAT('x', 200) AS pad FROM digits a, digits b, digits c, digits e, digits f ORDER BY n";

async fn v(db: &mut impl Executor) -> i32 {
    db.query_first("SELECT v FROM v WHERE k = 1", ())
        .await
        .unwrap()
        .unwrap()
}

// ---------------------------------------------------------------- begin_with

/// MariaDB 10.11 has no `@@transaction_isolation` (MySQL 8 removed
/// `@@tx_isolation`), and neither shows a level set for the next
/// transaction only: both show the session's. So the level is proved by
/// what the transaction sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolation_level_holds_in_its_transaction_and_not_in_the_next() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let mut admin = tables(&server).await;
        // One connection: every transaction below runs on the same session.
        let pool = pool(server.url(), 1).await;

        // READ UNCOMMITTED sees another session's uncommitted change...
        admin.query_drop("START TRANSACTION").await.unwrap();
        admin.query_drop("UPDATE v SET v = 99").await.unwrap();
        let options = TxOptions::new().isolation_level(IsolationLevel::ReadUncommitted);
        let mut tx = pool.begin_with(options).await.unwrap();
        assert_eq!(
            v(&mut &mut tx).await,
            99,
            "READ UNCOMMITTED reads dirty rows"
        );
        tx.commit().await.unwrap();
        // ...and the next transaction on that connection is back to the
        // session's REPEATABLE READ, which does not.
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(
            v(&mut &mut tx).await,
            0,
            "the level leaked into the next transaction"
        );
        tx.commit().await.unwrap();
        assert_eq!(v(&mut &pool).await, 0);
        admin.query_drop("ROLLBACK").await.unwrap();

        // READ COMMITTED sees a change committed during the transaction...
        let options = TxOptions::new().isolation_level(IsolationLevel::ReadCommitted);
        let mut tx = pool.begin_with(options).await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 0);
        admin.query_drop("UPDATE v SET v = 1").await.unwrap();
        assert_eq!(
            v(&mut &mut tx).await,
            1,
            "READ COMMITTED reads fresh commits"
        );
        tx.commit().await.unwrap();
        // ...REPEATABLE READ, again the default after it, does not.
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 1);
        admin.query_drop("UPDATE v SET v = 2").await.unwrap();
        assert_eq!(
            v(&mut &mut tx).await,
            1,
            "the level leaked into the next transaction"
        );
        tx.commit().await.unwrap();

        // SERIALIZABLE turns a plain read into a shared lock: a writer waits.
        let options = TxOptions::new().isolation_level(IsolationLevel::Serializable);
        let mut tx = pool.begin_with(options).await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 2);
        admin
            .query_drop("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .unwrap();
        let blocked = admin.query_drop("UPDATE v SET v = 3").await.unwrap_err();
        assert!(
            blocked.to_string().contains("Lock wait timeout"),
            "{blocked}"
        );
        tx.commit().await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 2);
        admin.query_drop("UPDATE v SET v = 3").await.unwrap();
        tx.commit().await.unwrap();

        // Only the next transaction was ever changed, never the session.
        // (MySQL 8 and MariaDB 11.1+ name it `transaction_isolation`.)
        let session: Option<String> = match pool
            .query_first("SELECT @@SESSION.transaction_isolation", ())
            .await
        {
            Ok(level) => level,
            Err(_) => pool
                .query_first("SELECT @@SESSION.tx_isolation", ())
                .await
                .unwrap(),
        };
        assert_eq!(session.as_deref(), Some("REPEATABLE-READ"));
        assert_eq!(pool.stats().open, 1, "it was one connection throughout");
    })
    .await;
}

#[tokio::test]
async fn a_read_only_transaction_refuses_a_write_with_the_servers_error() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        let mut tx = pool
            .begin_with(TxOptions::new().read_only(true))
            .await
            .unwrap();
        let err = tx.exec("INSERT INTO t VALUES (1)", ()).await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Server(_)), "{err:?}");
        assert_eq!(err.server_code(), Some(1792), "{err}");
        assert!(!err.may_have_run());
        // The refusal does not end the transaction: reads go on.
        assert_eq!(v(&mut &mut tx).await, 0);
        tx.rollback().await.unwrap();
        let stats = pool.stats();
        assert_eq!(
            stats.bad_conn_retries + stats.read_retries + stats.maybe_executed,
            0,
            "a server's answer is not retried: {stats:?}"
        );

        // The access mode was this transaction's only.
        let mut tx = pool.begin().await.unwrap();
        tx.exec("INSERT INTO t VALUES (1)", ()).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = pool
            .begin_with(TxOptions::new().read_only(false))
            .await
            .unwrap();
        tx.exec("INSERT INTO t VALUES (2)", ()).await.unwrap();
        tx.commit().await.unwrap();
        let rows: Vec<i32> = pool.query("SELECT k FROM t ORDER BY k", ()).await.unwrap();
        assert_eq!(rows, [1, 2]);
    })
    .await;
}

#[tokio::test]
async fn a_consistent_snapshot_is_taken_when_the_transaction_starts() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let mut admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        let options = TxOptions::new()
            .consistent_snapshot(true)
            .read_only(true)
            .isolation_level(IsolationLevel::RepeatableRead);
        let mut tx = pool.begin_with(options).await.unwrap();
        admin.query_drop("UPDATE v SET v = 1").await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 0, "the snapshot predates the update");
        tx.commit().await.unwrap();

        // Without it, the snapshot is taken at the first read.
        let mut tx = pool.begin().await.unwrap();
        admin.query_drop("UPDATE v SET v = 2").await.unwrap();
        assert_eq!(v(&mut &mut tx).await, 2);
        tx.commit().await.unwrap();
    })
    .await;
}

// ---------------------------------------------------------------- streams

/// `next()` through the `Stream` trait, as `futures::StreamExt` would call it.
async fn poll_next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

#[tokio::test]
async fn a_hundred_thousand_rows_stream_one_at_a_time_and_the_connection_returns_at_the_end() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        // Plain text protocol, read with `next`.
        let mut rows = pool
            .query_stream::<u32>(HUNDRED_THOUSAND, ())
            .await
            .unwrap();
        let mut expected = 0;
        while let Some(n) = rows.next().await {
            assert_eq!(n.unwrap(), expected);
            expected += 1;
        }
        assert_eq!(expected, 100_000);
        assert_eq!(rows.rows_delivered(), 100_000);
        assert!(rows.next().await.is_none(), "an ended stream stays ended");
        // The stream still exists, but its connection is back in the pool,
        // clean: the pool's only connection serves the next statement.
        assert_eq!(pool.stats().in_use, 0);
        let one: Option<i32> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(one, Some(1));
        drop(rows);

        // Prepared statement (binary protocol), read as a `Stream`.
        let mut rows = pool
            .query_stream::<u32>(FROM_PARAM, (50_000,))
            .await
            .unwrap();
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(n) = poll_next(&mut rows).await {
            count += 1;
            sum += u64::from(n.unwrap());
        }
        assert_eq!(count, 50_000);
        assert_eq!(sum, (50_000..100_000).sum::<u64>());
        let stats = pool.stats();
        assert_eq!(stats.open, 1, "one connection throughout: {stats:?}");
        assert_eq!(stats.broken_closed, 0, "{stats:?}");
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_stream_dropped_half_read_never_hands_its_unread_rows_to_the_next_user() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        for params in [None, Some((0,))] {
            let mut rows: RowStream<'static, u32> = match params {
                None => pool.query_stream(HUNDRED_THOUSAND, ()).await.unwrap(),
                Some(p) => pool.query_stream(FROM_PARAM, p).await.unwrap(),
            };
            for expected in 0..10 {
                assert_eq!(rows.next().await.unwrap().unwrap(), expected);
            }
            drop(rows);

            // The pool has one connection: the next user gets its own
            // answers, not the rest of the stream.
            let digits: Vec<i32> = pool
                .query("SELECT d FROM digits ORDER BY d", ())
                .await
                .unwrap();
            assert_eq!(digits, (0..10).collect::<Vec<_>>(), "{params:?}");
            let n: Option<i64> = pool.query_first("SELECT ?", (42,)).await.unwrap();
            assert_eq!(n, Some(42));
        }
        let stats = pool.stats();
        assert_eq!(
            stats.broken_closed, 2,
            "each half-read connection was closed rather than returned: {stats:?}"
        );
        assert_eq!(stats.resets, 0, "{stats:?}");
    })
    .await;
}

#[tokio::test]
async fn a_row_that_does_not_convert_is_a_typed_error_and_the_stream_goes_on() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let pool = pool(server.url(), 1).await;

        let mut rows = pool
            .query_stream::<i64>("SELECT '1' UNION ALL SELECT 'one' UNION ALL SELECT '3'", ())
            .await
            .unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), 1);
        let err = rows.next().await.unwrap().unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Conversion {
                    target: "i64",
                    columns: 1
                }
            ),
            "{err:?}"
        );
        assert_eq!(rows.next().await.unwrap().unwrap(), 3);
        assert!(rows.next().await.is_none());

        // Fewer columns than the type wants, and NULL for a non-Option.
        let mut rows = pool
            .query_stream::<(i64, i64)>("SELECT 1", ())
            .await
            .unwrap();
        let err = rows.next().await.unwrap().unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Conversion { columns: 1, .. }),
            "{err:?}"
        );
        drop(rows);
        let mut rows = pool.query_stream::<i64>("SELECT NULL", ()).await.unwrap();
        assert!(matches!(
            rows.next().await,
            Some(Err(e)) if matches!(e.kind(), ErrorKind::Conversion { .. })
        ));
        // A stream holds its connection until it has read the end of the
        // result (`next` returned `None`), or is dropped.
        drop(rows);
        let mut rows = pool
            .query_stream::<Option<i64>>("SELECT NULL", ())
            .await
            .unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), None);
        assert!(rows.next().await.is_none());

        // A statement without a result set is an empty stream.
        let mut rows = pool.query_stream::<Row>("DO 1", ()).await.unwrap();
        assert!(rows.next().await.is_none());
        let err = pool
            .query_stream::<Row>("SELECT * FROM no_such_table", ())
            .await
            .unwrap_err();
        assert_eq!(err.server_code(), Some(1146), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn a_stream_in_a_transaction_reads_on_its_connection_and_leaves_it_usable() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        let mut tx = pool.begin().await.unwrap();
        tx.exec("INSERT INTO t VALUES (1)", ()).await.unwrap();
        // The stream sees the transaction's own uncommitted row.
        let mut rows = tx.query_stream::<i32>("SELECT k FROM t", ()).await.unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), 1);
        assert!(rows.next().await.is_none());
        drop(rows);

        // Dropped half-read: the rest is read away before the next
        // statement, whose answer is its own.
        let mut rows = tx.query_stream::<u32>(HUNDRED_THOUSAND, ()).await.unwrap();
        for expected in 0..10 {
            assert_eq!(rows.next().await.unwrap().unwrap(), expected);
        }
        drop(rows);
        let count: Option<i64> = tx.query_first("SELECT COUNT(*) FROM t", ()).await.unwrap();
        assert_eq!(count, Some(1));
        // The same through the trait, and then COMMIT after a dropped stream.
        let mut db = &mut tx;
        let mut rows = Executor::query_stream::<u32>(&mut db, HUNDRED_THOUSAND, ())
            .await
            .unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), 0);
        drop(rows);
        tx.exec("INSERT INTO t VALUES (2)", ()).await.unwrap();
        let mut rows = tx.query_stream::<u32>(HUNDRED_THOUSAND, ()).await.unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), 0);
        drop(rows);
        tx.commit().await.unwrap();

        let committed: Vec<i32> = pool.query("SELECT k FROM t ORDER BY k", ()).await.unwrap();
        assert_eq!(committed, [1, 2]);
        let stats = pool.stats();
        assert_eq!(
            stats.open, 1,
            "the transaction kept its connection: {stats:?}"
        );
        assert_eq!(stats.broken_closed, 0, "{stats:?}");
    })
    .await;
}

/// A proxied pool with `n` connections open, idle, and a table to read.
async fn proxied(server: &TestServer, n: u32) -> (FaultProxy, Pool) {
    let proxy = FaultProxy::start(server.addr()).await.unwrap();
    let pool = pool(&server.url_at(proxy.addr()).unwrap(), n).await;
    let warm: Vec<_> = (0..n).map(|_| pool.get()).collect();
    let mut held = Vec::new();
    for get in warm {
        held.push(get.await.unwrap());
    }
    drop(held);
    (proxy, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_retried_before_its_first_row_and_never_after() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let (proxy, pool) = proxied(&server, 1).await;

        // The idle connection dies: opening the stream is a read, re-sent
        // on a new connection.
        proxy.inject(Fault::Fin);
        let mut rows = pool
            .query_stream::<(u32, String)>(PADDED, ())
            .await
            .unwrap();
        let retries = pool.stats().read_retries + pool.stats().bad_conn_retries;
        assert_eq!(retries, 1, "{:?}", pool.stats());

        // Mid-stream, after rows were delivered: the stream ends with an
        // error saying so, and nothing is re-sent.
        for expected in 0..10 {
            assert_eq!(rows.next().await.unwrap().unwrap().0, expected);
        }
        proxy.inject(Fault::Reset);
        let mut next = 10;
        let err = loop {
            match rows
                .next()
                .await
                .expect("the stream ended without an error")
            {
                Ok((n, _pad)) => {
                    assert_eq!(n, next, "no row twice, none skipped");
                    next += 1;
                }
                Err(e) => break e,
            }
        };
        match err.kind() {
            ErrorKind::StreamInterrupted {
                rows: delivered, ..
            } => {
                assert_eq!(*delivered, u64::from(next));
            }
            other => panic!("expected StreamInterrupted, got {other:?}"),
        }
        assert!(err.may_have_run());
        assert!(err.to_string().contains("not re-sent"), "{err}");
        assert!(
            rows.next().await.is_none(),
            "an interrupted stream has ended"
        );
        assert!(next < 100_000, "the reset came before the end");
        let stats = pool.stats();
        assert_eq!(
            stats.read_retries + stats.bad_conn_retries,
            retries,
            "{stats:?}"
        );

        // The broken connection was closed; a new one serves the next read.
        let one: Option<i32> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(one, Some(1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_read_resumes_and_a_stream_dropped_mid_read_closes_its_connection() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let (proxy, pool) = proxied(&server, 1).await;

        // Slow the flow: once what is buffered is read, a read waits for
        // the proxy, and a 1 s bound on it expires (the read is cancelled).
        let mut rows = pool
            .query_stream::<(u32, String)>(PADDED, ())
            .await
            .unwrap();
        proxy.inject(Fault::Latency(Duration::from_millis(1500)));
        let mut next = 0;
        loop {
            match tokio::time::timeout(Duration::from_secs(1), rows.next()).await {
                Ok(Some(row)) => {
                    assert_eq!(row.unwrap().0, next);
                    next += 1;
                }
                Ok(None) => panic!("all {next} rows came before the latency did"),
                Err(_cancelled) => break,
            }
        }
        // The cancelled read goes on where it stopped.
        proxy.inject(Fault::Latency(Duration::ZERO));
        while let Some(row) = rows.next().await {
            assert_eq!(
                row.unwrap().0,
                next,
                "no row lost or repeated by the cancel"
            );
            next += 1;
        }
        assert_eq!(next, 100_000);
        assert_eq!(pool.stats().broken_closed, 0);

        // A stream dropped while a read is in flight: the connection is
        // mid-packet, so it is closed, and the pool opens another.
        let mut rows = pool.query_stream::<Row>(PADDED, ()).await.unwrap();
        proxy.inject(Fault::Blackhole);
        while let Ok(row) = tokio::time::timeout(Duration::from_secs(1), rows.next()).await {
            row.expect("the whole result came before the black hole")
                .unwrap();
        }
        drop(rows);
        assert_eq!(pool.stats().broken_closed, 1, "{:?}", pool.stats());
        let one: Option<i32> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(one, Some(1));

        // The same in a transaction: the transaction cannot go on.
        let mut tx = pool.begin().await.unwrap();
        let mut rows = tx.query_stream::<Row>(PADDED, ()).await.unwrap();
        proxy.inject(Fault::Blackhole);
        while let Ok(row) = tokio::time::timeout(Duration::from_secs(1), rows.next()).await {
            row.expect("the whole result came before the black hole")
                .unwrap();
        }
        drop(rows);
        let err = tx.query_first::<i32>("SELECT 1", ()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TransactionClosed),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_statement_timeout_bounds_each_wait_for_the_server_not_the_reader() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let mut options = PoolOptions::from_url(server.url()).unwrap();
        options.statement_timeout = Some(Duration::from_secs(1));
        options.on_violation = BootPolicy::all(Policy::Warn);
        let pool = Pool::builder(options).connect().await.unwrap();

        // A slow reader: more time between rows than the timeout.
        let mut rows = pool
            .query_stream::<i32>("SELECT d FROM digits ORDER BY d", ())
            .await
            .unwrap();
        assert_eq!(rows.next().await.unwrap().unwrap(), 0);
        // The passage of time is the scenario: the reader idles longer
        // than the statement timeout between two rows.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut rest = Vec::new();
        while let Some(d) = rows.next().await {
            rest.push(d.unwrap());
        }
        assert_eq!(rest, (1..10).collect::<Vec<_>>());

        // A slow server: the wait for a row is bounded.
        // Rows of 20 kB leave the server's 16 kB buffer at once: the first
        // ones arrive, the one after the sleep does not within 1 s.
        let slow = "SELECT d, REPEAT('x', 20000), SLEEP(IF(d = 5, 3, 0)) FROM digits";
        let mut rows = pool
            .query_stream::<(i32, String, i32)>(slow, ())
            .await
            .unwrap();
        let err = loop {
            match rows.next().await.expect("the slow row came in time") {
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err.kind(), ErrorKind::StatementTimeout { .. }),
            "{err:?}"
        );
        assert!(
            (1..=5).contains(&rows.rows_delivered()),
            "the rows before the sleep came: {}",
            rows.rows_delivered()
        );
        assert!(rows.next().await.is_none(), "a timed-out stream has ended");
        let stats = pool.stats();
        assert_eq!(stats.statement_timeouts, 1, "{stats:?}");
        assert_eq!(
            stats.in_use, 0,
            "the timed-out connection was closed: {stats:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_statement_timeout_bounds_that_handles_statements_and_transactions_only() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let mut admin = tables(&server).await;
        // The pool has no statement timeout.
        let pool = pool(server.url(), 2).await;
        let second = Duration::from_secs(1);
        let short = pool.with_statement_timeout(Some(second));

        // SLEEP(1.5): the passage of time is the scenario, longer than the
        // handle's 1 s bound.
        let slow = "SELECT 7 + SLEEP(1.5)";
        let err = short.query_first::<i64>(slow, ()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::StatementTimeout { timeout } if *timeout == second),
            "{err:?}"
        );
        assert!(err.may_have_run());
        let stats = pool.stats();
        assert_eq!(
            stats.statement_timeouts, 1,
            "one set of counters: {stats:?}"
        );
        assert_eq!(
            stats.read_retries + stats.bad_conn_retries,
            0,
            "a timed-out read is not re-sent: {stats:?}"
        );
        // The pool it came from is not bounded, nor is a handle that says
        // `None` on a bounded one.
        assert_eq!(pool.query_first::<i64>(slow, ()).await.unwrap(), Some(7));
        let unbounded = short.with_statement_timeout(None);
        assert_eq!(
            unbounded.query_first::<i64>(slow, ()).await.unwrap(),
            Some(7)
        );
        assert_eq!(pool.stats().statement_timeouts, 1);

        // A transaction from the bounded handle is bounded too: a statement
        // past the bound ends the transaction, whose work the server rolls
        // back with the closed connection.
        let mut tx = short.begin().await.unwrap();
        tx.exec("INSERT INTO t VALUES (1)", ()).await.unwrap();
        let err = tx.query_first::<i64>(slow, ()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::StatementTimeout { .. }),
            "{err:?}"
        );
        assert!(err.may_have_run());
        let err = tx.exec("INSERT INTO t VALUES (2)", ()).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TransactionClosed),
            "{err:?}"
        );
        let err = tx.conn().unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TransactionClosed),
            "{err:?}"
        );
        let err = tx.commit().await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::TransactionClosed),
            "{err:?}"
        );
        assert_eq!(pool.stats().statement_timeouts, 2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            // Polling the server for the rollback of the closed session.
            let n: Option<i64> = admin.query_first("SELECT COUNT(*) FROM t").await.unwrap();
            if n == Some(0) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the timed-out transaction's insert is still there"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_transactions_query_methods_and_its_connection_run_inside_it() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let mut admin = tables(&server).await;
        let pool = pool(server.url(), 1).await;

        let mut tx = pool.begin().await.unwrap();
        tx.exec("INSERT INTO t VALUES (1)", ()).await.unwrap();
        let keys: Vec<i32> = tx.query("SELECT k FROM t", ()).await.unwrap();
        assert_eq!(keys, [1], "the transaction sees its own row");
        let first: Option<i32> = tx
            .query_first("SELECT k FROM t WHERE k = ?", (1,))
            .await
            .unwrap();
        assert_eq!(first, Some(1));
        let none: Option<i32> = tx
            .query_first("SELECT k FROM t WHERE k = ?", (9,))
            .await
            .unwrap();
        assert_eq!(none, None);
        // The raw connection is the transaction's.
        let conn = tx.conn().unwrap();
        let in_tx: Option<i32> = conn.query_first("SELECT @@in_transaction").await.unwrap();
        assert_eq!(in_tx, Some(1));
        conn.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
        let keys: Vec<i32> = tx.query("SELECT k FROM t ORDER BY k", ()).await.unwrap();
        assert_eq!(keys, [1, 2]);
        // Nobody else sees it before COMMIT...
        let outside: Option<i64> = admin.query_first("SELECT COUNT(*) FROM t").await.unwrap();
        assert_eq!(outside, Some(0));
        tx.commit().await.unwrap();
        // ...everybody after.
        let outside: Vec<i32> = admin.query("SELECT k FROM t ORDER BY k").await.unwrap();
        assert_eq!(outside, [1, 2]);

        // And what the raw connection did is rolled back with the rest.
        let mut tx = pool.begin().await.unwrap();
        tx.conn()
            .unwrap()
            .query_drop("INSERT INTO t VALUES (3)")
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let keys: Vec<i32> = pool.query("SELECT k FROM t ORDER BY k", ()).await.unwrap();
        assert_eq!(keys, [1, 2]);
        let stats = pool.stats();
        assert_eq!(stats.open, 1, "{stats:?}");
        assert_eq!(
            stats.bad_conn_retries + stats.read_retries + stats.maybe_executed,
            0,
            "{stats:?}"
        );
    })
    .await;
}

// ---------------------------------------------------------------- Executor

/// Written once, for a pool or a transaction.
async fn add_then_count(mut db: impl Executor, k: i32) -> Result<i64, Error> {
    db.exec("INSERT INTO t VALUES (?)", (k,)).await?;
    let keys: Vec<i32> = db.query("SELECT k FROM t WHERE k = ?", (k,)).await?;
    assert_eq!(keys, [k]);
    let mut rows = db.query_stream::<i32>("SELECT k FROM t", ()).await?;
    let mut streamed = 0;
    while let Some(row) = rows.next().await {
        row?;
        streamed += 1;
    }
    drop(rows);
    let count: Option<i64> = db.query_first("SELECT COUNT(*) FROM t", ()).await?;
    assert_eq!(count, Some(streamed));
    Ok(streamed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_function_runs_on_a_pool_a_transaction_and_in_a_spawned_task() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let _admin = tables(&server).await;
        let pool = pool(server.url(), 2).await;

        assert_eq!(add_then_count(&pool, 1).await.unwrap(), 1);

        let mut tx = pool.begin().await.unwrap();
        assert_eq!(add_then_count(&mut tx, 2).await.unwrap(), 2);
        // The transaction is still ours after the call.
        tx.rollback().await.unwrap();

        let task = {
            let pool = pool.clone();
            tokio::spawn(async move { add_then_count(&pool, 3).await })
        };
        assert_eq!(task.await.unwrap().unwrap(), 2);
        let task = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut tx = pool.begin().await?;
                let n = add_then_count(&mut tx, 4).await?;
                tx.commit().await?;
                Ok::<_, Error>(n)
            })
        };
        assert_eq!(task.await.unwrap().unwrap(), 3);

        let keys: Vec<i32> = pool.query("SELECT k FROM t ORDER BY k", ()).await.unwrap();
        assert_eq!(keys, [1, 3, 4], "the rolled-back insert is gone");
    })
    .await;
}

// ---------------------------------------------------------------- connect

#[tokio::test]
async fn pool_connect_opens_a_checked_pool_from_a_url() {
    within(async {
        let server = TestServer::start().await.unwrap();
        let pool = Pool::connect(server.url()).await.unwrap();
        let one: Option<i32> = pool.query_first("SELECT 1", ()).await.unwrap();
        assert_eq!(one, Some(1));
        assert_eq!(pool.options().max_open, PoolOptions::default().max_open);
        assert!(!pool.boot_report().is_rejected());
        pool.close().await;

        // The first connection's checks run too.
        let url = server.url().replacen("root", "nobody", 1);
        let err = Pool::connect(&url).await.unwrap_err();
        assert!(matches!(err, BootError::AccessDenied { .. }), "{err:?}");
    })
    .await;
}

/// Display, Debug and every source below.
fn everything_said(e: &(dyn std::error::Error + 'static)) -> String {
    let mut said = format!("{e} | {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        said.push_str(&format!(" | {s}"));
        source = s.source();
    }
    said
}

#[tokio::test]
async fn a_bad_url_is_a_clear_boot_error_that_never_shows_the_password() {
    within(async {
        let cases = [
            ("mysql://app:hunter2@db.internal:33o6/shop", "port"),
            (
                "mysql://app:hunter2@db.internal:3306/shop?prefer_socket=maybe",
                "prefer_socket",
            ),
            // Unencoded `/` and `#` in the password: the driver rejects these.
            ("mysql://app:hun/ter2@db.internal:3306/shop", "invalid"),
            ("mysql://app:hun#ter2@db.internal:3306/shop", "invalid"),
            ("postgres://app:hunter2@db.internal/shop", "scheme"),
        ];
        for (url, problem) in cases {
            let err = Pool::connect(url).await.unwrap_err();
            assert!(matches!(err, BootError::InvalidUrl(_)), "{url}: {err:?}");
            let said = everything_said(&err);
            for secret in ["hunter2", "hun", "ter2"] {
                assert!(!said.contains(secret), "{url}: the password leaked: {said}");
            }
            assert!(said.to_lowercase().contains(problem), "{url}: {said}");
            assert!(said.contains("app:***@"), "{url}: {said}");
        }
    })
    .await;
}
