use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(env_prefix = "app-db")]
struct DbConfig {
    url: String,
}

fn main() {}
