//! The password in a config's URL, and any `#[pool(secret)]` value, never
//! shows: not in `Debug` or `Display` of the config, its `Loaded` wrapper,
//! `PoolOptions` or the URL; not in config errors (bad URL, bad other key,
//! wrong types, misspelt keys, broken files); not in `keys()` or
//! `yaml_template()`; not in boot errors (unreachable server, hanging
//! server, wrong password, rejected config) nor their reports; not in the
//! pool's logs. The same holds for the newer sources of a secret: the
//! contents of a `password_file` and the token of a custom
//! `CredentialSource`.

#![allow(clippy::result_large_err)]

mod common;
use common::{Captured, TEST_TIMEOUT, bounded};
use std::net::TcpListener;

use std::time::Duration;

use figment::Jail;
use pool_runtime::mysql_async::prelude::*;
use pool_runtime::testkit::TestServer;
use pool_runtime::{ConfigError, DatabaseUrl, Loaded, Pool, PoolConfig, PoolOptions};
use tracing_subscriber::util::SubscriberInitExt as _;

/// The password under test. Distinctive, so that any leak is found.
const PASSWORD: &str = "s3cr3t-Pa55";
/// The `#[pool(secret)]` token under test.
const TOKEN: &str = "tok-9f8e7d6c5b4a";
const URL: &str = "mysql://app:s3cr3t-Pa55@db.internal:3306/shop";

#[derive(PoolConfig)]
#[pool(env_prefix = "SEC", file = "db.yaml")]
struct Secret {
    /// Where the database is.
    url: String,
    #[pool(default = 20)]
    max_open: u32,
    /// Sent to the audit service.
    #[pool(skip, secret)]
    api_token: String,
}

/// The URL parsed at load, so that a bad one is a config error.
#[derive(PoolConfig)]
#[pool(env_prefix = "SECT", file = "typed.yaml")]
struct Typed {
    url: DatabaseUrl,
    #[pool(default = 20)]
    max_open: u32,
}

/// Secrets given as attribute defaults (a local-development setup).
#[derive(PoolConfig)]
#[pool(env_prefix = "SECD")]
struct SecretDefaults {
    #[pool(default = "mysql://app:s3cr3t-Pa55@db.internal:3306/shop")]
    url: String,
    #[pool(skip, secret, default = "tok-9f8e7d6c5b4a")]
    api_token: String,
}

#[derive(PoolConfig)]
struct Inner {
    url: String,
    #[pool(default = 5)]
    max_open: u32,
}

#[derive(PoolConfig)]
#[pool(env_prefix = "SECN", file = "nested.yaml")]
struct Nested {
    #[pool(nested)]
    primary: Inner,
}

#[track_caller]
fn assert_hidden(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "{what} shows the password:\n{text}"
    );
    assert!(
        !text.contains(TOKEN),
        "{what} shows the secret token:\n{text}"
    );
}

#[track_caller]
fn assert_error_hidden(what: &str, err: &ConfigError) {
    assert_hidden(&format!("{what} (Display)"), &err.to_string());
    assert_hidden(&format!("{what} (Debug)"), &format!("{err:?}"));
    assert_hidden(&format!("{what} (pretty Debug)"), &format!("{err:#?}"));
    for issue in &err.issues {
        assert_hidden(&format!("{what} (issue)"), &issue.to_string());
    }
}

/// Loads `T` with `yaml` in `path` and `envs`; whatever the outcome, no
/// secret shows. Returns the error, if any.
fn load_hidden<T: PoolConfig + std::fmt::Debug>(
    what: &str,
    path: &str,
    yaml: &str,
    envs: &[(&str, &str)],
) -> Option<ConfigError> {
    let mut out = None;
    Jail::expect_with(|jail| {
        jail.create_file(path, yaml)?;
        for (k, v) in envs {
            jail.set_env(k, v);
        }
        match T::load() {
            Ok(loaded) => {
                assert_hidden(&format!("{what}: loaded"), &format!("{loaded:?}"));
                assert_hidden(
                    &format!("{what}: options"),
                    &format!("{:?}", loaded.options()),
                );
            }
            Err(err) => {
                assert_error_hidden(what, &err);
                out = Some(err);
            }
        }
        Ok(())
    });
    out
}

// ---------------------------------------------------------------------------
// Debug and Display of what loaded
// ---------------------------------------------------------------------------

#[test]
fn loaded_config_options_and_url_hide_the_password_and_token() {
    Jail::expect_with(|jail| {
        jail.create_file("db.yaml", &format!("url: {URL}\nmax_open: 7\n"))?;
        jail.set_env("SEC_API_TOKEN", TOKEN);
        let loaded: Loaded<Secret> = Secret::load().map_err(|e| e.to_string())?;
        // It did load the secrets...
        assert_eq!(loaded.url, URL);
        assert_eq!(loaded.api_token, TOKEN);

        // ...and shows neither.
        let cfg: &Secret = &loaded;
        let debug = format!("{cfg:?}");
        assert_hidden("config Debug", &debug);
        assert_hidden("config pretty Debug", &format!("{cfg:#?}"));
        assert!(debug.contains("app:***@db.internal:3306/shop"), "{debug}");
        assert!(debug.contains("max_open: 7"), "{debug}");

        assert_hidden("Loaded Debug", &format!("{loaded:?}"));
        assert_hidden("Loaded pretty Debug", &format!("{loaded:#?}"));
        assert_hidden("sources", &format!("{:?}", loaded.sources()));

        let options: PoolOptions = loaded.options();
        assert_hidden("PoolOptions Debug", &format!("{options:?}"));
        assert_hidden("PoolOptions pretty Debug", &format!("{options:#?}"));
        let url = options.url.clone().expect("url in options");
        assert_eq!(url.to_string(), "mysql://app:***@db.internal:3306/shop");
        assert_hidden("url Display", &url.to_string());
        assert_hidden("url Debug", &format!("{url:?}"));
        // The driver still gets it.
        assert_eq!(url.expose(), URL);
        Ok(())
    });
}

#[test]
fn nested_config_debug_hides_the_password() {
    Jail::expect_with(|jail| {
        jail.create_file("nested.yaml", &format!("primary:\n  url: {URL}\n"))?;
        let loaded = Nested::load().map_err(|e| e.to_string())?;
        assert_hidden("nested Debug", &format!("{:?}", *loaded));
        assert_hidden("nested Loaded Debug", &format!("{loaded:#?}"));
        assert_eq!(loaded.primary.max_open, 5);
        let section = loaded
            .section::<Inner>("primary")
            .map_err(|e| e.to_string())?;
        assert_hidden("section Debug", &format!("{section:?}"));
        assert_hidden("section options", &format!("{:?}", section.options()));
        Ok(())
    });
}

#[test]
fn keys_and_template_hide_the_password_and_token() {
    for (what, text) in [
        ("Secret::keys", format!("{:?}", Secret::keys())),
        ("Secret::yaml_template", Secret::yaml_template()),
        ("Typed::keys", format!("{:?}", Typed::keys())),
        ("Typed::yaml_template", Typed::yaml_template()),
        ("Nested::keys", format!("{:?}", Nested::keys())),
        (
            "SecretDefaults::yaml_template",
            SecretDefaults::yaml_template(),
        ),
        (
            "SecretDefaults::keys",
            format!("{:#?}", SecretDefaults::keys()),
        ),
    ] {
        assert_hidden(what, &text);
    }
}

#[test]
fn secrets_given_as_defaults_load_but_never_show() {
    Jail::expect_with(|_jail| {
        let loaded = SecretDefaults::load().map_err(|e| e.to_string())?;
        assert_eq!(loaded.api_token, TOKEN);
        assert_hidden("Debug", &format!("{loaded:?}"));
        assert_hidden("options", &format!("{:?}", loaded.options()));
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Config errors
// ---------------------------------------------------------------------------

#[test]
fn an_invalid_url_error_hides_the_password() {
    let bad = "mysql://app:s3cr3t-Pa55@db.internal:notaport/shop";
    let err = load_hidden::<Typed>(
        "typed url in file",
        "typed.yaml",
        &format!("url: {bad}\n"),
        &[],
    )
    .expect("an invalid URL is an error");
    assert!(err.to_string().contains("db.internal"), "{err}");
    load_hidden::<Typed>("typed url in env", "typed.yaml", "", &[("SECT_URL", bad)])
        .expect("an invalid URL is an error");
    // A URL the driver rejects for a parameter.
    load_hidden::<Typed>(
        "typed url, bad parameter",
        "typed.yaml",
        "url: mysql://app:s3cr3t-Pa55@db.internal/shop?prefer_socket=maybe\n",
        &[],
    )
    .expect("an invalid URL is an error");
    // A `String` URL: whether or not it is refused at load, nothing shows.
    load_hidden::<Secret>("string url", "db.yaml", &format!("url: {bad}\n"), &[]);
    load_hidden::<Secret>("string url from env", "db.yaml", "", &[("SEC_URL", bad)]);
}

#[test]
fn another_bad_key_error_hides_the_password() {
    let err = load_hidden::<Secret>(
        "bad max_open",
        "db.yaml",
        &format!("url: {URL}\nmax_open: ten\napi_token: {TOKEN}\n"),
        &[],
    )
    .expect("max_open: ten is an error");
    assert!(err.to_string().contains("max_open"), "{err}");
    load_hidden::<Secret>(
        "bad max_open from env",
        "db.yaml",
        "",
        &[
            ("SEC_URL", URL),
            ("SEC_API_TOKEN", TOKEN),
            ("SEC_MAX_OPEN", "-1"),
        ],
    )
    .expect("max_open -1 is an error");
}

#[test]
fn wrong_types_for_secret_keys_hide_the_value() {
    for yaml in [
        format!("url: [{URL}]\n"),
        format!("url:\n  at: {URL}\n"),
        format!("url: {URL}\napi_token: [{TOKEN}]\n"),
        format!("url: {URL}\napi_token:\n  x: {TOKEN}\n"),
    ] {
        load_hidden::<Secret>("wrong type", "db.yaml", &yaml, &[])
            .unwrap_or_else(|| panic!("a list or table is not text: {yaml}"));
        load_hidden::<Typed>(
            "wrong type (typed)",
            "typed.yaml",
            &yaml.replace("api_token", "max_open"),
            &[],
        );
    }
    load_hidden::<Secret>(
        "wrong type from env",
        "db.yaml",
        "",
        &[
            ("SEC_URL", &format!("[{URL}]")),
            ("SEC_API_TOKEN", &format!("[{TOKEN}]")),
        ],
    )
    .expect("lists are not text");
}

#[test]
fn misspelt_secret_keys_hide_the_value() {
    let err = load_hidden::<Secret>(
        "misspelt in file",
        "db.yaml",
        &format!("ulr: {URL}\napi_tokn: {TOKEN}\n"),
        &[],
    )
    .expect("unknown keys and a missing url");
    assert!(err.to_string().contains("ulr"), "{err}");
    load_hidden::<Secret>(
        "misspelt in env",
        "db.yaml",
        "",
        &[("SEC_ULR", URL), ("SEC_API_TOKN", TOKEN)],
    )
    .expect("unknown keys and a missing url");
    load_hidden::<Nested>(
        "misspelt nested",
        "nested.yaml",
        &format!("primary:\n  ulr: {URL}\n"),
        &[],
    )
    .expect("unknown nested key");
}

#[test]
fn broken_files_holding_the_password_do_not_echo_it() {
    // A YAML syntax error next to the URL.
    load_hidden::<Secret>(
        "syntax error",
        "db.yaml",
        &format!("url: {URL}\nmax_open: [\n"),
        &[],
    )
    .expect("invalid YAML");
    load_hidden::<Secret>(
        "bad indentation",
        "db.yaml",
        &format!("url: {URL}\n  api_token: {TOKEN}\n bad\n"),
        &[],
    )
    .expect("invalid YAML");
    // A file that is just the URL, not a mapping: a plausible mistake.
    load_hidden::<Secret>("file is the URL", "db.yaml", &format!("{URL}\n"), &[])
        .expect("a scalar file is an error");
    // A list holding it.
    load_hidden::<Secret>("file is a list", "db.yaml", &format!("- {URL}\n"), &[])
        .expect("a list file is an error");
}

// ---------------------------------------------------------------------------
// Boot errors, reports and logs
// ---------------------------------------------------------------------------

/// Every event at every level into `captured`, on this thread (the tests
/// run on a current-thread runtime, so the pool's tasks are on it too).
fn capture(captured: &Captured) -> tracing::subscriber::DefaultGuard {
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish()
        .set_default()
}

fn options(url: &str) -> PoolOptions {
    let mut o = PoolOptions::from_url(url).expect("url");
    o.connect_timeout = Duration::from_secs(5);
    o.acquire_timeout = Duration::from_secs(5);
    o
}

#[track_caller]
fn assert_boot_error_hidden(what: &str, err: &pool_runtime::BootError) {
    assert_hidden(&format!("{what} (Display)"), &err.to_string());
    assert_hidden(&format!("{what} (Debug)"), &format!("{err:?}"));
    assert_hidden(&format!("{what} (pretty Debug)"), &format!("{err:#?}"));
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        assert_hidden(&format!("{what} (source)"), &s.to_string());
        source = s.source();
    }
    if let Some(report) = err.report() {
        assert_hidden(&format!("{what} (report)"), &report.to_string());
        assert_hidden(&format!("{what} (report JSON)"), &report.to_json());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn unreachable_server_error_and_logs_hide_the_password() {
    bounded(
        "unreachable_server_error_and_logs_hide_the_password",
        TEST_TIMEOUT,
        async {
            let captured = Captured::default();
            let _guard = capture(&captured);
            let url = "mysql://app:s3cr3t-Pa55@127.0.0.1:1/shop?prefer_socket=false";
            let options = options(url);
            assert_hidden("options", &format!("{options:?}"));
            let builder = Pool::builder(options);
            assert_hidden("builder", &format!("{builder:?}"));
            let err = builder
                .connect()
                .await
                .expect_err("nothing listens on port 1");
            assert_boot_error_hidden("unreachable", &err);
            let text = err.to_string();
            assert!(text.contains("127.0.0.1"), "names the host: {text}");
            assert!(text.contains("app"), "names the user: {text}");
            assert_hidden("logs", &captured.text());
        },
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn hanging_server_timeout_hides_the_password() {
    bounded(
        "hanging_server_timeout_hides_the_password",
        TEST_TIMEOUT,
        async {
            let captured = Captured::default();
            let _guard = capture(&captured);
            // Accepts the TCP connection (backlog) and never greets.
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let url = format!("mysql://app:s3cr3t-Pa55@127.0.0.1:{port}/shop?prefer_socket=false");
            let mut o = options(&url);
            o.connect_timeout = Duration::from_millis(300);
            let err = Pool::builder(o).connect().await.expect_err("no greeting");
            assert_boot_error_hidden("timeout", &err);
            assert!(err.to_string().contains("127.0.0.1"), "{err}");
            assert_hidden("logs", &captured.text());
            drop(listener);
        },
    )
    .await
}

#[tokio::test(flavor = "current_thread")]
async fn loaded_config_connect_error_hides_the_password() {
    bounded(
        "loaded_config_connect_error_hides_the_password",
        TEST_TIMEOUT,
        async {
            let captured = Captured::default();
            let _guard = capture(&captured);
            let mut loaded = None;
            Jail::expect_with(|jail| {
                jail.create_file(
                    "db.yaml",
                    "url: mysql://app:s3cr3t-Pa55@127.0.0.1:1/shop?prefer_socket=false\n",
                )?;
                jail.set_env("SEC_API_TOKEN", TOKEN);
                loaded = Some(Secret::load().map_err(|e| e.to_string())?);
                Ok(())
            });
            let loaded = loaded.expect("loaded");
            let err = loaded
                .connect()
                .await
                .expect_err("nothing listens on port 1");
            assert_boot_error_hidden("Loaded::connect", &err);
            let err = loaded
                .connect()
                .await
                .expect_err("nothing listens on port 1");
            assert_boot_error_hidden("PoolConfig::connect", &err);
            assert_hidden("logs", &captured.text());
        },
    )
    .await
}

/// Creates `app` with password `right` on every host form the server may
/// match a loopback client against.
async fn create_user(server: &TestServer, right: &str) {
    let mut admin = server.conn().await.expect("admin connection");
    for host in ["%", "localhost", "127.0.0.1"] {
        admin
            .query_drop(format!(
                "CREATE USER 'app'@'{host}' IDENTIFIED BY '{right}'"
            ))
            .await
            .expect("create user");
        admin
            .query_drop(format!("GRANT ALL ON test.* TO 'app'@'{host}'"))
            .await
            .expect("grant");
    }
    admin.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "current_thread")]
async fn wrong_password_names_host_and_user_but_not_the_password() {
    bounded(
        "wrong_password_names_host_and_user_but_not_the_password",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start()
                .await
                .expect("start a throwaway MariaDB");
            create_user(&server, "Right-0ne-x").await;
            let port = server.addr().port();
            let with = |password: &str| {
                format!("mysql://app:{password}@127.0.0.1:{port}/test?prefer_socket=false")
            };

            // The account works with its password: the failure below is the password's.
            let pool = Pool::builder(options(&with("Right-0ne-x")))
                .connect()
                .await
                .expect("the right password connects");
            assert!(!format!("{pool:?}").contains("Right-0ne-x"), "pool Debug");
            assert!(!pool.boot_report().to_string().contains("Right-0ne-x"));
            assert!(!pool.boot_report().to_json().contains("Right-0ne-x"));
            pool.close().await;

            let captured = Captured::default();
            let _guard = capture(&captured);
            let err = Pool::builder(options(&with(PASSWORD)))
                .connect()
                .await
                .expect_err("the wrong password is refused");
            assert_boot_error_hidden("wrong password", &err);
            let text = err.to_string();
            assert!(text.contains("127.0.0.1"), "names the host: {text}");
            assert!(text.contains("app"), "names the user: {text}");
            let logs = captured.text();
            assert_hidden("logs", &logs);
        },
    )
    .await
}

/// A pool whose password stops working later: the acquire error and the
/// logs of the failed reconnect do not show it.
#[tokio::test(flavor = "current_thread")]
async fn a_password_changed_under_a_running_pool_does_not_leak() {
    bounded(
        "a_password_changed_under_a_running_pool_does_not_leak",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start()
                .await
                .expect("start a throwaway MariaDB");
            create_user(&server, PASSWORD).await;
            let port = server.addr().port();
            let url = format!("mysql://app:{PASSWORD}@127.0.0.1:{port}/test?prefer_socket=false");
            let captured = Captured::default();
            let _guard = capture(&captured);

            let pool = Pool::builder(options(&url))
                .connect()
                .await
                .expect("connects");
            assert_hidden("pool Debug", &format!("{pool:?}"));
            assert_hidden("pool options", &format!("{:?}", pool.options()));
            assert_hidden("boot report", &pool.boot_report().to_string());
            assert_hidden("boot report JSON", &pool.boot_report().to_json());

            let mut admin = server.conn().await.expect("admin");
            for host in ["%", "localhost", "127.0.0.1"] {
                admin
                    .query_drop(format!(
                        "ALTER USER 'app'@'{host}' IDENTIFIED BY 'changed-1'"
                    ))
                    .await
                    .expect("alter user");
            }
            admin.disconnect().await.expect("disconnect");

            // Hold the pooled connection so that the next acquire must open one.
            let held = pool.get().await.expect("the pooled connection");
            let err = pool.get().await.expect_err("the old password is refused");
            assert_hidden("acquire error", &err.to_string());
            assert_hidden("acquire error Debug", &format!("{err:?}"));
            if let Err(e) = pool.exec("DO 1", ()).await {
                assert_hidden("exec error", &format!("{e} {e:?}"));
            }
            drop(held);
            pool.close().await;
            let logs = captured.text();
            assert!(
                logs.contains("opening a pool connection failed"),
                "the capture sees the pool's logs:\n{logs}"
            );
            assert_hidden("logs", &logs);
        },
    )
    .await
}

/// A config the boot checks reject: the report (table and JSON) names the
/// server without the password.
#[tokio::test(flavor = "current_thread")]
async fn boot_report_hides_the_password() {
    bounded("boot_report_hides_the_password", TEST_TIMEOUT, async {
        let server = TestServer::start()
            .await
            .expect("start a throwaway MariaDB");
        create_user(&server, PASSWORD).await;
        server
            .set_global("wait_timeout", 5)
            .await
            .expect("set wait_timeout");
        let port = server.addr().port();
        let captured = Captured::default();
        let _guard = capture(&captured);

        let mut o = options(&format!(
            "mysql://app:{PASSWORD}@127.0.0.1:{port}/test?prefer_socket=false"
        ));
        // Idle far longer than the server allows.
        o.max_idle_time = Some(Duration::from_secs(600));
        o.max_lifetime = Some(Duration::from_secs(3600));
        match Pool::builder(o).connect().await {
            Ok(pool) => {
                let report = pool.boot_report();
                assert_hidden("report", &report.to_string());
                assert_hidden("report JSON", &report.to_json());
                assert_hidden("report Debug", &format!("{report:?}"));
                pool.close().await;
            }
            Err(err) => {
                assert_boot_error_hidden("rejected", &err);
                let report = err.report().expect("a rejection carries its report");
                assert!(report.to_string().contains("127.0.0.1"), "{report}");
                assert_hidden("report Debug", &format!("{report:?}"));
            }
        }
        assert_hidden("logs", &captured.text());
    })
    .await
}

/// What a key file holds is never shown: not when it is not a key, not in
/// the options' Debug.
#[test]
fn the_contents_of_ssl_key_never_show() {
    const MATERIAL: &str = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ-key-material";
    figment::Jail::expect_with(|jail| {
        jail.create_file("client.key", &format!("{MATERIAL}\n"))?;
        jail.create_file("db.yaml", &format!("url: {URL}\nssl_key: client.key\n"))?;
        let err = match PoolOptions::load_from(figment::Figment::from(
            <pool_runtime::config::Yaml as figment::providers::Format>::file("db.yaml"),
        )) {
            Ok(_) => panic!("a key file without a key loaded"),
            Err(e) => e,
        };
        let text = format!("{err} {err:?}");
        assert!(text.contains("ssl_key"), "{text}");
        assert!(text.contains("client.key"), "{text}");
        assert!(!text.contains(MATERIAL), "the key's contents show: {text}");
        assert!(!text.contains(PASSWORD), "{text}");

        let mut options = PoolOptions::from_url(URL).unwrap();
        options.ssl_key = Some("client.key".into());
        let shown = format!("{options:?}");
        assert!(!shown.contains(MATERIAL), "{shown}");
        Ok(())
    });
}

// ---------------------------------------------------------------------------
// Rotating credentials: password_file and custom sources
// ---------------------------------------------------------------------------

/// A token signer whose token is the secret under test.
struct TokenSource(&'static str);

impl pool_runtime::CredentialSource for TokenSource {
    fn name(&self) -> &str {
        "token-signer"
    }

    async fn fetch(&self) -> Result<pool_runtime::Credentials, pool_runtime::FetchError> {
        Ok(pool_runtime::Credentials::new("app", self.0).valid_for(Duration::from_secs(900)))
    }
}

#[track_caller]
fn assert_chain_hidden(what: &str, err: &dyn std::error::Error) {
    assert_hidden(&format!("{what} (Display)"), &err.to_string());
    assert_hidden(&format!("{what} (Debug)"), &format!("{err:?}"));
    let mut source = err.source();
    while let Some(s) = source {
        assert_hidden(&format!("{what} (source)"), &s.to_string());
        source = s.source();
    }
}

/// A password file's contents: not in the options, the builder, the boot
/// report, the pool, a run-time refusal after the file changed, a boot
/// refusal, nor the logs.
#[tokio::test(flavor = "current_thread")]
async fn a_password_files_contents_never_show() {
    bounded(
        "a_password_files_contents_never_show",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start()
                .await
                .expect("start a throwaway MariaDB");
            create_user(&server, PASSWORD).await;
            let captured = Captured::default();
            let _guard = capture(&captured);
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("db-password");
            std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
            let port = server.addr().port();
            let mut o = options(&format!(
                "mysql://app@127.0.0.1:{port}/test?prefer_socket=false"
            ));
            o.ssl_mode = pool_runtime::SslMode::Disabled;
            o.password_file = Some(file.clone());
            // Ping at every checkout: the killed connection is not handed out.
            o.validate_after_idle = Duration::ZERO;
            assert_hidden("options Debug", &format!("{o:?}"));
            let builder = Pool::builder(o.clone());
            assert_hidden("builder Debug", &format!("{builder:?}"));
            let pool = builder.connect().await.expect("the file's password works");
            let report = pool.boot_report();
            assert!(report.to_string().contains("password_file"), "{report}");
            assert_hidden("report", &report.to_string());
            assert_hidden("report JSON", &report.to_json());
            assert_hidden("pool Debug", &format!("{pool:?}"));

            // The file now holds a wrong password (the token): refused at run
            // time, named by the file, shown nowhere.
            std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
            server.kill_all_client_connections().await.unwrap();
            let err = pool.get().await.expect_err("a wrong password in the file");
            let named = std::error::Error::source(&err).map(ToString::to_string);
            assert!(
                named
                    .as_deref()
                    .is_some_and(|s| s.contains("password_file")),
                "{err:?}"
            );
            assert_chain_hidden("run-time refusal", &err);
            pool.close().await;

            let err = Pool::builder(o)
                .connect()
                .await
                .expect_err("wrong password");
            assert_boot_error_hidden("boot refusal", &err);
            assert_hidden("logs", &captured.text());
        },
    )
    .await
}

/// A password file that cannot be used is named by the loader, never
/// echoed.
#[test]
fn a_bad_password_file_is_named_not_echoed() {
    Jail::expect_with(|jail| {
        std::fs::write(
            jail.directory().join("pw"),
            [PASSWORD.as_bytes(), &[0xff]].concat(),
        )
        .unwrap();
        jail.create_file(
            "db.yaml",
            "url: mysql://app@db.internal/shop\npassword_file: pw\n",
        )?;
        let err = match PoolOptions::load_from(figment::Figment::from(
            <pool_runtime::config::Yaml as figment::providers::Format>::file("db.yaml"),
        )) {
            Ok(_) => panic!("a password file that is not text loaded"),
            Err(e) => e,
        };
        let text = err.to_string();
        assert!(
            text.contains("password_file") && text.contains("pw"),
            "{text}"
        );
        assert_error_hidden("bad password file", &err);
        Ok(())
    });
}

/// A custom source's token: not in the builder, `Credentials`, the boot
/// report, the pool, a boot refusal, nor the logs.
#[tokio::test(flavor = "current_thread")]
async fn a_credential_sources_token_never_shows() {
    bounded(
        "a_credential_sources_token_never_shows",
        TEST_TIMEOUT,
        async {
            let server = TestServer::start()
                .await
                .expect("start a throwaway MariaDB");
            create_user(&server, TOKEN).await;
            let captured = Captured::default();
            let _guard = capture(&captured);
            let port = server.addr().port();
            let url = format!("mysql://app@127.0.0.1:{port}/test?prefer_socket=false");
            let credentials = pool_runtime::Credentials::new("app", TOKEN);
            assert_hidden("Credentials Debug", &format!("{credentials:?}"));
            assert_hidden("Secret Display", &credentials.password.to_string());

            let builder = Pool::builder(options(&url)).credentials(TokenSource(TOKEN));
            assert_hidden("builder Debug", &format!("{builder:?}"));
            let pool = builder.connect().await.expect("the token works");
            let report = pool.boot_report();
            assert!(report.to_string().contains("token-signer"), "{report}");
            assert_hidden("report", &report.to_string());
            assert_hidden("report JSON", &report.to_json());
            assert_hidden("pool Debug", &format!("{pool:?}"));
            pool.close().await;

            // A wrong token (the password under test) is refused, named by
            // the source.
            let err = Pool::builder(options(&url))
                .credentials(TokenSource(PASSWORD))
                .connect()
                .await
                .expect_err("a wrong token");
            assert!(err.to_string().contains("token-signer"), "{err}");
            assert_boot_error_hidden("wrong token", &err);
            assert_hidden("logs", &captured.text());
        },
    )
    .await
}
