use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(replicas = 0)]
struct DbConfig {
    url: String,
}

fn main() {}
