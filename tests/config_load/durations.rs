//! Durations: plain seconds or with units, from YAML and environment, and
//! `off` for the optional ones.

use std::time::Duration;

use figment::Jail;
use pool_runtime::PoolConfig;

use crate::helpers::*;
use crate::types::Db;

#[test]
fn durations_accept_seconds_and_units_from_yaml_and_env() {
    let cases = [
        ("600", 600),
        ("\"600\"", 600),
        ("\"600s\"", 600),
        ("600s", 600),
        ("10m", 600),
        ("\"10m\"", 600),
        ("1h30m", 5400),
        ("\"1h 30m\"", 5400),
    ];
    for (yaml, secs) in cases {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\nmax_lifetime: {yaml}\n"))?;
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_lifetime, Duration::from_secs(secs), "yaml {yaml}");
            Ok(())
        });
    }
    for (text, secs) in [("600", 600), ("600s", 600), ("10m", 600), ("1h30m", 5400)] {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\n"))?;
            jail.set_env("APP_DB_MAX_LIFETIME", text);
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_lifetime, Duration::from_secs(secs), "env {text}");
            Ok(())
        });
    }
}

#[test]
fn optional_durations_can_be_switched_off() {
    for yaml in ["off", "\"off\"", "~", "never", "none"] {
        Jail::expect_with(|jail| {
            db_file(jail, &format!("url: {URL}\nmax_idle_time: {yaml}\n"))?;
            let cfg = expect_ok(Db::load());
            assert_eq!(cfg.max_idle_time, None, "yaml {yaml}");
            assert_eq!(
                cfg.sources().of("max_idle_time"),
                file(DB_FILE, "max_idle_time")
            );
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        jail.set_env("APP_DB_MAX_IDLE_TIME", "off");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_idle_time, None);
        assert_eq!(
            cfg.sources().of("max_idle_time"),
            env("APP_DB_MAX_IDLE_TIME")
        );
        Ok(())
    });
}
