use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(
    env_prefix = "APP_DB",
    file = "config/db.yaml",
    file_optional,
    allow_unknown,
    instances = 3
)]
struct DbConfig {
    url: String,
    #[pool(default = 50)]
    max_open: u32,
    #[pool(default = "warn, idle_bound=fix")]
    on_violation: pool_runtime::boot::BootPolicy,
}

fn main() {
    let cfg = DbConfig {
        url: "mysql://u:p@h/db".into(),
        max_open: 50,
        on_violation: "warn".parse().unwrap(),
    };
    let options = cfg.options();
    assert_eq!(options.instances, 3);
    assert_eq!(options.max_open, 50);
    let template = DbConfig::yaml_template();
    assert!(template.contains("max_open: 50"), "{template}");
    assert!(
        template.contains("on_violation: \"warn, idle_bound=fix\""),
        "{template}"
    );
}
