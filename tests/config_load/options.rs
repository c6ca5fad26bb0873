//! `options()`: a loaded config onto `PoolOptions`.

use std::time::Duration;

use figment::Jail;
use pool_runtime::{PoolConfig, PoolOptions, ResetPolicy};

use crate::helpers::*;
use crate::types::{Db, Mapped};

#[test]
fn options_map_every_setting_onto_pool_options() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "map.yaml",
            "url: mysql://app:pw@db.internal:3307/shop\n\
             max_open: 40\n\
             max_idle: 12\n\
             min_idle: 3\n\
             max_lifetime: 20m\n\
             max_idle_time: 4m\n\
             acquire_timeout: 7s\n\
             connect_timeout: 3s\n\
             validation_timeout: 250ms\n\
             validate_after_idle: 2s\n\
             keepalive_interval: 90s\n\
             tcp_keepalive: off\n\
             init_sql:\n  - SET NAMES utf8mb4\n  - SET time_zone = '+00:00'\n\
             leak_threshold: 1m\n\
             maintenance_interval: 5s\n\
             reset_on_return: always\n\
             retry_reads: false\n\
             statement_timeout: 15s\n",
        )?;
        let cfg = expect_ok(Mapped::load());
        let options = cfg.options();

        let mut expected =
            PoolOptions::from_url("mysql://app:pw@db.internal:3307/shop").expect("url");
        expected.max_open = 40;
        expected.max_idle = 12;
        expected.min_idle = 3;
        expected.max_lifetime = Some(Duration::from_secs(20 * 60));
        expected.max_idle_time = Some(Duration::from_secs(4 * 60));
        expected.acquire_timeout = Duration::from_secs(7);
        expected.connect_timeout = Duration::from_secs(3);
        expected.validation_timeout = Some(Duration::from_millis(250));
        expected.validate_after_idle = Duration::from_secs(2);
        expected.keepalive_interval = Some(Duration::from_secs(90));
        expected.tcp_keepalive = None;
        expected.init_sql = vec![
            "SET NAMES utf8mb4".to_owned(),
            "SET time_zone = '+00:00'".to_owned(),
        ];
        expected.leak_threshold = Some(Duration::from_secs(60));
        expected.maintenance_interval = Duration::from_secs(5);
        expected.reset_on_return = ResetPolicy::Always;
        expected.retry_reads = false;
        expected.statement_timeout = Some(Duration::from_secs(15));
        expected.instances = 3;

        // Each expected value differs from the default, so none can pass by accident.
        let defaults = PoolOptions::default();
        assert_ne!(expected.max_open, defaults.max_open);
        assert_ne!(expected.tcp_keepalive, defaults.tcp_keepalive);
        assert_ne!(expected.reset_on_return, defaults.reset_on_return);
        assert_ne!(expected.retry_reads, defaults.retry_reads);
        assert_ne!(expected.instances, defaults.instances);

        assert_eq!(options, expected);
        // `Loaded::options` and the config's own agree.
        assert_eq!(cfg.options(), (*cfg).options());
        Ok(())
    });
}

#[test]
fn options_keep_pool_defaults_for_settings_the_config_does_not_name() {
    Jail::expect_with(|jail| {
        db_file(jail, &format!("url: {URL}\n"))?;
        let cfg = expect_ok(Db::load());
        let options = cfg.options();
        let defaults = PoolOptions::default();
        assert_eq!(
            options.url.as_ref().map(|u| u.to_string()).as_deref(),
            Some(URL)
        );
        assert_eq!(options.max_open, 100);
        assert_eq!(options.max_idle, 10);
        assert_eq!(options.max_lifetime, Some(Duration::from_secs(1800)));
        assert_eq!(options.max_idle_time, Some(Duration::from_secs(300)));
        assert_eq!(options.min_idle, defaults.min_idle);
        assert_eq!(options.connect_timeout, defaults.connect_timeout);
        assert_eq!(options.instances, 1);
        Ok(())
    });
}
