//! One connect with credentials from the cache: refused once, fetched
//! fresh and tried again; refused twice, held back.

use mysql_async::Conn;

use super::{CredentialCache, CredentialError, Issued};
use crate::mysql::MySqlManager;

/// The server's "access denied" (wrong user name or password).
const ACCESS_DENIED: u16 = 1045;

fn is_access_denied(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == ACCESS_DENIED)
}

/// Opens a connection as `manager` does, logging in with credentials from
/// `cache`.
pub(crate) async fn with_cache(
    manager: &MySqlManager,
    cache: &CredentialCache,
) -> Result<Conn, mysql_async::Error> {
    let issued = cache
        .current()
        .await
        .map_err(CredentialError::into_driver)?;
    let refusal = match attempt(manager, cache, &issued).await {
        Err(e) if is_access_denied(&e) => e,
        outcome => return outcome,
    };
    // Rotated under us (or a stale first answer): ask once more.
    let fresh = cache
        .newer_than(&issued)
        .await
        .map_err(CredentialError::into_driver)?;
    if fresh.credentials.same_login(&issued.credentials) {
        // The same answer would only be refused again, and count as one
        // more failed login against the account.
        return Err(refused(manager, cache, &issued, &refusal));
    }
    match attempt(manager, cache, &fresh).await {
        Err(e) if is_access_denied(&e) => Err(refused(manager, cache, &fresh, &e)),
        outcome => outcome,
    }
}

/// One login with `issued`, unless it is being held back.
async fn attempt(
    manager: &MySqlManager,
    cache: &CredentialCache,
    issued: &Issued,
) -> Result<Conn, mysql_async::Error> {
    if let Some(left) = cache.held_back(issued) {
        return Err(CredentialError::AccessDenied {
            target: manager.target().to_owned(),
            user: issued.credentials.user.clone(),
            from: cache.provider().describe(),
            retry_in: left,
            server_said: "not sent: the server refused these credentials before".into(),
        }
        .into_driver());
    }
    let outcome = manager.connect_as(Some(issued)).await;
    if outcome.is_ok() {
        cache.accepted();
    }
    outcome
}

/// Records the refusal of `issued` and says so.
fn refused(
    manager: &MySqlManager,
    cache: &CredentialCache,
    issued: &Issued,
    error: &mysql_async::Error,
) -> mysql_async::Error {
    let retry_in = cache.refused(issued);
    let from = cache.provider().describe();
    let server_said = match error {
        // Names user and host, never the password.
        mysql_async::Error::Server(e) => e.message.clone(),
        other => other.to_string(),
    };
    tracing::warn!(
        target = manager.target(),
        from = %from,
        retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        "the server refused the credentials, also fetched fresh; connects with them are held back"
    );
    CredentialError::AccessDenied {
        target: manager.target().to_owned(),
        user: issued.credentials.user.clone(),
        from,
        retry_in,
        server_said,
    }
    .into_driver()
}
