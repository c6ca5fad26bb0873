//! `pool-doctor` as a deploy pipeline runs it: a process, its exit status,
//! its output (text and JSON), against throwaway servers.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::testkit::TestServer;
use serde_json::Value;

/// Long enough for a loaded CI machine; a hang fails with the test's name.
const DEADLINE: Duration = Duration::from_secs(60);

async fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_pool-doctor"));
    command.args(args).kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    tokio::time::timeout(DEADLINE, command.output())
        .await
        .expect("pool-doctor did not finish within the deadline")
        .expect("pool-doctor did not start")
}

fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .expect("pool-doctor was killed by a signal")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", text(output)))
}

fn yaml(dir: &Path, body: &str) -> String {
    let path = dir.join("db.yaml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_config_that_fits_exits_0_with_the_report_as_text_and_as_json() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = yaml(dir.path(), "max_open: 8\nmax_idle: 8\n");
    let env = [("APP_DB_URL", server.url())];
    let args = ["--config", &file, "--env-prefix", "APP_DB"];

    let out = doctor(&args, &env).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("OK: 0 error(s)"), "{}", text(&out));

    let out = doctor(&[&args[..], &["--json"]].concat(), &env).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["findings"], Value::Array(Vec::new()));
    assert_eq!(report["facts"]["session_wait_timeout"], 28800);
}

#[tokio::test]
async fn the_incident_config_exits_1_naming_the_key_its_file_and_the_fix() {
    let server = TestServer::start().await.unwrap();
    server.set_global("wait_timeout", 500).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = yaml(dir.path(), "max_lifetime: 600s\nmax_idle_time: off\n");
    let env = [("APP_DB_URL", server.url())];
    let args = ["--config", &file, "--env-prefix", "APP_DB"];

    let out = doctor(&args, &env).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("REJECTED"), "{shown}");
    assert!(shown.contains("max_lifetime"), "{shown}");
    assert!(
        shown.contains(&format!("{file} (key `max_lifetime`)")),
        "{shown}"
    );
    assert!(shown.contains("449s"), "{shown}");

    let out = doctor(&[&args[..], &["--json"]].concat(), &env).await;
    assert_eq!(code(&out), 1, "{}", text(&out));
    let report = json(&out);
    let finding = &report["findings"][0];
    assert_eq!(finding["code"], "idle_bound");
    assert_eq!(finding["action"], "denied");
    assert_eq!(finding["key"], "max_lifetime");
}

#[tokio::test]
async fn an_unknown_key_is_an_error_with_a_did_you_mean_unless_allowed() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = yaml(dir.path(), "max_lifetim: 10m\n");
    let env = [("APP_DB_URL", server.url())];
    let args = ["--config", &file, "--env-prefix", "APP_DB"];

    let out = doctor(&args, &env).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("did you mean `max_lifetime`?"),
        "{}",
        text(&out)
    );

    let out = doctor(&[&args[..], &["--json"]].concat(), &env).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let error = json(&out);
    assert_eq!(error["outcome"], "config_error");
    assert_eq!(error["issues"][0]["key"], "max_lifetim");

    let out = doctor(&[&args[..], &["--allow-unknown"]].concat(), &env).await;
    assert_eq!(code(&out), 0, "{}", text(&out));
}

#[tokio::test]
async fn a_bad_value_and_a_missing_file_exit_2_with_json_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = yaml(dir.path(), "max_idle: ten\n");
    let out = doctor(&["--config", &file, "--json"], &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    let error = json(&out);
    assert_eq!(error["issues"][0]["key"], "max_idle");
    assert!(
        error["issues"][0]["source"]
            .as_str()
            .unwrap()
            .contains(&file)
    );

    let missing = dir.path().join("nope.yaml").display().to_string();
    let out = doctor(&["--config", &missing, "--json"], &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("not found")
    );

    // No URL anywhere: a connect error, as JSON too.
    let out = doctor(&["--json"], &[]).await;
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert_eq!(json(&out)["outcome"], "connect_error");
}

#[tokio::test]
async fn a_wrong_password_exits_2_and_never_prints_the_password() {
    let server = TestServer::start().await.unwrap();
    let mut root = server.conn().await.unwrap();
    root.query_drop("CREATE USER 'app'@'%' IDENTIFIED BY 'the-right-one'")
        .await
        .unwrap();
    root.query_drop("GRANT ALL ON test.* TO 'app'@'%'")
        .await
        .unwrap();
    let secret = "wr0ng-pa55w0rd-4711";
    let url = format!(
        "mysql://app:{secret}@{}/test?prefer_socket=false",
        server.addr()
    );
    for json_flag in [false, true] {
        let mut args = vec!["--env-prefix", "APP_DB"];
        if json_flag {
            args.push("--json");
        }
        let out = doctor(&args, &[("APP_DB_URL", &url)]).await;
        assert_eq!(code(&out), 2, "{}", text(&out));
        let shown = text(&out);
        assert!(shown.contains("refused the credentials"), "{shown}");
        assert!(!shown.contains(secret), "the password leaked:\n{shown}");
    }
}

#[tokio::test]
async fn the_file_named_by_prefix_config_file_is_read_as_a_service_reads_it() {
    let server = TestServer::start().await.unwrap();
    server.set_global("wait_timeout", 500).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = yaml(dir.path(), "max_lifetime: 600s\nmax_idle_time: off\n");
    let env = [("APP_DB_URL", server.url()), ("APP_DB_CONFIG_FILE", &file)];
    let out = doctor(&["--env-prefix", "APP_DB"], &env).await;
    // Refused for the file's values: the file was read, and the variable
    // naming it was not taken for an unknown setting.
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(
        text(&out).contains(&format!("{file} (key `max_lifetime`)")),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn help_lists_the_exit_codes() {
    let out = doctor(&["--help"], &[]).await;
    assert_eq!(code(&out), 0);
    let shown = text(&out);
    for line in [
        "0  the config fits",
        "1  the pool would refuse",
        "2  the config did not load",
    ] {
        assert!(shown.contains(line), "{shown}");
    }
}
