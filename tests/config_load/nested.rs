//! Nested configs: one pool of several, dotted keys and `__` variables.

use std::time::Duration;

use figment::Jail;
use pool_runtime::PoolConfig;
use pool_runtime::config::Source;

use crate::helpers::*;
use crate::types::{Inner, Outer};

#[test]
fn nested_configs_load_from_file_and_double_underscore_env() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\n  max_open: 5\nreplica:\n  url: {REPLICA}\n"),
        )?;
        jail.set_env("APP_REPLICA__MAX_OPEN", "7");
        let cfg = expect_ok(Outer::load());
        assert_eq!(cfg.primary.url, PRIMARY);
        assert_eq!(cfg.primary.max_open, 5);
        assert_eq!(cfg.replica.url, REPLICA);
        assert_eq!(cfg.replica.max_open, 7);
        assert_eq!(cfg.replica.max_idle_time, Duration::from_secs(300));

        let s = cfg.sources();
        assert_eq!(
            s.of("primary.max_open"),
            file("app.yaml", "primary.max_open")
        );
        assert_eq!(s.of("primary.url"), file("app.yaml", "primary.url"));
        assert_eq!(s.of("replica.max_open"), env("APP_REPLICA__MAX_OPEN"));
        assert_eq!(s.of("replica.max_idle_time"), Source::Default);

        let replica = cfg.section::<Inner>("replica").expect("replica section");
        assert_eq!(replica.max_open, 7);
        assert_eq!(replica.url, REPLICA);
        assert_eq!(
            replica.sources().of("max_open"),
            env("APP_REPLICA__MAX_OPEN")
        );
        assert_eq!(replica.sources().of("url"), file("app.yaml", "replica.url"));
        assert_eq!(replica.sources().of("max_idle_time"), Source::Default);
        assert!(
            replica
                .sources()
                .iter()
                .all(|(k, _)| !k.starts_with("replica.")),
            "section sources are relative: {:?}",
            replica.sources()
        );

        let primary = cfg.section::<Inner>("primary").expect("primary section");
        assert_eq!(
            primary.sources().of("max_open"),
            file("app.yaml", "primary.max_open")
        );
        assert_eq!(primary.options().max_open, 5);
        Ok(())
    });
}

#[test]
fn nested_problems_name_the_dotted_key_and_the_source() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "app.yaml",
            &format!("primary:\n  url: {PRIMARY}\n  max_opn: 5\nreplica:\n  max_open: 3\n"),
        )?;
        jail.set_env("APP_PRIMARY__MAX_IDLE_TIME", "10 mintues");
        let err = expect_err(Outer::load());
        assert_eq!(err.issues.len(), 3, "{err}");
        assert_issue(
            &err,
            "primary.max_opn",
            &file("app.yaml", "primary.max_opn"),
            "did you mean `max_open`",
        );
        assert_issue(
            &err,
            "primary.max_idle_time",
            &env("APP_PRIMARY__MAX_IDLE_TIME"),
            "mintues",
        );
        let missing = issue(&err, "replica.url");
        assert!(
            missing.problem.contains("`replica.url` in app.yaml"),
            "{missing:?}"
        );
        assert!(missing.problem.contains("APP_REPLICA__URL"), "{missing:?}");
        Ok(())
    });
}
