//! The config file: which one is read, and clear errors when it is missing,
//! unreadable or not YAML.

use std::path::PathBuf;

use figment::Jail;
use pool_runtime::PoolConfig;
use pool_runtime::config::Source;

use crate::helpers::*;
use crate::types::{Db, OptionalFile};

#[test]
fn config_file_variable_overrides_the_attribute() {
    Jail::expect_with(|jail| {
        // The attribute's file exists too: the variable wins over it.
        db_file(jail, &format!("url: {URL}\nmax_open: 1\n"))?;
        jail.create_file("other.yaml", &format!("url: {URL}\nmax_open: 42\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "other.yaml");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_open, 42);
        assert_eq!(cfg.sources().of("max_open"), file("other.yaml", "max_open"));
        Ok(())
    });
}

#[test]
fn config_file_variable_is_not_taken_for_a_key() {
    Jail::expect_with(|jail| {
        jail.create_file("other.yaml", &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "other.yaml");
        // No `config_file` unknown-key issue, and the attribute file need not exist.
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.sources().of("url"), file("other.yaml", "url"));
        Ok(())
    });
}

#[test]
fn missing_attribute_file_names_the_file_and_the_override_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_DB_URL", URL);
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        assert!(text.contains("APP_DB_CONFIG_FILE"), "{text}");
        Ok(())
    });
}

#[test]
fn missing_file_named_by_the_variable_is_an_error_naming_both() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_CONFIG_FILE", "nowhere/db.yaml");
        let err = expect_err(Db::load());
        assert_eq!(err.issues.len(), 1, "{err}");
        assert_eq!(err.issues[0].source, env("APP_DB_CONFIG_FILE"));
        let text = err.to_string();
        assert!(text.contains("nowhere/db.yaml"), "{text}");
        assert!(text.contains("APP_DB_CONFIG_FILE"), "{text}");
        Ok(())
    });
}

#[test]
fn file_optional_makes_an_absent_file_fine() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_OPT_URL", URL);
        let cfg = expect_ok(OptionalFile::load());
        assert_eq!(cfg.max_open, 10);
        assert_eq!(cfg.sources().of("url"), env("APP_OPT_URL"));
        Ok(())
    });
}

#[test]
fn file_optional_still_reads_the_file_when_present() {
    Jail::expect_with(|jail| {
        jail.create_dir("config")?;
        jail.create_file(
            "config/optional.yaml",
            &format!("url: {URL}\nmax_open: 4\n"),
        )?;
        let cfg = expect_ok(OptionalFile::load());
        assert_eq!(cfg.max_open, 4);
        assert_eq!(
            cfg.sources().of("max_open"),
            file("config/optional.yaml", "max_open")
        );
        Ok(())
    });
}

#[test]
fn file_optional_does_not_excuse_a_missing_file_named_by_the_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("APP_OPT_URL", URL);
        jail.set_env("APP_OPT_CONFIG_FILE", "typo.yaml");
        let err = expect_err(OptionalFile::load());
        let text = err.to_string();
        assert!(text.contains("typo.yaml"), "{text}");
        assert_eq!(err.issues[0].source, env("APP_OPT_CONFIG_FILE"));
        Ok(())
    });
}

#[test]
fn a_directory_where_the_file_should_be_is_an_error_naming_it() {
    Jail::expect_with(|jail| {
        jail.create_dir(DB_FILE)?;
        jail.set_env("APP_DB_URL", URL);
        let err = expect_err(Db::load());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        assert!(text.contains("not a file"), "{text}");
        Ok(())
    });
}

#[test]
fn a_file_without_permissions_loads_or_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt as _;
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\nmax_open: 9\n"))?;
        std::fs::set_permissions(DB_FILE, std::fs::Permissions::from_mode(0o000))
            .map_err(|e| e.to_string())?;
        let result = std::panic::catch_unwind(Db::load).expect("load never panics");
        // Restore, so the jail can remove it.
        std::fs::set_permissions(DB_FILE, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| e.to_string())?;
        match result {
            // root reads any file.
            Ok(cfg) => assert_eq!(cfg.max_open, 9),
            Err(err) => {
                let text = err.to_string();
                assert!(text.contains(DB_FILE), "{text}");
                assert!(text.contains("cannot read"), "{text}");
            }
        }
        Ok(())
    });
}

#[test]
fn invalid_yaml_names_the_file() {
    Jail::expect_with(|jail| {
        db_file(jail, "url: [unclosed\nmax_open: 5\n")?;
        let err = expect_err(Db::load());
        assert!(!err.issues.is_empty());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        for issue in &err.issues {
            assert!(
                matches!(&issue.source, Source::File { path, .. } if path == &PathBuf::from(DB_FILE)),
                "{issue:?}"
            );
        }
        Ok(())
    });
}

#[test]
fn yaml_that_is_not_a_mapping_names_the_file() {
    Jail::expect_with(|jail| {
        db_file(jail, "- url\n- max_open\n")?;
        let err = expect_err(Db::load());
        let text = err.to_string();
        assert!(text.contains(DB_FILE), "{text}");
        Ok(())
    });
}
