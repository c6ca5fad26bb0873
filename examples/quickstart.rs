//! First run: connect to a MySQL/MariaDB server and show the limit that
//! decides how long a pooled connection may sit idle.
//!
//! ```text
//! cargo run --example quickstart                     # starts a throwaway MariaDB
//! DATABASE_URL=mysql://root@127.0.0.1:3306/test cargo run --example quickstart
//! ```

use std::error::Error;

use pool_runtime::mysql_async::prelude::*;
use pool_runtime::mysql_async::{Conn, Opts};
use pool_runtime::testkit::TestServer;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Kept alive until the end of main: dropping it stops the server.
    let (url, _server) = match std::env::var("DATABASE_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let server = TestServer::start().await?;
            println!(
                "DATABASE_URL is unset: started a throwaway MariaDB in {} ms",
                server.started_in().unwrap_or_default().as_millis()
            );
            (server.url().to_owned(), Some(server))
        }
    };

    let opts = Opts::from_url(&url)?;
    // Never print the URL itself: it may carry a password.
    println!(
        "connecting to {}:{} as {}",
        opts.ip_or_hostname(),
        opts.tcp_port(),
        opts.user().unwrap_or("(no user)")
    );
    let mut conn = Conn::new(opts).await?;
    let (version, session_wait, global_wait): (String, u64, u64) = conn
        .query_first("SELECT VERSION(), @@session.wait_timeout, @@global.wait_timeout")
        .await?
        .ok_or("the server returned no row")?;
    conn.disconnect().await?;

    println!("server version:        {version}");
    println!("wait_timeout (session): {session_wait} s");
    println!("wait_timeout (global):  {global_wait} s");
    println!(
        "A pooled connection idle longer than {session_wait} s is closed by the server; \
         the pool must retire or ping it before then."
    );
    Ok(())
}
