//! `pool-doctor`: judges a pool config against its server, for deploy
//! pipelines. Prints the boot report and exits 0 (fits, maybe with
//! warnings), 1 (the pool would refuse to start) or 2 (the config or the
//! connection failed).
//!
//! ```text
//! cargo run --bin pool-doctor -- --config db.yaml --env-prefix APP_DB
//! cargo run --bin pool-doctor -- --config db.yaml --json
//! ```

use std::process::ExitCode;
use std::time::Duration;

use pool_runtime::boot::BootPolicy;
use pool_runtime::config::Yaml;
use pool_runtime::figment::providers::{Env, Format};
use pool_runtime::{BootError, PoolConfig, ResetPolicy};

/// Every pool setting, with `PoolOptions`' defaults.
#[derive(PoolConfig)]
#[pool(allow_unknown)]
struct Settings {
    url: String,
    #[pool(default = 10)]
    max_open: u32,
    #[pool(default = 2)]
    max_idle: u32,
    #[pool(default = 0)]
    min_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Option<Duration>,
    #[pool(default = "5m")]
    max_idle_time: Option<Duration>,
    #[pool(default = "30s")]
    acquire_timeout: Duration,
    #[pool(default = "10s")]
    connect_timeout: Duration,
    validation_timeout: Option<Duration>,
    #[pool(default = "500ms")]
    validate_after_idle: Duration,
    keepalive_interval: Option<Duration>,
    #[pool(default = "60s")]
    tcp_keepalive: Option<Duration>,
    init_sql: Vec<String>,
    leak_threshold: Option<Duration>,
    #[pool(default = "1s")]
    maintenance_interval: Duration,
    #[pool(default = "when_dirty")]
    reset_on_return: ResetPolicy,
    #[pool(default = true)]
    retry_reads: bool,
    statement_timeout: Option<Duration>,
    #[pool(default = 1)]
    replicas: u32,
    on_violation: BootPolicy,
}

const USAGE: &str = "usage: pool-doctor [--config FILE.yaml] [--env-prefix PREFIX] [--json]

Loads a pool config (defaults < FILE < PREFIX_* environment variables),
connects to its server as the pool would, and prints the boot report.
Exit status: 0 fits, 1 would be refused, 2 config or connection error.";

struct Args {
    config: Option<String>,
    env_prefix: Option<String>,
    json: bool,
}

fn args() -> Result<Args, String> {
    let mut out = Args {
        config: None,
        env_prefix: None,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => out.config = Some(args.next().ok_or("--config needs a file")?),
            "--env-prefix" => {
                out.env_prefix = Some(args.next().ok_or("--env-prefix needs a prefix")?)
            }
            "--json" => out.json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(out)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("pool-doctor: {message}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut figment = match Settings::figment() {
        Ok(figment) => figment,
        Err(e) => return fail(&e),
    };
    if let Some(file) = &args.config {
        if !std::path::Path::new(file).is_file() {
            eprintln!("pool-doctor: config file {file} not found");
            return ExitCode::from(2);
        }
        figment = figment.merge(Yaml::file_exact(file));
    }
    if let Some(prefix) = &args.env_prefix {
        let lead = format!("{}_", prefix.trim_end_matches('_'));
        figment = figment.merge(Env::prefixed(&lead).ignore(&["config_file"]).split("__"));
    }
    let config = match Settings::load_from(figment) {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    match config.connect().await {
        Ok(pool) => {
            print_report(pool.boot_report(), args.json);
            pool.close().await;
            ExitCode::SUCCESS
        }
        Err(BootError::Rejected(report)) => {
            print_report(&report, args.json);
            ExitCode::from(1)
        }
        Err(e) => fail(&e),
    }
}

fn print_report(report: &pool_runtime::boot::Report, json: bool) {
    if json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("pool-doctor: {error}");
    ExitCode::from(2)
}
