//! Bad values: each refused with its key and source, never a panic, and all
//! problems of one load reported together.

use figment::Jail;
use pool_runtime::PoolConfig;

use crate::helpers::*;
use crate::types::Db;

#[test]
fn negative_values_are_refused_from_file_and_env() {
    bad_in_file("max_open: -1", "max_open", "max_open", "negative");
    bad_in_env("APP_DB_MAX_OPEN", "-1", "max_open", "negative");
    bad_in_file(
        "max_lifetime: -1",
        "max_lifetime",
        "max_lifetime",
        "negative",
    );
    bad_in_env("APP_DB_MAX_LIFETIME", "-5m", "max_lifetime", "negative");
}

#[test]
fn zero_durations_are_refused_where_they_cannot_work() {
    bad_in_file("max_lifetime: 0s", "max_lifetime", "max_lifetime", "0");
    bad_in_file(
        "acquire_timeout: 0",
        "acquire_timeout",
        "acquire_timeout",
        "longer than 0",
    );
    bad_in_env(
        "APP_DB_ACQUIRE_TIMEOUT",
        "0",
        "acquire_timeout",
        "longer than 0",
    );
    bad_in_env("APP_DB_MAX_IDLE_TIME", "0s", "max_idle_time", "off");
}

/// The fix an error proposes must be one the field accepts: `max_lifetime`
/// is a plain `Duration` here, so "write `off`" cannot be the advice.
#[test]
fn zero_duration_advice_is_accepted_by_the_field() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\nmax_lifetime: 0s\n"))?;
        let err = expect_err(Db::load());
        let problem = issue(&err, "max_lifetime").problem.clone();
        if problem.contains("`off`") {
            db_file(jail, &format!("url: {URL}\nmax_lifetime: off\n"))?;
            let followed = Db::load();
            assert!(
                followed.is_ok(),
                "the error said {problem:?}, but following it gives:\n{}",
                followed.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
        Ok(())
    });
}

#[test]
fn huge_counts_are_refused() {
    bad_in_file("max_open: 99999999999", "max_open", "max_open", "too large");
    bad_in_file("max_open: 200000", "max_open", "max_open", "100000");
    bad_in_env("APP_DB_MAX_OPEN", "200000", "max_open", "100000");
    bad_in_env(
        "APP_DB_MAX_IDLE",
        "99999999999999999999999999",
        "max_idle",
        "",
    );
}

/// The library refuses durations "longer than a century" as typos; the
/// rule must not depend on whether the value was written with units.
#[test]
fn huge_durations_are_refused_whatever_their_spelling() {
    bad_in_file(
        "max_lifetime: 1000000000000s",
        "max_lifetime",
        "max_lifetime",
        "too large",
    );
    bad_in_file(
        "max_lifetime: 1000000000000",
        "max_lifetime",
        "max_lifetime",
        "too large",
    );
    bad_in_env(
        "APP_DB_MAX_LIFETIME",
        "18446744073709551615",
        "max_lifetime",
        "too large",
    );
    bad_in_file(
        "max_lifetime: 999999999999999999999h",
        "max_lifetime",
        "max_lifetime",
        "",
    );
}

#[test]
fn wrong_types_are_refused() {
    bad_in_file("max_open: ten", "max_open", "max_open", "whole number");
    bad_in_env("APP_DB_MAX_OPEN", "ten", "max_open", "whole number");
    bad_in_file("max_open: 1.5", "max_open", "max_open", "");
    bad_in_file(
        "max_lifetime: [1, 2]",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
    bad_in_file(
        "max_lifetime: {a: 1}",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
    bad_in_file(
        "max_lifetime: true",
        "max_lifetime",
        "max_lifetime",
        "duration",
    );
}

#[test]
fn misspelt_durations_quote_the_typo() {
    bad_in_file(
        "max_lifetime: 10 mintues",
        "max_lifetime",
        "max_lifetime",
        "mintues",
    );
    bad_in_env(
        "APP_DB_MAX_LIFETIME",
        "10 mintues",
        "max_lifetime",
        "mintues",
    );
    bad_in_file(
        "max_idle_time: \"10 mintues\"",
        "max_idle_time",
        "max_idle_time",
        "mintues",
    );
}

#[test]
fn all_problems_are_reported_together() {
    Jail::expect_with(|jail| {
        db_file(
            jail,
            &format!("url: {URL}\nmax_open: ten\nmax_lifetime: 10 mintues\n"),
        )?;
        jail.set_env("APP_DB_MAX_IDLE", "-1");
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 3, "{err}");
        assert_issue(&err, "max_open", &file(DB_FILE, "max_open"), "whole number");
        assert_issue(
            &err,
            "max_lifetime",
            &file(DB_FILE, "max_lifetime"),
            "mintues",
        );
        assert_issue(&err, "max_idle", &env("APP_DB_MAX_IDLE"), "negative");
        let text = err.to_string();
        assert!(text.contains("3 config problems"), "{text}");
        Ok(())
    });
}
