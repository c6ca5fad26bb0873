//! A service's own `--check-config` flag: the boot checks on its config
//! type, without keeping a pool. Exits 0 (fits), 1 (would be refused) or
//! 2 (the config or the connection failed), as `pool-doctor` does.
//!
//! ```text
//! cargo run --example check_config
//! ```
//!
//! Here the config is the quickstart's file against a throwaway MariaDB; in
//! a service it is `DbConfig::load()` against the real server.

use std::process::ExitCode;
use std::time::Duration;

use pool_runtime::PoolConfig;

mod common;

#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "examples/config/db.yaml")]
struct DbConfig {
    url: String,
    #[pool(default = 16)]
    max_open: u32,
    #[pool(default = 16)]
    max_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Duration,
    #[pool(default = "4m")]
    max_idle_time: Duration,
}

#[tokio::main]
async fn main() -> ExitCode {
    let (_server, config) = match common::config_against_throwaway::<DbConfig>(None).await {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    match config.check().await {
        Ok(report) => {
            println!("{report}");
            if report.is_rejected() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
