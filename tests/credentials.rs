//! Rotating credentials against a real throwaway server: `password_file`
//! re-read at every connect (a rotation with no failed query, beside
//! mysql_async's pool and a fixed password, which fail), a custom source
//! refreshed once on access denied and held back when it stays wrong,
//! single-flight fetches, `refresh_credentials`, and the boot errors of a
//! missing, unreadable or empty file and of cleartext auth over plaintext.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{TEST_TIMEOUT, bounded, eventually};
use pool_runtime::boot::Code;
use pool_runtime::mysql_async::{self, prelude::*};
use pool_runtime::pool::PoolError;
use pool_runtime::testkit::TestServer;
use pool_runtime::{
    BootError, CredentialError, CredentialSource, Credentials, FetchError, Pool, PoolOptions,
    SslMode,
};

const P1: &str = "rot-p1-7a6b5c";
const P2: &str = "rot-p2-1d2e3f";
const WRONG: &str = "wrong-9z8y7x";

async fn server_with_app() -> TestServer {
    let server = TestServer::start().await.expect("test server");
    server.create_user("app", P1).await.expect("create app");
    server
}

/// Options for `app` on `server` without a password in the URL.
fn options(server: &TestServer) -> PoolOptions {
    let mut o = PoolOptions::from_url(&server.url_for("app", "").unwrap()).unwrap();
    o.ssl_mode = SslMode::Disabled;
    o
}

/// Writes the file as a secret mount updates it: a new file renamed over
/// the old one, so a reader sees the old or the new password, never half.
fn write_secret(path: &Path, password: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, format!("{password}\n")).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// Everything an error says, with its sources.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = format!("{error} {error:?}");
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(&format!(" / {s}"));
        source = s.source();
    }
    text
}

/// Counts of one query loop.
#[derive(Default)]
struct Tally {
    ok_before: AtomicU64,
    failed_before: AtomicU64,
    ok_after: AtomicU64,
    failed_after: AtomicU64,
}

impl Tally {
    fn count(&self, after: bool, ok: bool) {
        let counter = match (after, ok) {
            (false, true) => &self.ok_before,
            (false, false) => &self.failed_before,
            (true, true) => &self.ok_after,
            (true, false) => &self.failed_after,
        };
        counter.fetch_add(1, Relaxed);
    }

    fn line(&self, who: &str) -> String {
        format!(
            "{who}: before the kill {} ok / {} failed; after {} ok / {} failed",
            self.ok_before.load(Relaxed),
            self.failed_before.load(Relaxed),
            self.ok_after.load(Relaxed),
            self.failed_after.load(Relaxed)
        )
    }

    fn after(&self) -> u64 {
        self.ok_after.load(Relaxed) + self.failed_after.load(Relaxed)
    }
}

/// Runs `tasks` loops of `query` until `stop`, counting by the phase each
/// query started in: "after" starts once every session was killed, so the
/// failures of queries that started while the kill ran count as "before".
fn spawn_loops<F, Fut>(
    tasks: usize,
    tally: &Arc<Tally>,
    killed: &Arc<AtomicBool>,
    stop: &Arc<AtomicBool>,
    query: F,
) -> tokio::task::JoinSet<()>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (tally, killed, stop, query) = (
            Arc::clone(tally),
            Arc::clone(killed),
            Arc::clone(stop),
            query.clone(),
        );
        set.spawn(async move {
            while !stop.load(Relaxed) {
                let after = killed.load(Relaxed);
                let ok = query().await;
                tally.count(after, ok);
                if !ok {
                    // A failing peer fails fast; do not spin the CPU away
                    // from the pool under test.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
    }
    set
}

/// The scenario: 8 tasks query in a loop; the password is changed
/// on the server and in the file; every session of `app` is killed. The
/// pool reading `password_file` fails no query; mysql_async's own pool and
/// this pool with the password fixed in its URL fail every query after the
/// kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotated_password_file_loses_no_query_where_fixed_passwords_fail() {
    bounded("rotation", TEST_TIMEOUT, async {
        let server = server_with_app().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db-password");
        write_secret(&file, P1);

        let mut o = options(&server);
        o.max_open = 8;
        o.max_idle = 8;
        o.password_file = Some(file.clone());
        let rotating = Pool::builder(o).connect().await.expect("boot with the file");
        let report = rotating.boot_report().to_string();
        assert!(report.contains("credentials: password_file"), "{report}");
        assert!(report.contains(&file.display().to_string()), "{report}");

        let fixed_url = server.url_for("app", P1).unwrap();
        let mut fixed_options = PoolOptions::from_url(&fixed_url).unwrap();
        fixed_options.ssl_mode = SslMode::Disabled;
        fixed_options.max_open = 8;
        fixed_options.max_idle = 8;
        let fixed = Pool::builder(fixed_options).connect().await.expect("fixed");
        let theirs = mysql_async::Pool::new(
            mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&fixed_url).unwrap())
                .pool_opts(mysql_async::PoolOpts::default().with_constraints(
                    mysql_async::PoolConstraints::new(8, 8).unwrap(),
                )),
        );

        let killed = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (ours, ours_fixed, peer) = (
            Arc::new(Tally::default()),
            Arc::new(Tally::default()),
            Arc::new(Tally::default()),
        );
        let mut loops = tokio::task::JoinSet::new();
        let p = rotating.clone();
        loops.spawn(join_all(spawn_loops(8, &ours, &killed, &stop, move || {
            let p = p.clone();
            async move { p.query_first::<i64>("SELECT 1", ()).await.is_ok() }
        })));
        let p = fixed.clone();
        loops.spawn(join_all(spawn_loops(8, &ours_fixed, &killed, &stop, move || {
            let p = p.clone();
            async move { p.query_first::<i64>("SELECT 1", ()).await.is_ok() }
        })));
        let p = theirs.clone();
        loops.spawn(join_all(spawn_loops(8, &peer, &killed, &stop, move || {
            let p = p.clone();
            async move {
                match p.get_conn().await {
                    Ok(mut c) => c.query_first::<i64, _>("SELECT 1").await.is_ok(),
                    Err(_) => false,
                }
            }
        })));

        let warm = |t: &Arc<Tally>| t.ok_before.load(Relaxed) >= 200;
        eventually("all three warm", Duration::from_secs(30), || {
            let ready = warm(&ours) && warm(&ours_fixed) && warm(&peer);
            async move { ready.then_some(()) }
        })
        .await;
        let created_before = rotating.stats().connections_created;

        server.set_password("app", P2).await.expect("ALTER USER");
        write_secret(&file, P2);
        let n = server.kill_user_connections("app").await.expect("kill");
        killed.store(true, Relaxed);
        assert!(n >= 16, "only {n} sessions of app were killed");

        eventually("queries after the kill", Duration::from_secs(60), || {
            let done = ours.ok_after.load(Relaxed) >= 2000
                && ours_fixed.after() >= 200
                && peer.after() >= 200;
            async move { done.then_some(()) }
        })
        .await;
        stop.store(true, Relaxed);
        while loops.join_next().await.is_some() {}

        let stats = rotating.stats();
        println!("{}", ours.line("pool-runtime, password_file"));
        println!("{}", ours_fixed.line("pool-runtime, password in the URL"));
        println!("{}", peer.line("mysql_async::Pool, password in the URL"));
        println!(
            "pool-runtime, password_file: {} connections created ({} before the kill), {} bad-conn retries",
            stats.connections_created, created_before, stats.bad_conn_retries
        );
        assert_eq!(ours.failed_before.load(Relaxed), 0, "{}", ours.line("ours"));
        assert_eq!(ours.failed_after.load(Relaxed), 0, "{}", ours.line("ours"));
        assert!(
            stats.connections_created >= created_before + 8,
            "the pool should have reconnected: {stats:?}"
        );
        assert_eq!(
            ours_fixed.ok_after.load(Relaxed),
            0,
            "{}",
            ours_fixed.line("fixed")
        );
        assert!(ours_fixed.failed_after.load(Relaxed) > 0);
        assert_eq!(peer.ok_after.load(Relaxed), 0, "{}", peer.line("mysql_async"));
        assert!(peer.failed_after.load(Relaxed) > 0);

        rotating.close().await;
        fixed.close().await;
        let _ = theirs.disconnect().await;
    })
    .await
}

async fn join_all(mut set: tokio::task::JoinSet<()>) {
    while let Some(done) = set.join_next().await {
        done.expect("query loop");
    }
}

/// A source that answers from a script, then repeats its last answer,
/// counting the fetches.
struct Scripted {
    answers: Mutex<Vec<Credentials>>,
    fetches: AtomicU64,
    /// While set, fetches wait for it to clear.
    gate: tokio::sync::watch::Receiver<bool>,
}

struct ScriptHandle {
    source: Arc<Scripted>,
    gate: tokio::sync::watch::Sender<bool>,
}

impl ScriptHandle {
    fn new(answers: Vec<Credentials>) -> Self {
        let (gate, rx) = tokio::sync::watch::channel(false);
        let source = Arc::new(Scripted {
            answers: Mutex::new(answers),
            fetches: AtomicU64::new(0),
            gate: rx,
        });
        ScriptHandle { source, gate }
    }

    fn then(&self, answer: Credentials) {
        *self.source.answers.lock().unwrap() = vec![answer];
    }

    fn fetches(&self) -> u64 {
        self.source.fetches.load(Relaxed)
    }

    /// The source the pool gets (the test keeps the handle).
    fn source(&self) -> SharedScript {
        SharedScript(Arc::clone(&self.source))
    }
}

struct SharedScript(Arc<Scripted>);

impl CredentialSource for SharedScript {
    fn name(&self) -> &str {
        "scripted-vault"
    }

    async fn fetch(&self) -> Result<Credentials, FetchError> {
        self.0.fetches.fetch_add(1, Relaxed);
        let mut gate = self.0.gate.clone();
        gate.wait_for(|closed| !closed)
            .await
            .map_err(FetchError::new)?;
        let mut answers = self.0.answers.lock().unwrap();
        let answer = if answers.len() > 1 {
            answers.remove(0)
        } else {
            answers
                .first()
                .cloned()
                .ok_or_else(|| FetchError::new("no answer"))?
        };
        Ok(answer)
    }
}

fn app(password: &str) -> Credentials {
    Credentials::new("app", password)
}

fn access_denied(error: &PoolError<mysql_async::Error>) -> Option<&CredentialError> {
    match error {
        PoolError::Connect(e) => CredentialError::of(e),
        _ => None,
    }
}

/// A source's first answer is stale (a token from before a rotation): the
/// refusal leads to one more fetch and a successful connect, at boot and
/// at run time.
#[tokio::test]
async fn a_stale_first_answer_is_refreshed_once_and_the_connect_succeeds() {
    bounded("stale answer", TEST_TIMEOUT, async {
        let server = server_with_app().await;
        let script = ScriptHandle::new(vec![app(WRONG), app(P1)]);
        let failed_before = server.failed_logins().await.unwrap();
        let pool = Pool::builder(options(&server))
            .credentials(script.source())
            .connect()
            .await
            .expect("the second answer works");
        assert_eq!(script.fetches(), 2, "one refresh after the refusal");
        assert_eq!(server.failed_logins().await.unwrap() - failed_before, 1);
        let report = pool.boot_report().to_string();
        assert!(
            report.contains("credentials: credential source `scripted-vault`"),
            "{report}"
        );

        // Rotated on the server; the cached answer goes stale.
        server.set_password("app", P2).await.unwrap();
        script.then(app(P2));
        server.kill_user_connections("app").await.unwrap();
        let n: Option<i64> = pool.query_first("SELECT 1", ()).await.expect("query");
        assert_eq!(n, Some(1));
        assert_eq!(script.fetches(), 3, "one refresh for the rotation");
        pool.close().await;
    })
    .await
}

/// A source that keeps giving a wrong password: `AccessDenied` naming it
/// after one refresh, at boot; at run time acquires fail at once while it
/// is held back, and the server sees a handful of failed logins, not one
/// per acquire. `refresh_credentials` ends the hold-back.
#[tokio::test]
async fn a_source_that_stays_wrong_is_access_denied_and_held_back() {
    bounded("wrong source", TEST_TIMEOUT, async {
        let server = server_with_app().await;

        let wrong = ScriptHandle::new(vec![app(WRONG)]);
        let error = Pool::builder(options(&server))
            .credentials(wrong.source())
            .connect()
            .await
            .expect_err("a wrong password cannot boot");
        let text = chain(&error);
        assert!(
            matches!(&error, BootError::Credentials(CredentialError::AccessDenied { from, .. }) if from.contains("scripted-vault")),
            "{text}"
        );
        assert_eq!(wrong.fetches(), 2, "one refresh, then the refusal");
        assert!(!text.contains(WRONG), "{text}");

        let script = ScriptHandle::new(vec![app(P1)]);
        let mut o = options(&server);
        o.max_open = 4;
        let pool = Pool::builder(o)
            .credentials(script.source())
            .connect()
            .await
            .expect("boot");
        server.set_password("app", P2).await.unwrap();
        script.then(app(WRONG));
        pool.refresh_credentials();
        let failed_before = server.failed_logins().await.unwrap();
        let fetches_before = script.fetches();

        let started = Instant::now();
        let mut attempts = 0u32;
        let mut slowest = Duration::ZERO;
        while started.elapsed() < Duration::from_secs(3) {
            let began = Instant::now();
            let error = pool.get().await.expect_err("a wrong password");
            slowest = slowest.max(began.elapsed());
            let denied = access_denied(&error).unwrap_or_else(|| panic!("{error:?}"));
            let text = chain(&error);
            assert!(
                matches!(denied, CredentialError::AccessDenied { from, .. } if from.contains("scripted-vault")),
                "{text}"
            );
            assert!(!text.contains(WRONG) && !text.contains(P2), "{text}");
            attempts += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let failed = server.failed_logins().await.unwrap() - failed_before;
        println!(
            "{attempts} acquires in 3 s with a wrong password: {failed} failed logins on the server, \
             {} fetches, slowest acquire {slowest:?}",
            script.fetches() - fetches_before
        );
        assert!(attempts >= 20, "{attempts}");
        // 1 s, then 2 s of hold-back: at most three rounds in 3 s.
        assert!((1..=3).contains(&failed), "{failed} failed logins");
        assert!(slowest < pool.options().acquire_timeout / 2, "{slowest:?}");

        script.then(app(P2));
        pool.refresh_credentials();
        let n: Option<i64> = pool.query_first("SELECT 1", ()).await.expect("fixed source");
        assert_eq!(n, Some(1));
        pool.close().await;
    })
    .await
}

/// 64 connects at once, the cached answer expired: one fetch, whose answer
/// all of them use.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_connects_with_an_expired_cache_share_one_fetch() {
    bounded("single flight", TEST_TIMEOUT, async {
        let server = server_with_app().await;
        let script = ScriptHandle::new(vec![app(P1).valid_for(Duration::ZERO)]);
        let mut o = options(&server);
        o.max_open = 65;
        o.max_idle = 65;
        o.acquire_timeout = Duration::from_secs(60);
        o.connect_timeout = Duration::from_secs(30);
        let pool = Pool::builder(o)
            .credentials(script.source())
            .connect()
            .await
            .expect("boot");
        assert_eq!(script.fetches(), 1);
        let boot_conn = pool.get().await.expect("the boot connection");

        script.then(app(P1).valid_for(Duration::from_secs(3600)));
        script.gate.send_replace(true);
        let mut gets = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let pool = pool.clone();
            gets.spawn(async move { pool.get().await.map(drop) });
        }
        // Every connect holds its permit while it waits for the one fetch.
        eventually("64 connects under way", Duration::from_secs(30), || {
            let open = pool.stats().open;
            async move { (open == 65).then_some(()) }
        })
        .await;
        script.gate.send_replace(false);
        while let Some(done) = gets.join_next().await {
            done.unwrap().expect("connect");
        }
        assert_eq!(script.fetches(), 2, "64 connects, one fetch");
        drop(boot_conn);
        pool.close().await;
    })
    .await
}

/// `refresh_credentials` retires the connections opened with the old
/// password: idle ones at once, the one in use when it comes back.
#[tokio::test]
async fn refresh_credentials_retires_connections_opened_before() {
    bounded("refresh", TEST_TIMEOUT, async {
        let server = server_with_app().await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        write_secret(&file, P1);
        let mut o = options(&server);
        o.max_open = 4;
        o.max_idle = 4;
        o.password_file = Some(file.clone());
        let pool = Pool::builder(o).connect().await.expect("boot");
        let held = pool.get().await.unwrap();
        let other = pool.get().await.unwrap();
        drop(other);
        eventually("one idle connection", Duration::from_secs(10), || {
            let idle = pool.stats().idle;
            async move { (idle == 1).then_some(()) }
        })
        .await;
        assert_eq!(server.user_connections("app").await.unwrap(), 2);
        server.set_password("app", P2).await.unwrap();
        write_secret(&file, P2);
        assert_eq!(pool.refresh_credentials(), 1, "the idle one");
        drop(held);
        assert_eq!(pool.stats().idle, 0, "the held one retired on return");
        eventually("old sessions gone", Duration::from_secs(10), || async {
            (server.user_connections("app").await.ok()? == 0).then_some(())
        })
        .await;
        let n: Option<i64> = pool
            .query_first("SELECT 1", ())
            .await
            .expect("new password");
        assert_eq!(n, Some(1));
        pool.close().await;
    })
    .await
}

async fn boot_error_of(o: PoolOptions) -> BootError {
    bounded("boot", TEST_TIMEOUT, Pool::builder(o).connect())
        .await
        .expect_err("the boot should fail")
}

/// No server is contacted: the file is read before the first connect.
fn with_file(path: PathBuf) -> PoolOptions {
    let mut o = PoolOptions::from_url("mysql://app@127.0.0.1:9/test").unwrap();
    o.ssl_mode = SslMode::Disabled;
    o.password_file = Some(path);
    o
}

#[tokio::test]
async fn a_missing_unreadable_or_empty_password_file_fails_the_boot_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    // A directory cannot be read as a file, also by root (chmod 000 would be).
    let directory = dir.path().to_path_buf();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    for (path, says) in [
        (missing, "no such file"),
        (directory, "directory"),
        (empty, "is empty"),
    ] {
        let error = boot_error_of(with_file(path.clone())).await;
        let text = error.to_string();
        assert!(matches!(error, BootError::Credentials(_)), "{error:?}");
        assert!(text.contains("password_file"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(says), "{text}");
    }
}

#[tokio::test]
async fn a_password_in_the_url_and_in_a_file_is_refused_as_ambiguous() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    write_secret(&file, P1);
    let mut o = with_file(file);
    o.url = Some(
        pool_runtime::DatabaseUrl::parse(&format!("mysql://app:{P2}@127.0.0.1:9/test")).unwrap(),
    );
    let error = boot_error_of(o).await;
    let text = chain(&error);
    assert!(
        matches!(
            error,
            BootError::Credentials(CredentialError::Ambiguous { .. })
        ),
        "{text}"
    );
    assert!(text.contains("one place"), "{text}");
    assert!(!text.contains(P1) && !text.contains(P2), "{text}");
}

/// `mysql_clear_password` over plaintext (or unverified TLS) is refused
/// before any password is sent, with its rule code; over verified TLS it
/// boots.
#[tokio::test]
async fn cleartext_auth_without_verified_tls_is_refused_at_boot_with_its_code() {
    for (url, mode) in [
        ("mysql://app@127.0.0.1:9/test", SslMode::Disabled),
        ("mysql://app@127.0.0.1:9/test", SslMode::Preferred),
        ("mysql://app@127.0.0.1:9/test", SslMode::Required),
        (
            "mysql://app@127.0.0.1:9/test?enable_cleartext_plugin=true",
            SslMode::Disabled,
        ),
    ] {
        let mut o = PoolOptions::from_url(url).unwrap();
        o.ssl_mode = mode;
        o.allow_cleartext_password = !url.contains("cleartext");
        let error = boot_error_of(o).await;
        assert_eq!(
            error.code(),
            Some(Code::CleartextPasswordWithoutTls),
            "{error}"
        );
        let text = error.to_string();
        assert!(text.contains("cleartext_password_without_tls"), "{text}");
        assert!(text.contains("verify_identity"), "{text}");
    }

    bounded("cleartext over verified TLS", TEST_TIMEOUT, async {
        let server = TestServer::builder()
            .tls()
            .start()
            .await
            .expect("TLS server");
        let tls = server.tls().expect("TLS");
        let mut o = PoolOptions::from_url(server.url()).unwrap();
        o.ssl_mode = SslMode::VerifyIdentity;
        o.ssl_ca = Some(tls.ca_path().to_path_buf());
        o.allow_cleartext_password = true;
        let pool = Pool::builder(o).connect().await.expect("verified TLS");
        pool.close().await;
    })
    .await
}
