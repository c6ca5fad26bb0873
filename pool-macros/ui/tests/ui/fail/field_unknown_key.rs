use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(defualt = 10)]
    max_open: u32,
}

fn main() {}
