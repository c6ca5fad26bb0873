//! Precedence and sources: defaults < YAML file < environment, and where each
//! value came from.

use std::time::Duration;

use figment::Jail;
use pool_runtime::PoolConfig;
use pool_runtime::config::Source;

use crate::helpers::*;
use crate::types::Db;

#[test]
fn defaults_then_file_then_env_with_exact_sources() {
    Jail::expect_with(|jail| {
        db_file(
            jail,
            &format!("url: {URL}\nmax_open: 20\nmax_idle: 5\nmax_lifetime: 10m\n"),
        )?;
        jail.set_env("APP_DB_MAX_IDLE", "7");
        jail.set_env("APP_DB_MAX_LIFETIME", "1h30m");

        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.url, URL);
        assert_eq!(cfg.max_open, 20); // file over default
        assert_eq!(cfg.max_idle, 7); // env over file
        assert_eq!(cfg.max_lifetime, Duration::from_secs(5400)); // env over file
        assert_eq!(cfg.max_idle_time, Some(Duration::from_secs(300))); // default
        assert_eq!(cfg.acquire_timeout, Duration::from_secs(30)); // default
        assert_eq!(cfg.app_label, "shop");

        let s = cfg.sources();
        assert_eq!(s.of("url"), file(DB_FILE, "url"));
        assert_eq!(s.of("max_open"), file(DB_FILE, "max_open"));
        assert_eq!(s.of("max_idle"), env("APP_DB_MAX_IDLE"));
        assert_eq!(s.of("max_lifetime"), env("APP_DB_MAX_LIFETIME"));
        assert_eq!(s.of("max_idle_time"), Source::Default);
        assert_eq!(s.of("acquire_timeout"), Source::Default);
        Ok(())
    });
}

#[test]
fn env_alone_overrides_defaults() {
    Jail::expect_with(|jail| {
        db_file(jail, "")?;
        jail.set_env("APP_DB_URL", URL);
        jail.set_env("APP_DB_MAX_OPEN", "33");
        let cfg = expect_ok(Db::load());
        assert_eq!(cfg.max_open, 33);
        assert_eq!(cfg.sources().of("url"), env("APP_DB_URL"));
        assert_eq!(cfg.sources().of("max_open"), env("APP_DB_MAX_OPEN"));
        assert_eq!(cfg.sources().of("max_idle"), Source::Default);
        Ok(())
    });
}
