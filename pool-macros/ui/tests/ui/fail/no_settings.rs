use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    #[pool(skip)]
    app_label: String,
}

fn main() {}
