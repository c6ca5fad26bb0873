use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(setting = "max_opn")]
    pool_size: u32,
}

fn main() {}
