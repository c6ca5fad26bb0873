//! Accounts on an owned test server: users with passwords, password
//! changes, and what the server counts about logins. For tests of
//! credentials (rotation, refused logins), never on the shared server.

use mysql_async::prelude::*;

use super::{TestServer, admin};
use crate::testkit::TestkitError;

/// The hosts an account is created for: any host over TCP, and
/// `localhost`, which MariaDB matches for loopback connections before `%`.
const HOSTS: [&str; 2] = ["%", "localhost"];

impl TestServer {
    /// Creates `user` with `password` (for every host), with all privileges
    /// on database `test`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pool_runtime::testkit::TestkitError> {
    /// use pool_runtime::testkit::TestServer;
    ///
    /// let server = TestServer::start().await?;
    /// server.create_user("app", "p1").await?;
    /// let url = server.url_for("app", "p1")?;
    /// server.set_password("app", "p2").await?; // open sessions stay logged in
    /// let killed = server.kill_user_connections("app").await?;
    /// let refused = server.failed_logins().await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_user(&self, user: &str, password: &str) -> Result<(), TestkitError> {
        const ACTION: &str = "create_user";
        let name = checked(user)?;
        let secret = quoted(password);
        let mut statements = Vec::new();
        for host in HOSTS {
            statements.push(format!(
                "CREATE USER '{name}'@'{host}' IDENTIFIED BY {secret}"
            ));
            statements.push(format!(
                "GRANT ALL PRIVILEGES ON test.* TO '{name}'@'{host}'"
            ));
        }
        self.run_all(ACTION, &statements).await
    }

    /// Changes the password of `user` (`ALTER USER`). Its open sessions
    /// stay logged in; new logins need the new password.
    pub async fn set_password(&self, user: &str, password: &str) -> Result<(), TestkitError> {
        const ACTION: &str = "set_password";
        let name = checked(user)?;
        let secret = quoted(password);
        let statements: Vec<String> = HOSTS
            .iter()
            .map(|host| format!("ALTER USER '{name}'@'{host}' IDENTIFIED BY {secret}"))
            .collect();
        self.run_all(ACTION, &statements).await
    }

    /// Kills every session of `user`, as a server restart or a lifetime
    /// expiry would end them. Returns how many were killed.
    pub async fn kill_user_connections(&self, user: &str) -> Result<usize, TestkitError> {
        const ACTION: &str = "kill_user_connections";
        self.running(ACTION)?;
        let mut conn = self.kit_conn(ACTION).await?;
        let ids = user_sessions(&mut conn, user).await?;
        let killed = admin::kill_sessions(&mut conn, ids).await;
        admin::disconnect(conn).await;
        killed
    }

    /// The number of sessions of `user` the server has (not counting ones
    /// being killed).
    pub async fn user_connections(&self, user: &str) -> Result<usize, TestkitError> {
        const ACTION: &str = "user_connections";
        let mut conn = self.kit_conn(ACTION).await?;
        let ids = user_sessions(&mut conn, user).await?;
        admin::disconnect(conn).await;
        Ok(ids.len())
    }

    /// Logins the server refused or that broke off since it started: its
    /// `Aborted_connects` status counter (a wrong password adds one).
    pub async fn failed_logins(&self) -> Result<u64, TestkitError> {
        const ACTION: &str = "failed_logins";
        const QUERY: &str = "SHOW GLOBAL STATUS LIKE 'Aborted_connects'";
        let mut conn = self.kit_conn(ACTION).await?;
        let row: Option<(String, u64)> = conn
            .query_first(QUERY)
            .await
            .map_err(|e| TestkitError::query(QUERY, e))?;
        admin::disconnect(conn).await;
        Ok(row.map_or(0, |(_, n)| n))
    }

    /// The URL of [`url`](Self::url) with another user and password.
    pub fn url_for(&self, user: &str, password: &str) -> Result<String, TestkitError> {
        let mut url = url::Url::parse(self.url()).map_err(|e| TestkitError::BadUrl {
            what: "the test server URL",
            reason: e.to_string(),
        })?;
        let bad = |_| TestkitError::BadUrl {
            what: "the test server URL with a user",
            reason: "it cannot carry a user name".into(),
        };
        url.set_username(checked(user)?).map_err(bad)?;
        url.set_password((!password.is_empty()).then_some(password))
            .map_err(bad)?;
        Ok(url.into())
    }

    async fn run_all(
        &self,
        action: &'static str,
        statements: &[String],
    ) -> Result<(), TestkitError> {
        self.running(action)?;
        let mut conn = self.kit_conn(action).await?;
        for statement in statements {
            if let Err(e) = conn.query_drop(statement.as_str()).await {
                // The statement holds a password: name the action only.
                return Err(TestkitError::query(action, e));
            }
        }
        admin::disconnect(conn).await;
        Ok(())
    }
}

async fn user_sessions(conn: &mut mysql_async::Conn, user: &str) -> Result<Vec<u64>, TestkitError> {
    const QUERY: &str = "SELECT ID FROM information_schema.PROCESSLIST \
                         WHERE USER = ? AND ID <> CONNECTION_ID() AND COMMAND <> 'Killed'";
    conn.exec(QUERY, (user,))
        .await
        .map_err(|e| TestkitError::query(QUERY, e))
}

fn checked(user: &str) -> Result<&str, TestkitError> {
    if user.is_empty() || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(TestkitError::BadUserName { name: user.into() });
    }
    Ok(user)
}

/// `value` as an SQL string literal.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}
