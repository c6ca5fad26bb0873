//! Every pool setting of [`pool-runtime`](https://docs.rs/pool-runtime),
//! declared once, and the vocabulary its runtime and its derive share.
//!
//! A setting is one row of [`settings_table!`]: its key, Rust type, default,
//! kind (which carries its bounds), unit and doc comment. Everything else is
//! generated from that row or reads it:
//!
//! - `pool-runtime` expands the table into `PoolOptions` (fields, docs,
//!   `Default`), its config loading and key list, and the `pool-doctor`'s
//!   settings;
//! - `pool-macros` reads [`SETTINGS`] at compile time to know which fields
//!   are settings, which Rust types they take, and which literal defaults are
//!   impossible;
//! - the README's key table is [`markdown_table`], checked by a test.
//!
//! Adding a setting is one row here plus the code that uses it.
//!
//! The same rules run at compile time (a `#[pool(default = ...)]` literal)
//! and at run time (a value from YAML or the environment): duration parsing
//! ([`duration`]), bounds ([`Setting::check_count`],
//! [`Setting::check_duration`]), the boot-policy grammar ([`policy`]) and
//! did-you-mean ([`words`]), so both report the same problem in the same
//! words.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod duration;
mod fallback;
pub mod policy;
mod reset;
mod role;
mod ssl;
mod table;
pub mod words;

pub use fallback::ReplicaFallback;
pub use policy::Policy;
pub use reset::ResetPolicy;
pub use role::Role;
pub use ssl::SslMode;
pub use table::{
    CLUSTER_SETTINGS, DefaultValue, Kind, SETTINGS, Setting, cluster_markdown_table, markdown_table,
};

/// MySQL's own ceiling for `max_connections`: no pool needs more.
pub const MOST_CONNECTIONS: u32 = 100_000;

/// The settings table: every pool setting, in the order configs, templates
/// and reports list them.
///
/// It calls `$then!` with the rows, so each consumer expands them its own
/// way (`pool-runtime` into `PoolOptions`, this crate into [`SETTINGS`]).
/// A row reads:
///
/// ```text
/// /// Doc comment: its first line is the summary in tables.
/// key: RustType = DefaultValue, kind Kind { bounds }, unit "unit";
/// ```
///
/// `DefaultValue` and `Kind` are written with this crate's [`DefaultValue`]
/// and [`Kind`] variants in scope; the Rust type names the type
/// `pool-runtime` holds the value in.
#[macro_export]
macro_rules! settings_table {
    ($then:path) => {
        $then! {
            /// Where to connect: `mysql://user:password@host:port/db?params`; the
            /// password never prints.
            url: Option<DatabaseUrl> = Required, kind Url, unit "";

            /// The pool's name in metrics (`db.client.connection.pool.name`,
            /// feature `metrics`); unset, `host:port/db` from the URL, never
            /// with credentials. Give each pool of a service its own.
            pool_name: Option<String> = Off, kind Text, unit "";

            /// Most connections open at once, in use or idle; `0` = unlimited (as
            /// Go's `database/sql`).
            max_open: u32 = Count(10), kind Count { min: 0, max: $crate::MOST_CONNECTIONS }, unit "connections";

            /// Most idle connections kept; more are closed on return (Go's
            /// default): raise it to `max_open` for steady load. Values above
            /// `max_open` act as `max_open`.
            max_idle: u32 = Count(2), kind Count { min: 0, max: $crate::MOST_CONNECTIONS }, unit "connections";

            /// Idle connections the maintenance task keeps open.
            min_idle: u32 = Count(0), kind Count { min: 0, max: $crate::MOST_CONNECTIONS }, unit "connections";

            /// Age at which a connection is retired, from its creation, less a
            /// random 0-2.5% so that connections opened together do not expire
            /// together.
            max_lifetime: Option<Duration> = Duration($crate::duration::secs(30 * 60)), kind Duration { off: true, zero: false }, unit "";

            /// Time a connection may sit unused in the pool before it is retired;
            /// keep it (plus `maintenance_interval`) below the server's
            /// `wait_timeout`.
            max_idle_time: Option<Duration> = Duration($crate::duration::secs(5 * 60)), kind Duration { off: true, zero: false }, unit "";

            /// Longest an acquire may take, waiting and connecting included.
            acquire_timeout: Duration = Duration($crate::duration::secs(30)), kind Duration { off: false, zero: false }, unit "";

            /// Longest a new connection may take to open (TCP, TLS, auth, init
            /// SQL).
            connect_timeout: Duration = Duration($crate::duration::secs(10)), kind Duration { off: false, zero: false }, unit "";

            /// Bound on the validation ping; by default learned from the round
            /// trips the pool observes (pings and connects), kept between 10 ms
            /// and 5 s, so a dead flow on loopback costs milliseconds and a slow
            /// WAN link is not mistaken for dead.
            validation_timeout: Option<Duration> = Adaptive, kind Duration { off: true, zero: false }, unit "";

            /// A connection idle longer than this is pinged before it is handed
            /// out (HikariCP's bypass window); `0` pings at every checkout.
            validate_after_idle: Duration = Duration($crate::duration::millis(500)), kind Duration { off: false, zero: true }, unit "";

            /// After a connection dies in a way that proves the server closed it
            /// (reset, end of stream, a killed session), ping every connection
            /// last known alive before that before its next use, even within
            /// `validate_after_idle`: a restart or a failover that kills every
            /// session costs one failed statement, not one per connection.
            validate_suspects: bool = Flag(true), kind Flag, unit "";

            /// Idle connections are pinged this often, so that the server's idle
            /// clock restarts.
            keepalive_interval: Option<Duration> = Off, kind Duration { off: true, zero: false }, unit "";

            /// TCP keepalive on pool sockets, so that the kernel notices dead
            /// peers.
            tcp_keepalive: Option<Duration> = Duration($crate::duration::secs(60)), kind Duration { off: true, zero: false }, unit "";

            /// Statements run on every new connection, in order (and again after
            /// a reset).
            init_sql: Vec<String> = Empty, kind Statements, unit "";

            /// A connection held longer than this logs a warning naming the code
            /// that acquired it.
            leak_threshold: Option<Duration> = Off, kind Duration { off: true, zero: false }, unit "";

            /// How often the maintenance task retires, refills and pings; it adds
            /// to the longest time a connection can sit idle.
            maintenance_interval: Duration = Duration($crate::duration::secs(1)), kind Duration { off: false, zero: false }, unit "";

            /// When a returned connection is reset: `when_dirty` (an open
            /// transaction or an unknown state is rolled back, session variables
            /// survive, as in Go) or `always` (`COM_RESET_CONNECTION` on every
            /// return, one round trip per checkout).
            reset_on_return: ResetPolicy = Word("when_dirty"), kind Choice { words: $crate::ResetPolicy::WORDS }, unit "";

            /// Whether the exec path may re-send a read-only statement outside a
            /// transaction after its connection was lost, when it cannot tell
            /// whether it ran. Running a read twice is harmless, except for reads
            /// with side effects (`GET_LOCK()`, `NEXTVAL()`, functions that
            /// write): switch it off if you send those through `query*`.
            retry_reads: bool = Flag(true), kind Flag, unit "";

            /// Client-side bound on each statement of the exec path; on expiry the
            /// connection is closed (its state is unknown) and the caller is told
            /// the statement may have run. Without it, a statement on a silently
            /// dropped connection waits until TCP gives up.
            statement_timeout: Option<Duration> = Off, kind Duration { off: true, zero: false }, unit "";

            /// Which server this pool is for: `primary` (writable; a read-only
            /// server is refused at boot), `replica` (a writable server is a
            /// warning) or `any`.
            role: Role = Word("primary"), kind Choice { words: $crate::Role::WORDS }, unit "";

            /// How many instances of the service run this pool at once: the boot
            /// checks multiply `max_open` by it against the server's limits.
            instances: u32 = Count(1), kind Count { min: 1, max: $crate::MOST_CONNECTIONS }, unit "service instances";

            /// TLS to the server, with MySQL's names: `disabled`, `preferred`
            /// (TLS when the server offers it, plaintext otherwise), `required`
            /// (TLS, certificate not checked), `verify_ca` (a trusted
            /// certificate) or `verify_identity` (trusted, and its name matches
            /// the host or `tls_server_name`). With `ssl_ca` set, `preferred`
            /// means `verify_identity`.
            ssl_mode: SslMode = Word("preferred"), kind Choice { words: $crate::SslMode::WORDS }, unit "";

            /// PEM file of the CAs trusted to sign the server's certificate
            /// (they replace the built-in webpki roots); setting it turns on
            /// verification.
            ssl_ca: Option<PathBuf> = Off, kind Path, unit "";

            /// PEM file of the client certificate (chain) shown to the server;
            /// needs `ssl_key`.
            ssl_cert: Option<PathBuf> = Off, kind Path, unit "";

            /// PEM file of the client certificate's private key; its contents
            /// never print.
            ssl_key: Option<PathBuf> = Off, kind Path, unit "";

            /// The name the server's certificate must carry, instead of the
            /// URL's host: for connecting by IP address or through a proxy.
            tls_server_name: Option<String> = Off, kind Text, unit "";

            /// File holding the password, read at every new connection (trailing
            /// newline trimmed), so a rotated Kubernetes secret or Vault-agent
            /// file is picked up without a restart; its contents never print.
            /// The URL then carries no password.
            password_file: Option<PathBuf> = Off, kind Path, unit "";

            /// Allow the `mysql_clear_password` authentication plugin (RDS IAM
            /// tokens, LDAP/PAM): it sends the password as is, so the boot
            /// refuses it unless `ssl_mode` is `verify_ca` or `verify_identity`.
            allow_cleartext_password: bool = Flag(false), kind Flag, unit "";
            /// At `connect()`, wait until `min_idle` connections are open, up to
            /// this long, so a service is ready only when its pool is; a pool that
            /// cannot open them in time fails to start. Off: the pool fills
            /// `min_idle` in the background.
            warm_up: Option<Duration> = Off, kind Duration { off: true, zero: false }, unit "";

            /// What the boot checks do about each finding: `deny`, `warn` or
            /// `fix`, with per-code overrides (`"warn, idle_bound=fix"`). By
            /// default errors deny and warnings warn.
            on_violation: BootPolicy = Empty, kind Policy, unit "";
        }
    };
}

/// The cluster settings table: the keys of a cluster config that are not
/// pool settings (each member pool reads the [`settings_table!`]), in the
/// same row format.
#[macro_export]
macro_rules! cluster_settings_table {
    ($then:path) => {
        $then! {
            /// After a write through a cluster handle or a `Session`, its
            /// reads go to the primary for this long, so that they see the
            /// write although replicas apply it later. `0` switches it off.
            read_your_writes: Duration = Duration($crate::duration::secs(1)), kind Duration { off: false, zero: true }, unit "";

            /// A replica whose `Seconds_Behind_Master` is above this leaves the
            /// read rotation until it has caught up. 5 s: above the usual
            /// second-or-two jitter of a healthy replica under bursts, below
            /// what a user notices as stale data.
            max_replica_lag: Duration = Duration($crate::duration::secs(5)), kind Duration { off: false, zero: false }, unit "";

            /// Where reads go when no replica is in rotation: `primary` (the
            /// primary takes them) or `fail` (an error that names each replica
            /// and why it is out).
            replica_fallback: ReplicaFallback = Word("primary"), kind Choice { words: $crate::ReplicaFallback::WORDS }, unit "";

            /// How often each replica's replication state and lag are read
            /// (`SHOW REPLICA STATUS`, or `SHOW SLAVE STATUS` on older servers), all replicas at once; each check is bounded by this interval or 1 s, whichever is longer.
            replica_check_interval: Duration = Duration($crate::duration::secs(1)), kind Duration { off: false, zero: false }, unit "";
        }
    };
}
