use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
    #[pool(default = 20)]
    max_idle: u32,
}

fn main() {}
