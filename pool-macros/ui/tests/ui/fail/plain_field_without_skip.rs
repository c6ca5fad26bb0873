use pool_runtime::PoolConfig;

// The most common slip: a field of the application's own, not marked skip.
#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    app_label: String,
}

fn main() {}
