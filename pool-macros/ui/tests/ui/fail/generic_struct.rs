use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig<T> {
    url: String,
    #[pool(skip)]
    extra: T,
}

fn main() {}
