//! The pool's limits and timeouts, as plain data with documented defaults.

use std::time::Duration;

use crate::boot::BootPolicy;
use crate::url::{DatabaseUrl, UrlError};

/// Everything a pool needs to know, with defaults chosen for a production
/// service. Plain data: set the fields you care about.
///
/// ```
/// use std::time::Duration;
/// use pool_runtime::PoolOptions;
///
/// let mut options = PoolOptions::from_url("mysql://app:secret@127.0.0.1:3306/shop")?;
/// options.max_open = 20;
/// options.max_idle = 20;
/// options.max_idle_time = Some(Duration::from_secs(240));
/// // Debug never shows the password.
/// assert!(!format!("{options:?}").contains("secret"));
/// # Ok::<(), pool_runtime::UrlError>(())
/// ```
///
/// Durations given as `None` switch the limit off. `max_open = 0` means no
/// limit, as in Go's `database/sql`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PoolOptions {
    /// Where to connect. Required by the MySQL pool; its password never prints.
    pub url: Option<DatabaseUrl>,
    /// Most connections open at once, in use or idle; `0` = unlimited.
    /// Default 10.
    pub max_open: u32,
    /// Most idle connections kept; more are closed on return. Default 2, as
    /// Go's `database/sql`: raise it to `max_open` for steady load. Values
    /// above `max_open` act as `max_open`.
    pub max_idle: u32,
    /// Idle connections the maintenance task keeps open. Default 0.
    pub min_idle: u32,
    /// Age at which a connection is retired, from its creation, shortened by
    /// a random 0-2.5% so connections opened together do not expire together.
    /// Default 30 min.
    pub max_lifetime: Option<Duration>,
    /// Time a connection may sit unused in the pool before it is retired.
    /// Keep it (plus `maintenance_interval`) below the server's
    /// `wait_timeout`. Default 5 min.
    pub max_idle_time: Option<Duration>,
    /// Longest an acquire may take, waiting and connecting included.
    /// Default 30 s.
    pub acquire_timeout: Duration,
    /// Longest a new connection may take to open (TCP, TLS, auth, init SQL).
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Fixed bound on a validation ping. `None` (default) adapts it to the
    /// round trips the pool observes (pings and connects), kept between
    /// 10 ms and 5 s: a dead flow on loopback costs milliseconds, and a slow
    /// WAN link is not mistaken for dead.
    pub validation_timeout: Option<Duration>,
    /// A connection idle longer than this is pinged before it is handed out.
    /// Default 500 ms (HikariCP's bypass window).
    pub validate_after_idle: Duration,
    /// Idle connections are pinged this often so the server's idle clock
    /// restarts. Default off.
    pub keepalive_interval: Option<Duration>,
    /// TCP keepalive on pool sockets, so the kernel notices dead peers.
    /// Default 60 s.
    pub tcp_keepalive: Option<Duration>,
    /// Statements run on every new connection, in order.
    pub init_sql: Vec<String>,
    /// A connection held longer than this logs a warning naming the code that
    /// acquired it. Default off.
    pub leak_threshold: Option<Duration>,
    /// How often the maintenance task retires, refills and pings. It adds to
    /// the longest time a connection can sit idle. Default 1 s.
    pub maintenance_interval: Duration,
    /// When a returned connection is reset. Default [`ResetPolicy::WhenDirty`].
    pub reset_on_return: ResetPolicy,
    /// Whether the exec path may re-send a read-only statement (`SELECT`,
    /// `SHOW`, ...) outside a transaction after its connection was lost,
    /// when it cannot tell whether the statement ran. Default on: running a
    /// read twice is harmless, except for reads with side effects
    /// (`GET_LOCK()`, `NEXTVAL()`, functions that write): switch it off if
    /// you issue those through `query*`.
    pub retry_reads: bool,
    /// Client-side bound on each statement of the exec path. On expiry the
    /// connection is closed (its state is unknown) and the caller is told
    /// the statement may have run. Default off: without it, a statement on
    /// a silently dropped connection waits until TCP gives up.
    pub statement_timeout: Option<Duration>,
    /// How many instances of the service run this pool at once: the boot
    /// checks multiply `max_open` by it against the server's limits.
    /// Default 1.
    pub replicas: u32,
    /// What the boot checks do about each finding. Default: errors stop the
    /// pool, warnings are logged. See [`BootPolicy`].
    pub on_violation: BootPolicy,
}

/// When the pool resets a connection that comes back from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResetPolicy {
    /// Only when it is dirty: an open transaction, an error whose effect on
    /// the transaction is unknown, or autocommit switched off. Session
    /// variables and temporary tables survive, as in Go's `database/sql`.
    /// Costs a round trip only on dirty returns.
    #[default]
    WhenDirty,
    /// `COM_RESET_CONNECTION` on every return (mysql_async's `Pool` default):
    /// a pristine session each time, at one round trip per checkout.
    Always,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            url: None,
            max_open: 10,
            max_idle: 2,
            min_idle: 0,
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            max_idle_time: Some(Duration::from_secs(5 * 60)),
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            validation_timeout: None,
            validate_after_idle: Duration::from_millis(500),
            keepalive_interval: None,
            tcp_keepalive: Some(Duration::from_secs(60)),
            init_sql: Vec::new(),
            leak_threshold: None,
            maintenance_interval: Duration::from_secs(1),
            reset_on_return: ResetPolicy::WhenDirty,
            retry_reads: true,
            statement_timeout: None,
            replicas: 1,
            on_violation: BootPolicy::default(),
        }
    }
}

impl PoolOptions {
    /// Defaults, connecting to `url`.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        Ok(PoolOptions {
            url: Some(DatabaseUrl::parse(url)?),
            ..PoolOptions::default()
        })
    }
}

// ---------------------------------------------------------------------------
// The pool core's limits, taken from these options.
//
// `pool::Limits` is the generic core's own type; the core never imports
// `PoolOptions` (it carries the URL, the boot policy and exec settings). The
// conversion lives here, on the options' side, so that the dependency points
// from options to the core, and so that `Limits::default()` is these
// defaults, not a second copy of them.
// ---------------------------------------------------------------------------

impl From<&PoolOptions> for crate::pool::Limits {
    fn from(options: &PoolOptions) -> Self {
        // A struct literal, not field updates: a new limit fails to compile
        // here until it is mapped.
        crate::pool::Limits {
            max_open: options.max_open,
            max_idle: options.max_idle,
            min_idle: options.min_idle,
            max_lifetime: options.max_lifetime,
            max_idle_time: options.max_idle_time,
            acquire_timeout: options.acquire_timeout,
            connect_timeout: options.connect_timeout,
            validation_timeout: options.validation_timeout,
            validate_after_idle: options.validate_after_idle,
            keepalive_interval: options.keepalive_interval,
            leak_threshold: options.leak_threshold,
            maintenance_interval: options.maintenance_interval,
            reset_every_return: options.reset_on_return == ResetPolicy::Always,
        }
    }
}

impl Default for crate::pool::Limits {
    /// The limits of `PoolOptions::default()`.
    fn default() -> Self {
        Self::from(&PoolOptions::default())
    }
}
