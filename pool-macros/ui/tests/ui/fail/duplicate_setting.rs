use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(setting = "max_open")]
    pool_size: u32,
    max_open: u32,
}

fn main() {}
