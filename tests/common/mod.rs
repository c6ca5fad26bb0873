//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test binary uses a part

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// A `tracing` writer into a shared buffer, to assert on what was logged.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Sends this thread's `tracing` events here until the guard drops.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The outer bound of a whole test: generous on a loaded 2-core machine,
/// short enough that a hang fails the run with the test's name.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Runs `work`, failing the test with `what` if it takes longer than
/// `limit`: a hang becomes a named failure instead of a stalled suite.
pub async fn bounded<F: Future>(what: &str, limit: Duration, work: F) -> F::Output {
    match tokio::time::timeout(limit, work).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {limit:?}"),
    }
}

/// Waits for an event instead of sleeping for it: calls `check` until it
/// returns `Some`, and fails the test with `what` if that has not happened
/// within `limit`.
pub async fn eventually<T, Fut>(what: &str, limit: Duration, mut check: impl FnMut() -> Fut) -> T
where
    Fut: Future<Output = Option<T>>,
{
    bounded(what, limit, async {
        loop {
            if let Some(seen) = check().await {
                return seen;
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
}

/// An example's binary, built by cargo beside the test binaries (`cargo
/// build --example NAME` is a no-op when `cargo test` built it).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}
