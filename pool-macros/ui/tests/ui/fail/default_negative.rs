use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = -1)]
    max_open: u32,
}

fn main() {}
