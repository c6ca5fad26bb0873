use std::time::Duration;

use pool_runtime::PoolConfig;

// Three unrelated mistakes: all three are reported in one build.
#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = "ten")]
    max_open: u32,
    max_idel: u32,
    max_lifetime: String,
    #[pool(default = "5m")]
    max_idle_time: Duration,
}

fn main() {}
