//! What a misconfigured service prints at boot, and its exit status.
//!
//! ```text
//! cargo run --example boot_fail          # exits 1 with the report
//! ```
//!
//! The incident's settings (`examples/config/incident.yaml`) against a
//! throwaway MariaDB whose `wait_timeout` is 500 s, as the incident's was.

use std::process::ExitCode;
use std::time::Duration;

use pool_runtime::{BootError, PoolConfig};

mod common;

#[derive(PoolConfig)]
#[pool(env_prefix = "APP_DB", file = "examples/config/incident.yaml")]
struct DbConfig {
    url: String,
    max_open: u32,
    max_idle: u32,
    max_lifetime: Duration,
    max_idle_time: Option<Duration>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let (_server, config) = match common::config_against_throwaway::<DbConfig>(Some(500)).await {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    match config.connect().await {
        Ok(pool) => {
            println!("{}", pool.boot_report());
            ExitCode::SUCCESS
        }
        Err(BootError::Rejected(report)) => {
            // What a service prints before it exits non-zero.
            eprintln!("{report}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
