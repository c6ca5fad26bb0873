//! `config::in_code`: a value set in code as a layer, named `code` as its
//! source in sources, errors and reports.

use figment::Jail;
use pool_runtime::PoolConfig;
use pool_runtime::config::{Source, in_code};

use crate::helpers::*;
use crate::types::Db;

#[test]
fn a_value_set_in_code_overrides_the_file_and_names_code_as_its_source() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\nmax_open: 5\nmax_idle: 4\n"))?;
        let figment = Db::figment().unwrap().merge(in_code("max_open", 8));
        let loaded = expect_ok(Db::load_from(figment));
        assert_eq!(loaded.max_open, 8);
        assert_eq!(loaded.sources().of("max_open"), Source::Code);
        // Keys it does not set keep their own source.
        assert_eq!(loaded.max_idle, 4);
        assert_eq!(loaded.sources().of("max_idle"), file(DB_FILE, "max_idle"));
        assert_eq!(loaded.options().max_open, 8);
        Ok(())
    });
}

#[test]
fn a_bad_value_set_in_code_is_reported_from_code() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        let figment = Db::figment()
            .unwrap()
            .merge(in_code("max_idle", "ten"))
            .merge(in_code("max_lifetime", "10 mintues"));
        let err = expect_err(Db::load_from(figment));
        assert_issue(&err, "max_idle", &Source::Code, "whole number");
        assert_issue(&err, "max_lifetime", &Source::Code, "mintues");
        let text = err.to_string();
        assert!(text.contains("from code"), "{text}");
        Ok(())
    });
}
