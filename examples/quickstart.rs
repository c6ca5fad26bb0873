//! First run: a config struct becomes a checked pool.
//!
//! ```text
//! cargo run --example quickstart                     # starts a throwaway MariaDB
//! DATABASE_URL=mysql://root@127.0.0.1:3306/test cargo run --example quickstart
//! APP_DB_MAX_OPEN=4 cargo run --example quickstart   # any key, from the environment
//! ```
//!
//! The settings come from `#[pool(default = ...)]`, then
//! `examples/config/db.yaml`, then `APP_DB_*` variables; the output shows
//! where each one came from.

use std::error::Error;
use std::time::Duration;

use pool_runtime::PoolConfig;
use pool_runtime::config::in_code;
use pool_runtime::testkit::TestServer;

/// The service's database pool.
#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "examples/config/db.yaml")]
struct DbConfig {
    /// Where the database is (its password never prints).
    url: String,
    /// Most connections at once.
    #[pool(default = 10)]
    max_open: u32,
    /// Most idle connections kept.
    #[pool(default = 10)]
    max_idle: u32,
    /// Age at which a connection is replaced.
    #[pool(default = "30m")]
    max_lifetime: Duration,
    /// Idle time after which a connection is closed.
    #[pool(default = "5m")]
    max_idle_time: Duration,
    /// Not a pool setting: the service's own, loaded all the same.
    #[pool(skip, default = "quickstart")]
    app_label: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Kept alive until the end of main: dropping it stops the server.
    let (url, _server) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = TestServer::start().await?;
            println!(
                "DATABASE_URL is unset: started a throwaway MariaDB in {} ms",
                server.started_in().unwrap_or_default().as_millis()
            );
            (server.url().to_owned(), Some(server))
        }
    };

    // The usual layers, plus the URL found above (in a service: `DbConfig::load()?`).
    let figment = DbConfig::figment()?.merge(in_code("url", url));
    let cfg = DbConfig::load_from(figment)?;
    println!("\n{} config: {:?}", cfg.app_label, *cfg);
    for key in DbConfig::keys() {
        println!("  {:<14} from {}", key.key, cfg.sources().of(&key.key));
    }

    let pool = cfg.connect().await?;
    let (version, wait_timeout): (String, u64) = pool
        .query_first("SELECT VERSION(), @@session.wait_timeout", ())
        .await?
        .ok_or("the server returned no row")?;
    println!("\nserver {version}, wait_timeout {wait_timeout} s");
    println!(
        "pooled connections live at most {:?} idle (+{:?} maintenance tick): below the server's {wait_timeout} s",
        pool.options().max_idle_time.unwrap_or_default(),
        pool.options().maintenance_interval
    );
    println!("stats: {:?}", pool.stats());
    pool.close().await;
    Ok(())
}
