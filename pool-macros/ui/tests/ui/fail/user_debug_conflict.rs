use pool_runtime::PoolConfig;

// The derive writes a Debug that hides secrets: a second one conflicts.
#[derive(Debug, PoolConfig)]
struct DbConfig {
    url: String,
}

fn main() {}
