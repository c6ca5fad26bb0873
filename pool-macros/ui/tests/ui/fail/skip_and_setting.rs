use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(skip, setting = "max_open")]
    pool_size: u32,
}

fn main() {}
