//! What a written benchmark table names so that it belongs to a commit: the
//! commit, the date, the machine and its load; and the writing of a
//! generated block of BENCHMARKS.md.
//!
//! Included by `compare` (through `common`) and by `core` (by path: it
//! needs nothing else of `common`).

use std::path::PathBuf;

/// BENCHMARKS.md at the workspace root.
pub fn benchmarks_md() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md")
}

/// Replaces what lies between the lines `begin` and `end` of BENCHMARKS.md
/// with `body`.
pub fn write_block(begin: &str, end: &str, body: &str) -> Result<(), String> {
    let path = benchmarks_md();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(at), Some(to)) = (text.find(begin), text.find(end)) else {
        return Err(format!(
            "{} has no generated block (the lines `{begin}` and `{end}`)",
            path.display()
        ));
    };
    let updated = format!("{}{begin}\n\n{}\n{}", &text[..at], body.trim(), &text[to..]);
    std::fs::write(&path, updated).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The commit the run measured (`+dirty` when the tree had changes).
pub fn commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let hash = command_output("git", &["-C", dir, "rev-parse", "--short=7", "HEAD"])
        .unwrap_or_else(|| "unknown".into());
    let dirty = command_output(
        "git",
        &["-C", dir, "status", "--porcelain", "--untracked-files=no"],
    )
    .is_some_and(|s| !s.is_empty());
    if dirty { format!("{hash}+dirty") } else { hash }
}

/// `2026-12-03 10:30` (UTC).
pub fn date_utc() -> String {
    command_output("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_default()
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
}
