use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(env_prefx = "APP_DB")]
struct DbConfig {
    url: String,
}

fn main() {}
