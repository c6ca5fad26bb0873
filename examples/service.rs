//! A small HTTP service on the pool, the way one runs in production:
//!
//! - its config is a `#[derive(PoolConfig)]` struct loaded from defaults,
//!   `examples/config/service.yaml` and `SERVICE_DB_*` variables, and a
//!   config the server cannot honour stops it at boot with the report;
//! - `GET /readyz` answers from [`Pool::health`]: 200 while the database
//!   answers (a saturated pool is still ready), 503 when it does not;
//! - `GET /metrics` is Prometheus text with OpenTelemetry's
//!   `db.client.connection.*` metrics (`metrics-exporter-prometheus`);
//! - `GET /query?sleep_ms=N` runs a statement (holding its connection for
//!   N ms, to make in-flight work visible);
//! - SIGHUP re-loads the config and applies the new limits live, after the
//!   boot checks judged them; SIGTERM stops accepting, lets in-flight
//!   requests finish, then drains the pool within a deadline.
//!
//! ```text
//! cargo run --example service
//! curl -s localhost:8080/readyz; curl -s localhost:8080/metrics | grep db_client
//! ```
//!
//! Without `SERVICE_DB_URL` it starts a throwaway MariaDB (the test kit);
//! `SERVICE_LISTEN` sets the address (default `127.0.0.1:8080`; port 0 picks
//! a free one). It prints `listening on http://ADDR` once it serves.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pool_runtime::config::in_code;
use pool_runtime::testkit::TestServer;
use pool_runtime::{ConfigError, Loaded, Pool, PoolConfig};
use tokio::signal::unix::{SignalKind, signal};

#[derive(PoolConfig)]
#[pool(env_prefix = "SERVICE_DB", file = "examples/config/service.yaml")]
struct DbConfig {
    url: String,
    pool_name: Option<String>,
    #[pool(default = 8)]
    max_open: u32,
    #[pool(default = 8)]
    max_idle: u32,
    #[pool(default = 0)]
    min_idle: u32,
    #[pool(default = "30m")]
    max_lifetime: Duration,
    #[pool(default = "4m")]
    max_idle_time: Duration,
}

/// How long SIGTERM waits for connections still in use before it closes
/// them anyway.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct App {
    pool: Pool,
    metrics: PrometheusHandle,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The boot report, or the config error naming key and source.
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The recorder first: the pool registers its metrics when it is built.
    let metrics = PrometheusBuilder::new().install_recorder()?;

    // Without SERVICE_DB_URL, a throwaway server stands in for the database.
    let throwaway = match std::env::var_os("SERVICE_DB_URL") {
        Some(_) => None,
        None => Some(TestServer::start().await?),
    };
    let url = throwaway.as_ref().map(|s| s.url().to_owned());
    let load = move || load_config(url.as_deref());

    let pool = load()?.connect().await?;
    let app = App { pool, metrics };

    let router = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .route("/query", get(query))
        .with_state(app.clone());
    let listen = std::env::var("SERVICE_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    tokio::spawn(reload_on_sighup(app.pool.clone(), load));
    let mut term = signal(SignalKind::terminate())?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            term.recv().await;
            tracing::info!("SIGTERM: no new requests; waiting for those in flight");
        })
        .await?;

    let drained = app.pool.close_within(DRAIN_DEADLINE).await;
    tracing::info!(%drained, "pool drained");
    drop(throwaway);
    Ok(())
}

/// The service's config: defaults < YAML file < environment (with the
/// throwaway server's URL on top when there is one).
fn load_config(url: Option<&str>) -> Result<Loaded<DbConfig>, ConfigError> {
    match url {
        None => DbConfig::load(),
        Some(url) => DbConfig::load_from(DbConfig::figment()?.merge(in_code("url", url))),
    }
}

/// SIGHUP: read the config again and apply what changed, if the boot
/// checks accept it; a refused change leaves the pool as it was.
async fn reload_on_sighup(
    pool: Pool,
    load: impl Fn() -> Result<Loaded<DbConfig>, ConfigError> + Send + 'static,
) {
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::error!("cannot listen for SIGHUP; config reload is off");
        return;
    };
    while hup.recv().await.is_some() {
        match load() {
            Ok(loaded) => match pool.reconfigure_from(&loaded).await {
                Ok(changes) => tracing::info!(%changes, "config reloaded"),
                Err(e) => tracing::error!(error = %e, "config reload refused"),
            },
            Err(e) => tracing::error!(error = %e, "config reload failed to load"),
        }
    }
}

async fn readyz(State(app): State<App>) -> impl IntoResponse {
    let health = app.pool.health().await;
    let status = if health.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, format!("{health}\n"))
}

async fn render_metrics(State(app): State<App>) -> String {
    app.metrics.render()
}

async fn query(
    State(app): State<App>,
    Query(params): Query<HashMap<String, String>>,
) -> impl IntoResponse {
    let sleep_ms: u64 = params
        .get("sleep_ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let seconds = Duration::from_millis(sleep_ms).as_secs_f64();
    let result: Result<Option<i64>, _> = app
        .pool
        .query_first("SELECT 1 + SLEEP(?)", (seconds,))
        .await;
    match result {
        Ok(Some(n)) => (StatusCode::OK, format!("{n}\n")),
        Ok(None) => (StatusCode::INTERNAL_SERVER_ERROR, "no row\n".to_owned()),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
    }
}
