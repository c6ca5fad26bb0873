use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig(String, u32);

fn main() {}
