use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = 10)]
    max_idle: u32,
    #[pool(default = 12)]
    min_idle: u32,
}

fn main() {}
