use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(crate = "::pool_runtime")]
struct DbConfig {
    url: String,
    #[pool(default = 3)]
    max_idle: u32,
}

fn main() {
    let keys = DbConfig::keys();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1].default.as_deref(), Some("3"));
    assert_eq!(keys[1].env_var, None);
    let cfg = DbConfig {
        url: "mysql://u:p@h/db".into(),
        max_idle: 3,
    };
    assert_eq!(cfg.options().max_idle, 3);
}
