use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    max_opne: u32,
}

fn main() {}
