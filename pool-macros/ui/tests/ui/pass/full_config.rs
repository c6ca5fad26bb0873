use std::time::Duration;

use pool_runtime::PoolConfig;
use pool_runtime::config::Setting;

/// The shop's database.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "config/db.yaml")]
struct DbConfig {
    /// Where the database is.
    url: String,
    /// At most this many connections.
    #[pool(default = 100)]
    max_open: u32,
    #[pool(default = 10)]
    max_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Duration,
    #[pool(default = "5m")]
    max_idle_time: Duration,
    /// Off unless set.
    keepalive_interval: Option<Duration>,
    statement_timeout: Option<Duration>,
    #[pool(default = 600)]
    acquire_timeout: Duration,
    #[pool(default = true)]
    retry_reads: bool,
    init_sql: Vec<String>,
    /// Not a pool setting: loaded all the same.
    #[pool(skip, default = "shop")]
    app_label: String,
    /// Never printed.
    #[pool(skip, secret)]
    api_token: String,
}

fn main() {
    let keys = DbConfig::keys();
    let names: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "url",
            "max_open",
            "max_idle",
            "max_lifetime",
            "max_idle_time",
            "keepalive_interval",
            "statement_timeout",
            "acquire_timeout",
            "retry_reads",
            "init_sql",
            "app_label",
            "api_token",
        ]
    );

    let url = &keys[0];
    assert!(url.secret);
    assert_eq!(url.setting, Some(Setting::known("url")));
    assert_eq!(url.env_var.as_deref(), Some("APP_DB_URL"));
    assert_eq!(url.doc, "Where the database is.");
    assert_eq!(url.default, None);

    let max_open = &keys[1];
    assert_eq!(max_open.default.as_deref(), Some("100"));
    assert_eq!(max_open.env_var.as_deref(), Some("APP_DB_MAX_OPEN"));
    assert_eq!(max_open.type_name, "u32");
    assert_eq!(keys[3].default.as_deref(), Some("30m"));
    assert_eq!(keys[5].type_name, "Option<Duration>");
    assert_eq!(keys[10].setting, None);
    assert!(!keys[10].secret);
    assert!(keys[11].secret);

    let template = DbConfig::yaml_template();
    assert!(template.contains("max_open: 100"), "{template}");
    assert!(template.contains("# env: APP_DB_MAX_IDLE"), "{template}");
    assert!(template.contains("# Where the database is."), "{template}");

    let cfg = DbConfig {
        url: "mysql://shop:hunter2@db.internal:3306/shop".into(),
        max_open: 100,
        max_idle: 10,
        max_lifetime: Duration::from_secs(1800),
        max_idle_time: Duration::from_secs(300),
        keepalive_interval: Some(Duration::from_secs(60)),
        statement_timeout: None,
        acquire_timeout: Duration::from_secs(600),
        retry_reads: true,
        init_sql: vec!["SET time_zone = '+00:00'".into()],
        app_label: "shop".into(),
        api_token: "tok-s3cr3t".into(),
    };
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("tok-s3cr3t"), "{shown}");
    assert!(shown.contains("db.internal"), "{shown}");
    assert!(shown.contains("app_label: \"shop\""), "{shown}");

    let options = cfg.options();
    assert_eq!(options.max_open, 100);
    assert_eq!(options.max_idle, 10);
    assert_eq!(options.max_lifetime, Some(Duration::from_secs(1800)));
    assert_eq!(options.keepalive_interval, Some(Duration::from_secs(60)));
}
