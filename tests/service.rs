//! `examples/service.rs` as a process against a throwaway server, driven
//! over real HTTP: the metrics move with queries, `/readyz` follows the
//! database, SIGHUP applies an edited config, SIGTERM lets in-flight
//! requests finish.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{TEST_TIMEOUT, bounded, eventually, example_binary};
use pool_runtime::testkit::TestServer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How long a step that waits on the service may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// A running service and the address it serves on.
struct Service {
    child: Child,
    addr: String,
}

impl Service {
    async fn start(url: &str, config: &Path) -> Service {
        let mut child = Command::new(example_binary("service"))
            .env("SERVICE_DB_URL", url)
            .env("SERVICE_DB_CONFIG_FILE", config)
            .env("SERVICE_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the service starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let addr = bounded("the service says where it listens", STEP, async {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.expect("stdout readable") {
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    return addr.to_owned();
                }
            }
            panic!("the service exited before it listened");
        })
        .await;
        Service { child, addr }
    }

    /// `GET path`: the status code and the body.
    async fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The value of the Prometheus sample `name{...}` whose labels contain
    /// every one of `labels`, if it is there.
    async fn metric(&self, name: &str, labels: &[&str]) -> Option<f64> {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "/metrics: {body}");
        sample(&body, name, labels)
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().expect("the service runs").to_string();
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} {pid}");
    }
}

/// One HTTP/1.1 request on its own connection, as a probe or a scraper
/// sends it.
async fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Finds `name{labels} value` in Prometheus text.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name && labels.iter().all(|label| rest.contains(label))
        })
        .and_then(|(_, value)| value.parse().ok())
}

fn write_config(path: &Path, max_open: u32) {
    let yaml = format!(
        "pool_name: svc-test\nmax_open: {max_open}\nmax_idle: 4\nmin_idle: 1\n\
         max_lifetime: 30m\nmax_idle_time: 4m\n"
    );
    std::fs::write(path, yaml).expect("config written");
}

const POOL: &str = "db_client_connection_pool_name=\"svc-test\"";

#[tokio::test]
async fn the_service_reports_otel_metrics_follows_the_database_reloads_and_drains() {
    bounded("the service scenario", 3 * TEST_TIMEOUT, async {
        let mut server = TestServer::start().await.expect("throwaway server");
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("service.yaml");
        write_config(&config, 4);
        let service = Service::start(server.url(), &config).await;

        // Metrics: the OTel names, with the pool's name, move with queries.
        let max = service.metric("db_client_connection_max", &[POOL]).await;
        assert_eq!(max, Some(4.0), "db.client.connection.max is max_open");
        let used_before = service
            .metric("db_client_connection_use_time_count", &[POOL])
            .await
            .unwrap_or(0.0);
        for _ in 0..20 {
            let (status, body) = service.get("/query").await;
            assert_eq!((status, body.trim()), (200, "1"));
        }
        let used_after = service
            .metric("db_client_connection_use_time_count", &[POOL])
            .await
            .expect("use_time has samples after queries");
        assert!(
            used_after >= used_before + 20.0,
            "20 queries are 20 uses: {used_before} -> {used_after}"
        );
        let used_now = service
            .metric("db_client_connection_count", &[POOL, "state=\"used\""])
            .await;
        assert_eq!(used_now, Some(0.0), "nothing in use between requests");
        assert!(
            service
                .metric("db_client_connection_create_time_count", &[POOL])
                .await
                .is_some_and(|n| n >= 1.0),
            "connects were timed"
        );

        // Readiness follows the database, down and back.
        let (status, body) = service.get("/readyz").await;
        assert_eq!(status, 200, "ready with the database up: {body}");
        server.stop().await.expect("server stops");
        eventually("/readyz says 503 with the server stopped", STEP, || async {
            let (status, _) = service.get("/readyz").await;
            (status == 503).then_some(())
        })
        .await;
        server.start_again().await.expect("server starts again");
        eventually("/readyz says 200 with the server back", STEP, || async {
            let (status, _) = service.get("/readyz").await;
            (status == 200).then_some(())
        })
        .await;

        // SIGHUP after editing the file: the new max_open applies live.
        write_config(&config, 6);
        service.signal("HUP");
        eventually(
            "max_open 6 shows in the metrics after SIGHUP",
            STEP,
            || async {
                let max = service.metric("db_client_connection_max", &[POOL]).await;
                (max == Some(6.0)).then_some(())
            },
        )
        .await;

        // SIGTERM with a request in flight: it finishes, then the service
        // exits cleanly.
        let addr = service.addr.clone();
        let in_flight = tokio::spawn(async move { http_get(&addr, "/query?sleep_ms=1500").await });
        eventually("the slow request holds a connection", STEP, || async {
            let used = service
                .metric("db_client_connection_count", &[POOL, "state=\"used\""])
                .await;
            (used >= Some(1.0)).then_some(())
        })
        .await;
        service.signal("TERM");
        let answer = in_flight.await.expect("request task").expect("answered");
        assert_eq!(
            (answer.0, answer.1.trim()),
            (200, "1"),
            "in-flight request finished"
        );
        let mut child = service.child;
        let status = bounded("the service exits after SIGTERM", STEP, child.wait())
            .await
            .expect("wait");
        assert!(status.success(), "clean exit after the drain: {status}");
    })
    .await;
}
