use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    max_open: String,
}

fn main() {}
