//! `pool-doctor`: judges a pool config against its server, for deploy
//! pipelines.
//!
//! It loads every pool setting (the table's defaults, then the YAML file,
//! then `PREFIX_*` environment variables), connects as the pool would,
//! prints the boot report and exits 0 (fits, maybe with warnings), 1 (the
//! pool would refuse to start) or 2 (the config or the connection failed).
//! With `--json`, every outcome is one JSON document on stdout.

use std::error::Error as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pool_runtime::boot::Report;
use pool_runtime::config::{ConfigError, Yaml};
use pool_runtime::figment::Figment;
use pool_runtime::figment::providers::{Env, Format};
use pool_runtime::{BootError, PoolConfig, PoolOptions};
use serde_json::json;

/// Judges a pool config (YAML file and environment) against its live
/// MySQL/MariaDB server, as the pool's boot checks do at connect().
#[derive(Debug, Parser)]
#[command(
    name = "pool-doctor",
    version,
    after_help = "Exit status:\n  0  the config fits the server (warnings, if any, are printed)\n  1  the pool would refuse to start: the report names each key, why, and the fix\n  2  the config did not load, or the server could not be reached or judged\n\nExample:\n  APP_DB_URL=mysql://app:secret@db:3306/shop pool-doctor --config db.yaml --env-prefix APP_DB"
)]
struct Args {
    /// YAML file with pool settings (`max_open: 20`, `url: mysql://...`).
    /// Without it, the file named by `PREFIX_CONFIG_FILE`, if set.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Also read `PREFIX_<KEY>` environment variables (e.g. APP_DB_MAX_OPEN),
    /// which override the file.
    #[arg(long, value_name = "PREFIX")]
    env_prefix: Option<String>,

    /// Ignore keys that are not pool settings (for files that hold other
    /// settings too). Without it, an unknown key is an error with a
    /// did-you-mean, since it is most often a typo.
    #[arg(long)]
    allow_unknown: bool,

    /// Print one JSON document on stdout, for every outcome.
    #[arg(long)]
    json: bool,
}

/// Exit status: the config would be refused.
const REFUSED: u8 = 1;
/// Exit status: the config did not load, or the server was not judged.
const FAILED: u8 = 2;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let options = match load(&args) {
        Ok(options) => options,
        Err(error) => return config_failed(&error, args.json),
    };
    match options.check().await {
        Ok(report) => {
            print_report(&report, args.json);
            if report.is_rejected() {
                ExitCode::from(REFUSED)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => boot_failed(&error, args.json),
    }
}

/// Why the config did not load.
enum LoadError {
    Config(ConfigError),
    MissingFile(PathBuf),
}

fn load(args: &Args) -> Result<pool_runtime::Loaded<PoolOptions>, LoadError> {
    let lead = args
        .env_prefix
        .as_ref()
        .map(|prefix| format!("{}_", prefix.trim_end_matches('_')));
    // As a service's derived config reads it: `--config`, else the file
    // named by `PREFIX_CONFIG_FILE`.
    let file = args.config.clone().or_else(|| {
        let var = format!("{}CONFIG_FILE", lead.as_deref()?);
        std::env::var_os(var).map(PathBuf::from)
    });
    let mut figment = Figment::new();
    if let Some(file) = &file {
        if !file.is_file() {
            return Err(LoadError::MissingFile(file.clone()));
        }
        figment = figment.merge(Yaml::file_exact(file));
    }
    if let Some(lead) = &lead {
        // `PREFIX_CONFIG_FILE` names the file; it is not a setting.
        figment = figment.merge(Env::prefixed(lead).ignore(&["config_file"]).split("__"));
    }
    let loaded = if args.allow_unknown {
        PoolOptions::load_from_ignoring_unknown(figment)
    } else {
        PoolOptions::load_from(figment)
    };
    loaded.map_err(LoadError::Config)
}

/// Writes a line to stdout. A reader that went away (`pool-doctor | head`)
/// is no reason to panic: the exit status still tells the verdict.
fn out(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Writes a line to stderr, ignoring a closed stream as [`out`] does.
fn err(text: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

fn print_report(report: &Report, json: bool) {
    if json {
        out(report.to_json());
    } else {
        out(report);
    }
}

fn config_failed(error: &LoadError, json: bool) -> ExitCode {
    let (message, issues) = match error {
        LoadError::Config(error) => (
            error.to_string(),
            error
                .issues
                .iter()
                .map(|issue| {
                    json!({
                        "key": issue.key,
                        "source": issue.source.to_string(),
                        "value": issue.value,
                        "problem": issue.problem,
                    })
                })
                .collect(),
        ),
        LoadError::MissingFile(file) => {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "?".into());
            (
                format!(
                    "config file {} not found (relative to {cwd}): check --config",
                    file.display()
                ),
                Vec::new(),
            )
        }
    };
    if json {
        let doc = json!({
            "outcome": "config_error",
            "message": message,
            "issues": issues,
        });
        out(format_args!("{doc:#}"));
    } else {
        err(format_args!("pool-doctor: {message}"));
    }
    ExitCode::from(FAILED)
}

fn boot_failed(error: &BootError, json: bool) -> ExitCode {
    // The error and its causes, outermost first; none holds a password.
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    if json {
        let doc = json!({
            "outcome": "connect_error",
            "message": error.to_string(),
            "causes": causes,
        });
        out(format_args!("{doc:#}"));
    } else {
        err(format_args!("pool-doctor: {error}"));
        for cause in &causes {
            err(format_args!("  caused by: {cause}"));
        }
    }
    ExitCode::from(FAILED)
}
