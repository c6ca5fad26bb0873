//! The README's key table is the settings table, generated, never typed.
//!
//! After adding or changing a setting, `UPDATE_README=1 cargo test --test
//! readme` rewrites the table in place; review the diff.

const START: &str =
    "<!-- settings table: generated from the settings table, see tests/readme.rs -->\n";
const END: &str = "<!-- end of settings table -->";

#[test]
fn the_readme_key_table_is_the_settings_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let start = readme
        .find(START)
        .map(|i| i + START.len())
        .expect("README.md has the settings-table start marker");
    let end = start
        + readme[start..]
            .find(END)
            .expect("README.md has the settings-table end marker");
    let expected = pool_runtime::config::settings_markdown();
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("README.md is writable");
        return;
    }
    panic!(
        "README.md's key table differs from the settings table; run \
         `UPDATE_README=1 cargo test --test readme` and review the diff. Expected:\n{expected}"
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

const METRICS_START: &str =
    "<!-- metrics table: generated from pool_runtime::metrics::METRICS, see tests/readme.rs -->\n";
const METRICS_END: &str = "<!-- end of metrics table -->";

/// The README's list of metrics is `pool_runtime::metrics::METRICS`,
/// generated the same way (`UPDATE_README=1` rewrites it).
#[test]
fn the_readme_metrics_table_is_the_metrics_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README.md is readable");
    let start = readme
        .find(METRICS_START)
        .map(|i| i + METRICS_START.len())
        .expect("README.md has the metrics-table start marker");
    let end = start
        + readme[start..]
            .find(METRICS_END)
            .expect("README.md has the metrics-table end marker");
    let expected = pool_runtime::metrics::markdown_table();
    if readme[start..end] == expected {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
        std::fs::write(path, updated).expect("README.md is writable");
        return;
    }
    panic!(
        "README.md's metrics table differs from pool_runtime::metrics::METRICS; run \
         `UPDATE_README=1 cargo test --test readme` and review the diff. Expected:\n{expected}"
    );
}
