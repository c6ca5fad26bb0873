//! `keys()` and `yaml_template()`: every key with its variable and default,
//! and a template that loads back.

use std::time::Duration;

use figment::Jail;
use pool_runtime::config::Setting;
use pool_runtime::{Loaded, PoolConfig};

use crate::helpers::*;
use crate::types::{Db, Every, Outer, TrickyDefault};

#[test]
fn keys_list_every_key_with_env_var_and_default() {
    let keys = Db::keys();
    let got: Vec<(&str, Option<&str>, Option<&str>)> = keys
        .iter()
        .map(|k| (k.key.as_str(), k.env_var.as_deref(), k.default.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("url", Some("APP_DB_URL"), None),
            ("max_open", Some("APP_DB_MAX_OPEN"), Some("100")),
            ("max_idle", Some("APP_DB_MAX_IDLE"), Some("10")),
            ("max_lifetime", Some("APP_DB_MAX_LIFETIME"), Some("30m")),
            ("max_idle_time", Some("APP_DB_MAX_IDLE_TIME"), Some("5m")),
            (
                "acquire_timeout",
                Some("APP_DB_ACQUIRE_TIMEOUT"),
                Some("30s")
            ),
            ("app_label", Some("APP_DB_APP_LABEL"), Some("shop")),
        ]
    );
    let url = &keys[0];
    assert!(url.secret);
    assert_eq!(url.setting, Some(Setting::known("url")));
    assert_eq!(url.doc, "Where the database is.");
    assert_eq!(keys[1].setting, Some(Setting::known("max_open")));
    assert_eq!(keys[1].type_name, "u32");
    assert_eq!(keys[4].type_name, "Option<Duration>");
    assert_eq!(keys[6].setting, None);
    assert!(!keys[6].secret);

    let nested: Vec<(String, Option<String>)> = Outer::keys()
        .into_iter()
        .map(|k| (k.key, k.env_var))
        .collect();
    assert_eq!(
        nested,
        [
            ("primary.url", "APP_PRIMARY__URL"),
            ("primary.max_open", "APP_PRIMARY__MAX_OPEN"),
            ("primary.max_idle_time", "APP_PRIMARY__MAX_IDLE_TIME"),
            ("replica.url", "APP_REPLICA__URL"),
            ("replica.max_open", "APP_REPLICA__MAX_OPEN"),
            ("replica.max_idle_time", "APP_REPLICA__MAX_IDLE_TIME"),
        ]
        .map(|(k, v)| (k.to_owned(), Some(v.to_owned())))
    );

    assert_eq!(Every::keys().len(), 19, "one key per pool setting");
}

#[test]
fn yaml_template_names_every_key_its_variable_and_default() {
    let template = Db::yaml_template();
    for key in Db::keys() {
        assert!(
            template.contains(&format!("{}:", key.key)),
            "template lacks `{}`:\n{template}",
            key.key
        );
        let var = key.env_var.expect("prefixed");
        assert!(
            template.contains(&format!("# env: {var}")),
            "lacks {var}:\n{template}"
        );
        if let Some(default) = key.default {
            // Text defaults are written quoted, so any text survives.
            let plain = format!("{}: {default}", key.key);
            let quoted = format!("{}: {:?}", key.key, default);
            assert!(
                template.contains(&plain) || template.contains(&quoted),
                "lacks the default of {}:\n{template}",
                key.key
            );
        }
    }
    assert!(template.contains("# Where the database is."), "{template}");
}

/// Writes `T`'s template to `path`, with the placeholder URL(s) replaced,
/// and loads it back.
fn round_trip<T: PoolConfig>(path: &str) -> Loaded<T> {
    let template = T::yaml_template().replace(
        "mysql://user:password@127.0.0.1:3306/db",
        "mysql://app@db.internal:3306/shop",
    );
    let mut out = None;
    Jail::expect_with(|jail| {
        if let Some(dir) = std::path::Path::new(path).parent() {
            if !dir.as_os_str().is_empty() {
                jail.create_dir(dir)?;
            }
        }
        jail.create_file(path, &template)?;
        match T::load() {
            Ok(loaded) => out = Some(loaded),
            Err(e) => panic!("the template does not load back:\n{e}\n--- template ---\n{template}"),
        }
        Ok(())
    });
    out.expect("loaded")
}

#[test]
fn yaml_template_round_trips() {
    let db = round_trip::<Db>(DB_FILE);
    assert_eq!(db.max_open, 100);
    assert_eq!(db.max_lifetime, Duration::from_secs(1800));
    assert_eq!(db.max_idle_time, Some(Duration::from_secs(300)));
    assert_eq!(db.app_label, "shop");
    assert_eq!(db.sources().of("max_open"), file(DB_FILE, "max_open"));

    let every = round_trip::<Every>("all.yaml");
    assert_eq!(every.validate_after_idle, Duration::from_millis(500));
    assert_eq!(every.validation_timeout, None);
    assert!(every.init_sql.is_empty());
    assert_eq!(every.options().max_open, 10);

    let outer = round_trip::<Outer>("app.yaml");
    assert_eq!(outer.replica.max_open, 10);
    assert_eq!(
        outer.sources().of("replica.max_open"),
        file("app.yaml", "replica.max_open")
    );
}

#[test]
fn yaml_template_round_trips_a_default_that_needs_quoting() {
    let cfg = round_trip::<TrickyDefault>("tpl.yaml");
    assert_eq!(cfg.app_label, "shop #eu-1: main");
}
