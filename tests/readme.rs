//! The README's generated tables (the settings' keys, the metrics) are
//! their sources' own renderings, never typed.
//!
//! After adding or changing a setting or a metric, `UPDATE_README=1 cargo
//! test --test readme` rewrites the tables in place; review the diff.

use std::sync::Mutex;

/// Both table tests read and may rewrite README.md: one at a time.
static README: Mutex<()> = Mutex::new(());

/// Checks that the part of the README between `start` and `end` is
/// `expected` (what `what` renders), or rewrites it when `UPDATE_README` is set.
fn check_generated(start: &str, end: &str, expected: &str, what: &str) {
    let _one_at_a_time = README.lock().unwrap_or_else(|e| e.into_inner());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let from = readme
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("README.md has the marker {start:?}"));
    let to = from
        + readme[from..]
            .find(end)
            .unwrap_or_else(|| panic!("README.md has the marker {end:?}"));
    if readme[from..to] == *expected {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..from], &readme[to..]);
        std::fs::write(path, updated).expect("README.md is writable");
        return;
    }
    panic!(
        "README.md's table differs from {what}; run `UPDATE_README=1 cargo test --test readme` \
         and review the diff. Expected:\n{expected}"
    );
}

#[test]
fn the_readme_key_table_is_the_settings_table() {
    check_generated(
        "<!-- settings table: generated from the settings table, see tests/readme.rs -->\n",
        "<!-- end of settings table -->",
        &pool_runtime::config::settings_markdown(),
        "the settings table",
    );
}

#[test]
fn the_readme_cluster_key_table_is_the_cluster_settings_table() {
    check_generated(
        "<!-- cluster settings table: generated from the cluster settings table, see tests/readme.rs -->\n",
        "<!-- end of cluster settings table -->",
        &pool_runtime::config::cluster_settings_markdown(),
        "the cluster settings table",
    );
}

#[test]
fn every_setting_is_in_the_readme_once() {
    let readme = include_str!("../README.md");
    for setting in pool_runtime::config::SETTINGS {
        let row = format!("| `{}` |", setting.key);
        assert_eq!(readme.matches(&row).count(), 1, "{}", setting.key);
    }
}

/// The README's list of metrics is `pool_runtime::metrics::METRICS`.
#[test]
fn the_readme_metrics_table_is_the_metrics_table() {
    check_generated(
        "<!-- metrics table: generated from pool_runtime::metrics::METRICS, see tests/readme.rs -->\n",
        "<!-- end of metrics table -->",
        &pool_runtime::metrics::markdown_table(),
        "pool_runtime::metrics::METRICS",
    );
}
