use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(secret)]
    max_open: u32,
}

fn main() {}
