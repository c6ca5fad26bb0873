//! The URL: required, checked at load, and never printed with its password.

use figment::Jail;
use pool_runtime::PoolConfig;

use crate::helpers::*;
use crate::types::{Db, OptionalFile, TypedUrl};

#[test]
fn missing_url_says_where_to_set_it() {
    Jail::expect_with(|jail| {
        db_file(jail, "max_open: 5\n")?;
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        let found = issue(&err, "url");
        assert!(found.problem.contains("missing"), "{found:?}");
        let text = err.to_string();
        assert!(text.contains(&format!("`url` in {DB_FILE}")), "{text}");
        assert!(text.contains("APP_DB_URL"), "{text}");
        Ok(())
    });
}

#[test]
fn missing_url_without_the_optional_file_names_the_variable() {
    Jail::expect_with(|_jail| {
        let err = expect_err(OptionalFile::load());
        let text = err.to_string();
        assert!(text.contains("APP_OPT_URL"), "{text}");
        Ok(())
    });
}

#[test]
fn an_invalid_url_is_refused_at_load_with_its_source() {
    // `url: String`, as in the design document.
    Jail::expect_with(|jail| {
        db_file(jail, "url: notaurl\n")?;
        let err = expect_err(Db::load());
        assert_single_issue(&err, "url", &file(DB_FILE, "url"), "");
        Ok(())
    });
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env(
            "APP_DB_URL",
            "mysql://app:hunter2-Pa55@db.internal:notaport/shop",
        );
        let err = expect_err(Db::load());
        assert_single_issue(&err, "url", &env("APP_DB_URL"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        Ok(())
    });
}

#[test]
fn an_invalid_database_url_is_refused_without_its_password() {
    Jail::expect_with(|jail| {
        jail.create_file("typed.yaml", "url: notaurl\n")?;
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &file("typed.yaml", "url"), "");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file(
            "typed.yaml",
            "url: mysql://app:hunter2-Pa55@db.internal:notaport/shop\n",
        )?;
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &file("typed.yaml", "url"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        assert!(all.contains("db.internal"), "the host helps find it: {all}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("typed.yaml", "")?;
        jail.set_env(
            "APP_TYPED_URL",
            "mysql://app:hunter2-Pa55@db.internal:notaport/shop",
        );
        let err = expect_err(TypedUrl::load());
        assert_single_issue(&err, "url", &env("APP_TYPED_URL"), "");
        let all = format!("{err}\n{err:?}");
        assert!(!all.contains("hunter2-Pa55"), "{all}");
        Ok(())
    });
}
