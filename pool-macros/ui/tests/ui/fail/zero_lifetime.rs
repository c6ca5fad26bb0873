use std::time::Duration;

use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = "0s")]
    max_lifetime: Duration,
}

fn main() {}
