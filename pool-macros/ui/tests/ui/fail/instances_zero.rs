use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
#[pool(instances = 0)]
struct DbConfig {
    url: String,
}

fn main() {}
