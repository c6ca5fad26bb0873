use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = "panic")]
    on_violation: pool_runtime::boot::BootPolicy,
}

fn main() {}
