use pool_runtime as renamed;

use renamed::PoolConfig;

// Every path in the generated code goes through `renamed::__private`
// (fail/crate_path_unresolved.rs shows that the path is honoured).
#[derive(PoolConfig)]
#[pool(crate = "renamed", env_prefix = "APP_DB")]
struct DbConfig {
    url: String,
    #[pool(default = 5)]
    max_open: u32,
}

fn main() {
    let keys = DbConfig::keys();
    assert_eq!(keys[1].env_var.as_deref(), Some("APP_DB_MAX_OPEN"));
    let cfg = DbConfig {
        url: "mysql://u:p@h/db".into(),
        max_open: 5,
    };
    assert!(!format!("{cfg:?}").contains(":p@"), "{cfg:?}");
    assert_eq!(cfg.options().max_open, 5);
}
