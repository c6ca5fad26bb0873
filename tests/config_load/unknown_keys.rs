//! Unknown keys: refused with the closest known key as a suggestion, at the
//! top level and next to nested sections.

use figment::Jail;
use pool_runtime::PoolConfig;

use crate::helpers::*;
use crate::types::Outer;

#[test]
fn unknown_keys_suggest_the_closest_one() {
    bad_in_file(
        "max_opn: 5",
        "max_opn",
        "max_opn",
        "did you mean `max_open`",
    );
    bad_in_env("APP_DB_MAX_OPN", "5", "max_opn", "did you mean `max_open`");
}

#[test]
fn unknown_top_level_key_next_to_nested_ones() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\nreplica:\n  url: {REPLICA}\nprimry: {{}}\n"),
        )?;
        let err = expect_err(Outer::load());
        assert_single_issue(
            &err,
            "primry",
            &file("app.yaml", "primry"),
            "did you mean `primary`",
        );
        Ok(())
    });
}

/// `#[pool(allow_unknown)]`: a file that holds other settings too.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_LAX", file = "lax.yaml", allow_unknown)]
struct Lax {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
}

#[test]
fn allow_unknown_ignores_other_keys_but_still_checks_known_ones() {
    Jail::expect_with(|jail| {
        let body = format!("url: {URL}\nmax_open: 5\nlog_level: debug\nmax_opn: 7\n");
        jail.create_file("lax.yaml", &body)?;
        jail.set_env("APP_LAX_LOG_FORMAT", "json");
        let loaded = expect_ok(Lax::load());
        assert_eq!(loaded.max_open, 5);
        assert_eq!(
            loaded.sources().of("max_open"),
            file("lax.yaml", "max_open")
        );
        // The same file, strictly: the other keys are refused.
        db_file(jail, &body)?;
        let err = expect_err(crate::types::Db::load());
        assert_issue(&err, "log_level", &file(DB_FILE, "log_level"), "unknown");
        assert_issue(
            &err,
            "max_opn",
            &file(DB_FILE, "max_opn"),
            "did you mean `max_open`",
        );

        // A bad value of a known key is still an error.
        jail.create_file(
            "lax.yaml",
            &format!("url: {URL}\nmax_open: ten\nother: 1\n"),
        )?;
        let err = expect_err(Lax::load());
        assert_single_issue(
            &err,
            "max_open",
            &file("lax.yaml", "max_open"),
            "whole number",
        );
        Ok(())
    });
}
