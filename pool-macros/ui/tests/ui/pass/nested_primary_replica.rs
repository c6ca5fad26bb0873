use std::time::Duration;

use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct Pool1 {
    url: String,
    #[pool(default = 20)]
    max_open: u32,
    #[pool(default = "4m")]
    max_idle_time: Duration,
}

#[derive(PoolConfig)]
#[pool(env_prefix = "APP")]
struct Db {
    /// Writes go here.
    #[pool(nested)]
    primary: Pool1,
    /// Reads go here.
    #[pool(nested)]
    replica: Pool1,
}

fn main() {
    let keys = Db::keys();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "primary.url",
            "primary.max_open",
            "primary.max_idle_time",
            "replica.url",
            "replica.max_open",
            "replica.max_idle_time",
        ]
    );
    assert_eq!(keys[0].env_var.as_deref(), Some("APP_PRIMARY__URL"));
    assert_eq!(keys[4].env_var.as_deref(), Some("APP_REPLICA__MAX_OPEN"));
    assert_eq!(keys[4].default.as_deref(), Some("20"));
    assert!(keys[3].secret);

    // The inner type alone has no prefix.
    assert_eq!(Pool1::keys()[0].env_var, None);

    let template = Db::yaml_template();
    assert!(template.contains("primary:\n"), "{template}");
    assert!(
        template.contains("# env: APP_REPLICA__MAX_IDLE_TIME"),
        "{template}"
    );

    let pool = |host: &str| Pool1 {
        url: format!("mysql://app:pw-secret@{host}:3306/app"),
        max_open: 20,
        max_idle_time: Duration::from_secs(240),
    };
    let db = Db {
        primary: pool("primary.internal"),
        replica: pool("replica.internal"),
    };
    let shown = format!("{db:?}");
    assert!(!shown.contains("pw-secret"), "{shown}");
    assert!(shown.contains("replica.internal"), "{shown}");
    assert_eq!(db.replica.options().max_open, 20);
}
