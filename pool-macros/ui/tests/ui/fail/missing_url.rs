use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    #[pool(default = 10)]
    max_open: u32,
}

fn main() {}
