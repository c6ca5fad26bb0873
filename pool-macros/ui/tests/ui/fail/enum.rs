use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
enum DbConfig {
    Primary { url: String },
    Replica { url: String },
}

fn main() {}
