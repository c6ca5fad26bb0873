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
/// The outer bound of a whole test (server start and several runs).
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `work`, failing the test with `what` if it takes longer than
/// [`TEST_TIMEOUT`]; a child still running is killed (`kill_on_drop`).
async fn bounded<F: std::future::Future>(what: &str, work: F) -> F::Output {
    match tokio::time::timeout(TEST_TIMEOUT, work).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {TEST_TIMEOUT:?}"),
    }
}

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
    bounded(
        "a_config_that_fits_exits_0_with_the_report_as_text_and_as_json",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn the_incident_config_exits_1_naming_the_key_its_file_and_the_fix() {
    bounded(
        "the_incident_config_exits_1_naming_the_key_its_file_and_the_fix",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn an_unknown_key_is_an_error_with_a_did_you_mean_unless_allowed() {
    bounded(
        "an_unknown_key_is_an_error_with_a_did_you_mean_unless_allowed",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn a_bad_value_and_a_missing_file_exit_2_with_json_on_request() {
    bounded(
        "a_bad_value_and_a_missing_file_exit_2_with_json_on_request",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn a_wrong_password_exits_2_and_never_prints_the_password() {
    bounded(
        "a_wrong_password_exits_2_and_never_prints_the_password",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn the_file_named_by_prefix_config_file_is_read_as_a_service_reads_it() {
    bounded(
        "the_file_named_by_prefix_config_file_is_read_as_a_service_reads_it",
        async {
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
        },
    )
    .await
}

#[tokio::test]
async fn help_lists_the_exit_codes() {
    bounded("help_lists_the_exit_codes", async {
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
    })
    .await
}

#[tokio::test]
async fn an_unreachable_server_exits_2_naming_the_host_as_text_and_as_json() {
    bounded("unreachable", async {
        let free_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let secret = "unre4chable-s3cret";
        let url = format!("mysql://app:{secret}@127.0.0.1:{free_port}/shop?prefer_socket=false");
        let env = [("APP_DB_URL", url.as_str())];
        let target = format!("app@127.0.0.1:{free_port}/shop");

        let out = doctor(&["--env-prefix", "APP_DB"], &env).await;
        assert_eq!(code(&out), 2, "{}", text(&out));
        let shown = text(&out);
        assert!(
            shown.contains(&format!("cannot reach the database at {target}")),
            "{shown}"
        );
        assert!(shown.contains("connection refused"), "{shown}");
        assert!(!shown.contains(secret), "the password leaked:\n{shown}");

        let out = doctor(&["--env-prefix", "APP_DB", "--json"], &env).await;
        assert_eq!(code(&out), 2, "{}", text(&out));
        let error = json(&out);
        assert_eq!(error["outcome"], "connect_error");
        assert!(
            error["message"].as_str().unwrap().contains(&target),
            "{error}"
        );
        assert!(
            !text(&out).contains(secret),
            "the password leaked:\n{}",
            text(&out)
        );
    })
    .await
}

#[tokio::test]
async fn warnings_only_exit_0_and_are_listed_in_the_json_report() {
    bounded("warnings only", async {
        let server = TestServer::start().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = yaml(dir.path(), "max_open: 0\n");
        let env = [("APP_DB_URL", server.url())];
        let args = ["--config", &file, "--env-prefix", "APP_DB"];

        let out = doctor(&args, &env).await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(
            text(&out).contains("STARTED: 0 error(s), 1 warning(s)"),
            "{}",
            text(&out)
        );

        let out = doctor(&[&args[..], &["--json"]].concat(), &env).await;
        assert_eq!(code(&out), 0, "{}", text(&out));
        let report = json(&out);
        let finding = &report["findings"][0];
        assert_eq!(finding["code"], "max_open_unlimited");
        assert_eq!(finding["severity"], "warning");
        assert_eq!(finding["action"], "warned");
        assert_eq!(finding["source"], format!("{file} (key `max_open`)"));
    })
    .await
}

#[tokio::test]
async fn an_unknown_environment_variable_is_named_with_a_did_you_mean() {
    bounded("unknown env key", async {
        let server = TestServer::start().await.unwrap();
        let env = [("APP_DB_URL", server.url()), ("APP_DB_MAX_OPN", "5")];
        let out = doctor(&["--env-prefix", "APP_DB", "--json"], &env).await;
        assert_eq!(code(&out), 2, "{}", text(&out));
        let error = json(&out);
        assert_eq!(error["outcome"], "config_error");
        let issue = &error["issues"][0];
        assert_eq!(issue["key"], "max_opn");
        assert_eq!(issue["source"], "environment variable APP_DB_MAX_OPN");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("did you mean `max_open`?"),
            "{error}"
        );
    })
    .await
}

/// The password never shows, wherever the URL came from (the YAML file or
/// the environment), whatever the outcome: a report, a config error about
/// the URL itself, a refused boot.
#[tokio::test]
async fn a_password_in_the_file_or_the_environment_is_never_printed() {
    bounded("secrets", async {
        let server = TestServer::start().await.unwrap();
        server.set_global("wait_timeout", 500).await.unwrap();
        let secret = "s3cret-in-config-0815";
        let mut root = server.conn().await.unwrap();
        root.query_drop(format!("CREATE USER 'app'@'%' IDENTIFIED BY '{secret}'"))
            .await
            .unwrap();
        root.query_drop("GRANT ALL ON test.* TO 'app'@'%'")
            .await
            .unwrap();
        let url = format!(
            "mysql://app:{secret}@{}/test?prefer_socket=false",
            server.addr()
        );
        let dir = tempfile::tempdir().unwrap();
        let mut runs: Vec<(String, Output, i32)> = Vec::new();

        // In the file: a config that fits (0), and the incident (1).
        let fits = yaml(dir.path(), &format!("url: {url}\n"));
        for json_flag in [&[][..], &["--json"][..]] {
            let out = doctor(&[&["--config", &fits][..], json_flag].concat(), &[]).await;
            runs.push(("file, fits".into(), out, 0));
        }
        let refused = dir.path().join("refused.yaml");
        std::fs::write(
            &refused,
            format!("url: {url}\nmax_lifetime: 600s\nmax_idle_time: off\n"),
        )
        .unwrap();
        let refused = refused.display().to_string();
        for json_flag in [&[][..], &["--json"][..]] {
            let out = doctor(&[&["--config", &refused][..], json_flag].concat(), &[]).await;
            runs.push(("file, refused".into(), out, 1));
        }
        // A URL that does not parse, with a password in it.
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            format!("url: \"mysql://app:{secret}@127.0.0.1:notaport/test\"\n"),
        )
        .unwrap();
        let bad = bad.display().to_string();
        for json_flag in [&[][..], &["--json"][..]] {
            let out = doctor(&[&["--config", &bad][..], json_flag].concat(), &[]).await;
            runs.push(("file, bad url".into(), out, 2));
        }
        // In the environment, over a file that refuses.
        for json_flag in [&[][..], &["--json"][..]] {
            let args = [
                &["--config", &refused, "--env-prefix", "APP_DB"][..],
                json_flag,
            ]
            .concat();
            let out = doctor(&args, &[("APP_DB_URL", &url)]).await;
            runs.push(("env, refused".into(), out, 1));
        }
        for (what, out, expected) in &runs {
            let shown = text(out);
            assert_eq!(code(out), *expected, "{what}:\n{shown}");
            assert!(
                !shown.contains(secret),
                "{what}: the password leaked:\n{shown}"
            );
        }
        // The runs did print their reports, naming the user and the server.
        let (_, fits_json, _) = &runs[1];
        assert!(
            json(fits_json)["target"].as_str().unwrap().contains("app"),
            "{}",
            text(fits_json)
        );
    })
    .await
}

/// A reader that stops reading (`pool-doctor | head`) does not turn the
/// verdict into a panic: the exit status is still the outcome's.
#[tokio::test]
async fn a_closed_stdout_keeps_the_exit_status() {
    bounded("closed stdout", async {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml").display().to_string();
        for args in [
            vec!["--config", &missing, "--json"],
            vec!["--config", &missing],
        ] {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pool-doctor"))
                .args(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            // Both ends closed before the child writes.
            drop(child.stdout.take());
            drop(child.stderr.take());
            let status = tokio::time::timeout(DEADLINE, child.wait())
                .await
                .expect("pool-doctor did not finish within the deadline")
                .unwrap();
            assert_eq!(status.code(), Some(2), "{args:?}: {status}");
        }
    })
    .await
}
