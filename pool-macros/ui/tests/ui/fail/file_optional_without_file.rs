use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file_optional)]
struct DbConfig {
    url: String,
}

fn main() {}
