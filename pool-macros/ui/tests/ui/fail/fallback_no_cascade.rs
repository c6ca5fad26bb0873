// One mistake in the struct: only that mistake is reported, not every use
// of the struct's generated API.
use pool_runtime::PoolConfig;

#[derive(PoolConfig)]
struct DbConfig {
    url: String,
    #[pool(default = "10 mintues")]
    max_lifetime: std::time::Duration,
}

fn main() {
    let cfg = DbConfig::load().unwrap();
    println!("{cfg:?}");
    let _ = DbConfig::keys();
}
