use pool_runtime::PoolConfig;

// `crate = "..."` is honoured: a path that does not resolve is an error
// at the attribute.
#[derive(PoolConfig)]
#[pool(crate = "not_pool_runtime")]
struct DbConfig {
    url: String,
}

fn main() {}
