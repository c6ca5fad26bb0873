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

use pool_runtime::config::in_code;
use pool_runtime::testkit::TestServer;
use pool_runtime::{BootError, PoolConfig};

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
    let server = match TestServer::start().await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = server.set_global("wait_timeout", 500).await {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    // In a service: `DbConfig::load()`; here the URL is the throwaway server's.
    let config = DbConfig::figment()
        .and_then(|f| DbConfig::load_from(f.merge(in_code("url", server.url()))));
    let config = match config {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
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
