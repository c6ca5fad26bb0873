//! How a dropped test server goes away: killed at once, then reaped and its
//! directory removed, without blocking the thread of an async runtime.
//!
//! `Drop` cannot await, and the two things that must follow the kill both
//! block: waiting for the process to exit (milliseconds, more on a loaded
//! machine) and removing its directory (some megabytes; only safe once the
//! process is gone, or it may still create files in it). So:
//!
//! 1. The process is sent `SIGKILL` in `drop` itself, which does not block.
//!    A throwaway server needs no clean shutdown, and from here on it stops
//!    whatever happens to the rest.
//! 2. Inside a Tokio runtime, reaping and removal go to the runtime's
//!    blocking pool. A runtime waits for its blocking pool when it is
//!    dropped, and a blocking task it cancels before it started has its
//!    closure dropped, which does the same work (it lives in `Drop` of
//!    [`Remains`]). So once the runtime of a `#[tokio::test]` or
//!    `#[tokio::main]` is gone, the process is reaped and the directory
//!    removed, also when the test panicked.
//! 3. Outside a runtime, the same work runs right there, with a bounded wait.
//!
//! Rejected: a detached thread (a test binary exits right after its last
//! test, killing the thread mid-way and leaving the directory);
//! `block_in_place` (panics on the current-thread runtime `#[tokio::test]`
//! uses); blocking in `drop` (stalls every task of a current-thread runtime);
//! `kill_on_drop` alone (tokio reaps, but nothing removes the directory).
//!
//! Limit: a runtime that is never dropped (one kept in a `static`) or shut
//! down with `shutdown_background`/`shutdown_timeout` does not wait for its
//! blocking pool. A server dropped just before such a process exits may leave
//! its directory in the temporary directory, never its process.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::process::Child;

use super::process::ServerProcess;

/// How long a killed server may take to exit before its directory is left
/// alone. `SIGKILL` cannot be ignored; only a process stuck in the kernel
/// (a hung disk, say) takes longer.
const REAP_DEADLINE: Duration = Duration::from_secs(10);
/// How often a killed process is checked for exit. There is no exit event
/// to block on for a Tokio child outside a runtime.
const REAP_POLL: Duration = Duration::from_millis(2);

/// Ends a server from `drop`: kills `process` now, then reaps it and removes
/// `dir`, on the current runtime's blocking pool if there is one.
pub(super) fn dispose(process: Option<ServerProcess>, dir: Option<TempDir>) {
    let mut remains = Remains {
        process: process.map(ServerProcess::into_child),
        dir,
    };
    if let Some(child) = &mut remains.process {
        if let Err(error) = child.start_kill() {
            // Only if it was reaped already; reaping below finds out.
            tracing::debug!(%error, "could not kill the test server");
        }
    }
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            // `spawn_blocking` panics only when the OS refuses a thread. The
            // task is queued by then, and its work is still done when it runs
            // or when the runtime drops it. Never panic in drop.
            let handed_over = catch_unwind(AssertUnwindSafe(|| {
                runtime.spawn_blocking(move || drop(remains));
            }));
            if handed_over.is_err() {
                tracing::warn!(
                    "no thread to clean up the test server; it is cleaned up at runtime shutdown"
                );
            }
        }
        Err(_) => drop(remains),
    }
}

/// A killed server process and its directory: dropping it waits (bounded)
/// for the process to exit, then removes the directory.
struct Remains {
    process: Option<Child>,
    dir: Option<TempDir>,
}

impl Drop for Remains {
    fn drop(&mut self) {
        let exited = self.process.as_mut().is_none_or(reap);
        let Some(dir) = self.dir.take() else { return };
        let path = dir.path().to_path_buf();
        if !exited {
            tracing::warn!(dir = %path.display(),
                "the killed test server did not exit; its directory is left in place");
            // Leaves the directory, leaking only its path: `TempDir::keep`
            // is newer than the oldest tempfile this crate accepts.
            std::mem::forget(dir);
            return;
        }
        if let Err(error) = dir.close() {
            tracing::warn!(dir = %path.display(), %error,
                "could not remove the test server's directory");
        }
    }
}

/// Waits up to [`REAP_DEADLINE`] for a killed process to exit; true once it
/// has, or when it cannot be waited for (it was reaped elsewhere).
fn reap(child: &mut Child) -> bool {
    let until = Instant::now() + REAP_DEADLINE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < until => std::thread::sleep(REAP_POLL),
            Ok(None) => return false,
            Err(error) => {
                tracing::debug!(%error, "cannot wait for the killed test server; taking it as gone");
                return true;
            }
        }
    }
}
