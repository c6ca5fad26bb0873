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
