use std::time::Duration;

use pool_runtime::PoolConfig;

// acquire_timeout cannot be switched off: the message must not suggest
// Option<Duration>, which this setting does not accept.
#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = 0)]
    acquire_timeout: Duration,
}

fn main() {}
