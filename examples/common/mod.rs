//! What the examples that judge a config share: a throwaway server, and the
//! config loaded as a service loads it, with the server's URL filled in.

use std::process::ExitCode;

use pool_runtime::config::in_code;
use pool_runtime::testkit::TestServer;
use pool_runtime::{Loaded, PoolConfig};

/// A throwaway MariaDB (with `wait_timeout` set, if given) and `T` loaded
/// from its layers plus that server's URL; exit status 2 on failure, after
/// printing why.
pub async fn config_against_throwaway<T: PoolConfig>(
    wait_timeout: Option<u64>,
) -> Result<(TestServer, Loaded<T>), ExitCode> {
    let failed = |e: &dyn std::fmt::Display| {
        eprintln!("{e}");
        ExitCode::from(2)
    };
    let server = TestServer::start().await.map_err(|e| failed(&e))?;
    if let Some(seconds) = wait_timeout {
        server
            .set_global("wait_timeout", seconds)
            .await
            .map_err(|e| failed(&e))?;
    }
    // In a service: `T::load()`; here the URL is the throwaway server's.
    let config = T::figment()
        .and_then(|f| T::load_from(f.merge(in_code("url", server.url()))))
        .map_err(|e| failed(&e))?;
    Ok((server, config))
}
