//! The rules: each judges some settings against the facts, says why, and
//! where it can, names a safe value.

use std::time::Duration;

use pool_settings::{Kind, SETTINGS, Setting};

use super::facts::ServerFacts;
use crate::findings::{Code, Severity};
use crate::options::{PoolOptions, SettingValue, keys};
use crate::source::{Source, Sources};

/// A finding before the policy decides what to do about it.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub(crate) code: Code,
    pub(crate) severity: Severity,
    pub(crate) key: &'static Setting,
    pub(crate) value: String,
    pub(crate) fact: Option<String>,
    pub(crate) why: String,
    pub(crate) fix: String,
    pub(crate) remedy: Option<Remedy>,
}

/// A safe value the `fix` policy may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Remedy {
    MaxIdleTime(Duration),
    MaxIdle(u32),
    MinIdle(u32),
    MaxOpen(u32),
    KeepaliveInterval(Duration),
}

impl Remedy {
    /// Applies the value; returns it as shown in the report.
    pub(crate) fn apply(self, options: &mut PoolOptions) -> String {
        match self {
            Remedy::MaxIdleTime(d) => {
                options.max_idle_time = Some(d);
                format!("max_idle_time = {}", secs(d))
            }
            Remedy::MaxIdle(n) => {
                options.max_idle = n;
                format!("max_idle = {n}")
            }
            Remedy::MinIdle(n) => {
                options.min_idle = n;
                format!("min_idle = {n}")
            }
            Remedy::MaxOpen(n) => {
                options.max_open = n;
                options.max_idle = options.max_idle.min(n);
                options.min_idle = options.min_idle.min(options.max_idle);
                format!("max_open = {n}")
            }
            Remedy::KeepaliveInterval(d) => {
                options.keepalive_interval = Some(d);
                format!("keepalive_interval = {}", secs(d))
            }
        }
    }
}

/// Durations as people write them in configs: whole seconds when whole.
pub(crate) fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Where a key's value came from: the loaded config's record, or for
/// options built in code, `default` when it still has its default value.
pub(crate) struct Origins<'a> {
    pub(crate) sources: Option<&'a Sources>,
    pub(crate) options: &'a PoolOptions,
}

impl Origins<'_> {
    pub(crate) fn of(&self, setting: &Setting) -> Source {
        match self.sources {
            Some(sources) => sources.of(setting.key),
            None if self.options.is_default(setting.key) => Source::Default,
            None => Source::Code,
        }
    }
}

/// Every rule, in report order.
pub(crate) fn judge(options: &PoolOptions, facts: &ServerFacts) -> Vec<Draft> {
    let mut out = Vec::new();
    durations(options, &mut out);
    idle_bound(options, facts, &mut out);
    counts(options, &mut out);
    timeouts(options, &mut out);
    keepalive(options, &mut out);
    fleet(options, facts, &mut out);
    open_files(options, facts, &mut out);
    tls(options, facts, &mut out);
    role(options, facts, &mut out);
    out.sort_by_key(|d| d.severity);
    out
}

/// The longest a pooled connection can sit untouched, and the setting that
/// decides it: the least of max_idle_time, max_lifetime and
/// keepalive_interval, plus the maintenance tick. `None`: no bound at all.
pub(crate) fn longest_idle(
    options: &PoolOptions,
) -> Option<(&'static Setting, Duration, Duration)> {
    [
        (keys::max_idle_time, options.max_idle_time),
        (keys::max_lifetime, options.max_lifetime),
        (keys::keepalive_interval, options.keepalive_interval),
    ]
    .into_iter()
    .filter_map(|(key, d)| d.map(|d| (key, d)))
    .min_by_key(|(_, d)| *d)
    .map(|(key, d)| (key, d, d + options.maintenance_interval))
}

pub(crate) fn idle_bound(options: &PoolOptions, facts: &ServerFacts, out: &mut Vec<Draft>) {
    // Servers refuse a wait_timeout below 1 s; a 0 read here is no reason
    // to skip the check (fail closed).
    let wait = facts.session_wait_timeout.max(1);
    let wait_d = Duration::from_secs(wait);
    let margin = Duration::from_secs((wait / 10).max(1));
    let tick = options.maintenance_interval;
    let safe_total = wait_d.saturating_sub(margin);
    let limit = longest_idle(options);
    if limit.is_some_and(|(_, _, bound)| bound <= safe_total) {
        return;
    }
    // Rounded down to what a person would write: whole seconds, or whole
    // milliseconds for the short timeouts of tests and special setups.
    let room = safe_total.saturating_sub(tick);
    let safe = if room >= Duration::from_secs(10) {
        Duration::from_secs(room.as_secs())
    } else {
        Duration::from_millis(room.as_millis() as u64)
    };
    let (key, value, bound_text) = match limit {
        Some((key, d, bound)) => (
            key,
            secs(d),
            format!(
                "{} ({key} {} + {} maintenance tick)",
                secs(bound),
                secs(d),
                secs(tick)
            ),
        ),
        None => (
            keys::max_idle_time,
            "off".to_owned(),
            "forever (max_idle_time, max_lifetime and keepalive_interval are all off)".to_owned(),
        ),
    };
    let (fix, remedy) = if safe.is_zero() {
        (
            format!(
                "wait_timeout {wait} s leaves no room for the {} maintenance tick: lower maintenance_interval \
                 (e.g. to 100ms) and set max_idle_time below {}, or raise the server's wait_timeout",
                secs(tick),
                secs(safe_total)
            ),
            None,
        )
    } else {
        (
            format!(
                "set max_idle_time to at most {} (wait_timeout {wait} s, minus a {} margin and the {} tick), \
                 or raise the server's wait_timeout",
                secs(safe),
                secs(margin),
                secs(tick)
            ),
            Some(Remedy::MaxIdleTime(safe)),
        )
    };
    out.push(Draft {
        code: Code::IdleBound,
        severity: Severity::Error,
        key,
        value,
        fact: Some(format!("wait_timeout = {wait} s (session)")),
        why: format!(
            "a pooled connection can sit idle up to {bound_text}, but the server closes sessions idle \
             for {wait} s: the next query on such a connection meets a dead socket (`invalid connection`)"
        ),
        fix,
        remedy,
    });
}

/// Every duration setting that must be positive, read from the table.
fn durations(options: &PoolOptions, out: &mut Vec<Draft>) {
    for setting in SETTINGS {
        if !matches!(setting.kind, Kind::Duration { zero: false, .. }) {
            continue;
        }
        let Some(SettingValue::Duration(d)) = options.value(setting.key) else {
            continue;
        };
        if d.is_zero() {
            let key = setting.key;
            out.push(Draft {
                code: Code::DurationNotPositive,
                severity: Severity::Error,
                key: setting,
                value: "0s".into(),
                fact: None,
                why: format!("a zero {key} makes every operation it bounds fail or spin"),
                fix: format!(
                    "give {key} a positive duration, or switch it off where that is allowed"
                ),
                remedy: None,
            });
        }
    }
}

fn counts(options: &PoolOptions, out: &mut Vec<Draft>) {
    if options.max_open != 0 && options.max_idle > options.max_open {
        out.push(Draft {
            code: Code::MaxIdleAboveMaxOpen,
            severity: Severity::Warning,
            key: keys::max_idle,
            value: options.max_idle.to_string(),
            fact: None,
            why: format!(
                "at most max_open = {} connections exist, idle ones included: max_idle acts as {}",
                options.max_open, options.max_open
            ),
            fix: format!("set max_idle to at most {}", options.max_open),
            remedy: Some(Remedy::MaxIdle(options.max_open)),
        });
    }
    let idle_cap = if options.max_open == 0 {
        options.max_idle
    } else {
        options.max_idle.min(options.max_open)
    };
    if options.min_idle > idle_cap {
        out.push(Draft {
            code: Code::MinIdleAboveMaxIdle,
            severity: Severity::Error,
            key: keys::min_idle,
            value: options.min_idle.to_string(),
            fact: None,
            why: format!(
                "maintenance would open idle connections beyond max_idle = {idle_cap} only for them to be closed again, tick after tick"
            ),
            fix: format!("set min_idle to at most {idle_cap}"),
            remedy: Some(Remedy::MinIdle(idle_cap)),
        });
    }
    if options.max_open == 0 {
        out.push(Draft {
            code: Code::MaxOpenUnlimited,
            severity: Severity::Warning,
            key: keys::max_open,
            value: "0 (unlimited)".into(),
            fact: None,
            why: "a burst of load opens as many connections as it has requests, until the server refuses them".into(),
            fix: "set max_open to the most connections this service should hold".into(),
            remedy: None,
        });
    }
}

fn timeouts(options: &PoolOptions, out: &mut Vec<Draft>) {
    if options.connect_timeout > options.acquire_timeout {
        out.push(Draft {
            code: Code::ConnectTimeoutAboveAcquireTimeout,
            severity: Severity::Warning,
            key: keys::connect_timeout,
            value: secs(options.connect_timeout),
            fact: None,
            why: format!(
                "an acquire gives up after acquire_timeout = {} while a connect may still run: the connect's own error is never seen",
                secs(options.acquire_timeout)
            ),
            fix: format!("set connect_timeout below {}", secs(options.acquire_timeout)),
            remedy: None,
        });
    }
    if options.acquire_timeout > Duration::from_secs(600) {
        out.push(Draft {
            code: Code::AcquireTimeoutTooLong,
            severity: Severity::Warning,
            key: keys::acquire_timeout,
            value: secs(options.acquire_timeout),
            fact: None,
            why:
                "callers wait more than 10 minutes for a connection: long after any client gave up"
                    .into(),
            fix: "set acquire_timeout to seconds, not minutes (e.g. 30s)".into(),
            remedy: None,
        });
    }
}

fn keepalive(options: &PoolOptions, out: &mut Vec<Draft>) {
    if let (Some(keep), Some(life)) = (options.keepalive_interval, options.max_lifetime) {
        if keep >= life {
            let half = Duration::from_secs((life / 2).as_secs().max(1));
            out.push(Draft {
                code: Code::KeepaliveNotBelowLifetime,
                severity: Severity::Warning,
                key: keys::keepalive_interval,
                value: secs(keep),
                fact: None,
                why: format!(
                    "connections retire at max_lifetime = {} before any keepalive is due",
                    secs(life)
                ),
                fix: format!(
                    "set keepalive_interval below max_lifetime, e.g. {}",
                    secs(half)
                ),
                remedy: Some(Remedy::KeepaliveInterval(half)),
            });
        }
    }
}

fn fleet(options: &PoolOptions, facts: &ServerFacts, out: &mut Vec<Draft>) {
    if options.max_open == 0 {
        return;
    }
    let instances = u64::from(options.instances.max(1));
    let need = u64::from(options.max_open) * instances;
    let fleet_text = if instances > 1 {
        format!("{} × {instances} instances = {need}", options.max_open)
    } else {
        need.to_string()
    };
    let per_instance = |limit: u64| u32::try_from(limit / instances).unwrap_or(u32::MAX);
    let user_limit = facts.max_user_connections;
    if user_limit > 0 && need > user_limit {
        let whose = if facts.account_has_own_limit {
            "the account's own MAX_USER_CONNECTIONS"
        } else {
            "the server's max_user_connections"
        };
        let safe = per_instance(user_limit);
        out.push(Draft {
            code: Code::FleetAboveAccountLimit,
            severity: Severity::Error,
            key: keys::max_open,
            value: options.max_open.to_string(),
            fact: Some(format!("max_user_connections = {user_limit} ({whose})")),
            why: format!("the fleet may open {fleet_text} connections as this account, but the server refuses it beyond {user_limit}"),
            fix: format!("set max_open to at most {safe}, or raise the account's limit"),
            remedy: (safe > 0).then_some(Remedy::MaxOpen(safe)),
        });
    }
    let max_conn = facts.max_connections;
    if max_conn > 0 && need > max_conn {
        let safe = per_instance(max_conn);
        out.push(Draft {
            code: Code::FleetAboveMaxConnections,
            severity: Severity::Error,
            key: keys::max_open,
            value: options.max_open.to_string(),
            fact: Some(format!("max_connections = {max_conn}")),
            why: format!("the fleet may open {fleet_text} connections, more than the server accepts from everyone together"),
            fix: format!("set max_open to at most {safe} (and leave room for other clients), or raise max_connections"),
            remedy: (safe > 0).then_some(Remedy::MaxOpen(safe)),
        });
    } else if max_conn > 0 {
        // Every connection but the boot check's own: other services, and
        // other instances of this one (so a rolling deploy warns early).
        let others = facts.threads_connected.saturating_sub(1);
        let free = max_conn.saturating_sub(others);
        if need > free {
            out.push(Draft {
                code: Code::FleetAboveFreeConnections,
                severity: Severity::Warning,
                key: keys::max_open,
                value: options.max_open.to_string(),
                fact: Some(format!(
                    "max_connections = {max_conn}, {others} in use by other clients"
                )),
                why: format!(
                    "the fleet may open {fleet_text} connections, but only {free} are free now"
                ),
                fix: format!(
                    "set max_open to at most {}, or make room on the server",
                    per_instance(free)
                ),
                remedy: None,
            });
        }
    }
}

/// File descriptors kept for everything but pool sockets.
const FD_RESERVE: u64 = 64;

fn open_files(options: &PoolOptions, facts: &ServerFacts, out: &mut Vec<Draft>) {
    let Some(limit) = facts.open_files_limit else {
        return;
    };
    let usable = limit.saturating_sub(FD_RESERVE);
    if options.max_open == 0 || u64::from(options.max_open) <= usable {
        return;
    }
    let safe = u32::try_from(usable).unwrap_or(u32::MAX);
    out.push(Draft {
        code: Code::MaxOpenAboveOpenFiles,
        severity: Severity::Error,
        key: keys::max_open,
        value: options.max_open.to_string(),
        fact: Some(format!("open-file limit (RLIMIT_NOFILE) = {limit}")),
        why: format!(
            "each connection is a socket: past {usable} the process runs out of file descriptors ({FD_RESERVE} kept for everything else), and connects fail with `too many open files`"
        ),
        fix: format!("set max_open to at most {safe}, or raise the limit (ulimit -n, LimitNOFILE=)"),
        remedy: (safe > 0).then_some(Remedy::MaxOpen(safe)),
    });
}

/// The server's read-only variables and replication against the pool's
/// declared `role`. Judged on the server's flags, not on whether this
/// account could write past them (SUPER): a primary-role pool on a replica
/// is misconfigured either way, and writes that got through would diverge
/// the replica.
fn role(options: &PoolOptions, facts: &ServerFacts, out: &mut Vec<Draft>) {
    use super::replication::Replication;
    use crate::options::Role;
    let mut fact = facts.read_only_fact();
    if let Replication::Replica(status) = &facts.replication {
        fact = format!("{fact}; {status}");
    }
    let draft = |code, severity, why: String, fix: &str| Draft {
        code,
        severity,
        key: keys::role,
        value: options.role.to_string(),
        fact: Some(fact.clone()),
        why,
        fix: fix.into(),
        remedy: None,
    };
    let writable = !facts.refuses_writes();
    match (options.role, &facts.replication) {
        (Role::Primary, _) if !writable => out.push(draft(
            Code::PrimaryIsReadOnly,
            Severity::Error,
            read_only_why(facts),
            "point url at the primary (its DNS name or VIP may not have moved yet), or set role = replica for a read pool",
        )),
        (Role::Primary, Replication::Replica(status)) => out.push(draft(
            Code::PrimaryIsReplica,
            Severity::Warning,
            format!(
                "the server accepts writes but replicates from {}: writes would go to a replica, diverge it from its source, and may stop its replication on a conflict",
                status.source()
            ),
            "point url at the primary, set read_only = ON on the replica, or set role = replica for a read pool",
        )),
        (Role::Replica, Replication::Replica(_)) => {}
        (Role::Replica, _) if writable => out.push(draft(
            Code::ReplicaIsWritable,
            Severity::Warning,
            match &facts.replication {
                Replication::NotReplica => "the server accepts writes and replicates from no source: it is not a replica".into(),
                _ => "the server accepts writes: it is not a replica, or a replica left writable, where a stray write diverges it from its primary".into(),
            },
            "point url at a replica, set read_only = ON on it, or set role = primary (or any)",
        )),
        _ => {}
    }
}

/// What the report tells beside the findings: facts that could not be
/// read, and what a rule let pass but an operator should know.
pub(crate) fn notes(options: &PoolOptions, facts: &ServerFacts) -> Vec<String> {
    use super::replication::Replication;
    use crate::options::Role;
    let mut notes = Vec::new();
    match &facts.replication {
        Replication::NoPrivilege { privilege } => notes.push(format!(
            "replication: unknown, no privilege: the account may not read the replica status (grant it {privilege}, which does not lift read_only); the role rules judged the read-only variables alone"
        )),
        Replication::Unknown { reason } => notes.push(format!(
            "replication: unknown ({reason}); the role rules judged the read-only variables alone"
        )),
        Replication::Replica(status) if options.role == Role::Replica && !facts.refuses_writes() => {
            notes.push(format!(
                "the server is a {status} but writable ({}): a stray write diverges it; set read_only = ON on it",
                facts.read_only_fact()
            ))
        }
        _ => {}
    }
    notes
}

/// Why a read-only server refuses a primary pool, by the variable that
/// makes it so.
fn read_only_why(facts: &ServerFacts) -> String {
    let what = if facts.innodb_read_only == Some(true) {
        "innodb_read_only = ON: InnoDB refuses every write, from every account (error 1836 on MySQL, \"Table is read only\" 1036 on MariaDB)"
    } else if facts.super_read_only == Some(true) {
        "super_read_only = ON: every write fails with error 1290, from SUPER accounts too"
    } else {
        "read_only = ON: every write fails with error 1290"
    };
    format!("the server is read-only (a replica, or a primary demoted by a switchover), by {what}")
}

/// A certificate expiring sooner than this is a warning.
const CERT_WARNING: Duration = Duration::from_secs(14 * 24 * 3600);

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn tls(options: &PoolOptions, facts: &ServerFacts, out: &mut Vec<Draft>) {
    use crate::options::SslMode;
    let t = &facts.tls;
    let mode = crate::tls::effective_mode(options);
    let shown = facts.tls.to_string();
    if t.require_secure_transport == Some(true) && mode == SslMode::Disabled {
        out.push(Draft {
            code: Code::TlsDisabledButRequired,
            severity: Severity::Error,
            key: keys::ssl_mode,
            value: mode.to_string(),
            fact: Some("require_secure_transport = ON".into()),
            why: "the server refuses connections without TLS (a local socket may get through, TCP does not)".into(),
            fix: "set ssl_mode = verify_identity with ssl_ca (or required)".into(),
            remedy: None,
        });
    }
    if !t.encrypted() && !t.loopback {
        let offered = t
            .have_ssl
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("YES"));
        out.push(Draft {
            code: Code::TlsPlaintextRemote,
            severity: Severity::Warning,
            key: keys::ssl_mode,
            value: mode.to_string(),
            fact: Some(format!(
                "{shown}; have_ssl = {}",
                t.have_ssl.as_deref().unwrap_or("unknown")
            )),
            why: "queries, results and the login exchange cross the network unencrypted".into(),
            fix: if offered {
                "set ssl_mode = verify_identity with ssl_ca (the server offers TLS)".into()
            } else {
                "enable TLS on the server, then set ssl_mode = verify_identity with ssl_ca".into()
            },
            remedy: None,
        });
    }
    if t.encrypted() && mode == SslMode::Required && !t.loopback {
        out.push(Draft {
            code: Code::TlsUnverifiedRemote,
            severity: Severity::Warning,
            key: keys::ssl_mode,
            value: mode.to_string(),
            fact: Some(shown.clone()),
            why: "the connection is encrypted but the server is not authenticated: anyone on the path can pose as it".into(),
            fix: "set ssl_mode = verify_identity and ssl_ca to the CA that signed the server's certificate".into(),
            remedy: None,
        });
    }
    if let (Some(at), Some(text)) = (t.server_not_after_unix, &t.server_not_after) {
        let left = at - now_unix();
        if t.encrypted() && left < CERT_WARNING.as_secs() as i64 {
            let days = left.div_euclid(86_400);
            out.push(Draft {
                code: Code::TlsCertExpiresSoon,
                severity: Severity::Warning,
                key: keys::ssl_mode,
                value: mode.to_string(),
                fact: Some(format!("Ssl_server_not_after = {text}")),
                why: if left <= 0 {
                    "the server's certificate has expired: verifying connects fail".into()
                } else {
                    format!("the server's certificate expires in {days} day(s): verifying connects will fail then")
                },
                fix: "renew the server's certificate".into(),
                remedy: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(wait: u64) -> ServerFacts {
        ServerFacts {
            version: "test".into(),
            session_wait_timeout: wait,
            global_wait_timeout: wait,
            interactive_timeout: wait,
            max_connections: 151,
            max_user_connections: 0,
            account_has_own_limit: false,
            threads_connected: 1,
            account_connections: 1,
            open_files_limit: Some(65536),
            tls: crate::boot::TlsFacts {
                loopback: true,
                ..Default::default()
            },
            read_only: false,
            super_read_only: None,
            innodb_read_only: Some(false),
            replication_threads: None,
            replication: crate::boot::Replication::NotRead,
        }
    }

    #[test]
    fn the_role_is_judged_against_read_only() {
        use crate::options::Role;
        let codes = |role: Role, read_only: bool| {
            let o = PoolOptions {
                role,
                ..PoolOptions::default()
            };
            let mut f = facts(28800);
            f.read_only = read_only;
            judge(&o, &f)
                .into_iter()
                .filter(|d| d.key == keys::role)
                .map(|d| (d.code, d.severity))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            codes(Role::Primary, true),
            [(Code::PrimaryIsReadOnly, Severity::Error)]
        );
        assert_eq!(
            codes(Role::Replica, false),
            [(Code::ReplicaIsWritable, Severity::Warning)]
        );
        assert!(codes(Role::Primary, false).is_empty());
        assert!(codes(Role::Replica, true).is_empty());
        assert!(codes(Role::Any, true).is_empty() && codes(Role::Any, false).is_empty());
    }

    fn role_findings(role: crate::options::Role, f: &ServerFacts) -> Vec<Draft> {
        let o = PoolOptions {
            role,
            ..PoolOptions::default()
        };
        judge(&o, f)
            .into_iter()
            .filter(|d| d.key == keys::role)
            .collect()
    }

    fn replica_of(port: u16) -> crate::boot::Replication {
        crate::boot::Replication::Replica(crate::boot::ReplicaStatus {
            source_host: "10.0.0.1".into(),
            source_port: Some(port),
            io_running: "Yes".into(),
            sql_running: "Yes".into(),
            seconds_behind: Some(0),
            channels: 1,
        })
    }

    #[test]
    fn super_and_innodb_read_only_make_the_server_read_only_and_are_named() {
        use crate::options::Role;
        let mut f = facts(28800);
        f.innodb_read_only = Some(true);
        let found = role_findings(Role::Primary, &f);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, Code::PrimaryIsReadOnly);
        assert_eq!(found[0].fact.as_deref(), Some("innodb_read_only = ON"));
        assert!(found[0].why.contains("1836"), "{}", found[0].why);
        assert!(role_findings(Role::Replica, &f).is_empty());

        let mut f = facts(28800);
        f.read_only = true;
        f.super_read_only = Some(true);
        let found = role_findings(Role::Primary, &f);
        assert_eq!(
            found[0].fact.as_deref(),
            Some("super_read_only = ON, read_only = ON")
        );
        assert!(
            found[0].why.contains("SUPER accounts too"),
            "{}",
            found[0].why
        );
        assert_eq!(f.read_only_by(), ["super_read_only", "read_only"]);
    }

    #[test]
    fn the_role_is_judged_against_replication() {
        use crate::boot::Replication;
        use crate::options::Role;
        // A writable replica under a primary pool: a warning naming the source.
        let mut f = facts(28800);
        f.replication = replica_of(3307);
        let found = role_findings(Role::Primary, &f);
        assert_eq!(
            found
                .iter()
                .map(|d| (d.code, d.severity))
                .collect::<Vec<_>>(),
            [(Code::PrimaryIsReplica, Severity::Warning)]
        );
        assert!(found[0].why.contains("10.0.0.1:3307"), "{}", found[0].why);
        assert!(
            found[0]
                .fact
                .as_deref()
                .unwrap()
                .contains("replica of 10.0.0.1:3307")
        );
        // The same under a replica pool: no finding, a note that it is writable.
        assert!(role_findings(Role::Replica, &f).is_empty());
        let o = PoolOptions {
            role: Role::Replica,
            ..PoolOptions::default()
        };
        let said = notes(&o, &f);
        assert!(said.len() == 1 && said[0].contains("writable"), "{said:?}");
        // Not a replica, writable: the replica pool's warning says so.
        f.replication = Replication::NotReplica;
        let found = role_findings(Role::Replica, &f);
        assert_eq!(found[0].code, Code::ReplicaIsWritable);
        assert!(found[0].why.contains("not a replica"), "{}", found[0].why);
        assert!(role_findings(Role::Primary, &f).is_empty());
        // Unknown for want of a privilege: the warning stays, the note names it.
        f.replication = Replication::NoPrivilege {
            privilege: "SLAVE MONITOR".into(),
        };
        assert_eq!(
            role_findings(Role::Replica, &f)[0].code,
            Code::ReplicaIsWritable
        );
        let said = notes(&o, &f);
        assert!(said[0].contains("no privilege") && said[0].contains("SLAVE MONITOR"));
        assert!(role_findings(Role::Any, &f).is_empty());
    }

    fn with_tls(version: Option<&str>, loopback: bool) -> ServerFacts {
        let mut f = facts(28800);
        f.tls = crate::boot::TlsFacts {
            version: version.map(Into::into),
            cipher: version.map(|_| "TLS_AES_256_GCM_SHA384".into()),
            have_ssl: Some("YES".into()),
            loopback,
            ..Default::default()
        };
        f
    }

    fn codes(o: &PoolOptions, f: &ServerFacts) -> Vec<Code> {
        judge(o, f).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn plaintext_to_a_remote_host_warns_and_loopback_does_not() {
        let o = PoolOptions::default();
        assert_eq!(
            codes(&o, &with_tls(None, false)),
            [Code::TlsPlaintextRemote]
        );
        assert!(codes(&o, &with_tls(None, true)).is_empty());
        assert!(codes(&o, &with_tls(Some("TLSv1.3"), false)).is_empty());
    }

    #[test]
    fn required_without_verification_to_a_remote_host_warns() {
        let o = PoolOptions {
            ssl_mode: crate::options::SslMode::Required,
            ..PoolOptions::default()
        };
        assert_eq!(
            codes(&o, &with_tls(Some("TLSv1.3"), false)),
            [Code::TlsUnverifiedRemote]
        );
        assert!(codes(&o, &with_tls(Some("TLSv1.3"), true)).is_empty());
        let verified = PoolOptions {
            ssl_mode: crate::options::SslMode::VerifyIdentity,
            ..PoolOptions::default()
        };
        assert!(codes(&verified, &with_tls(Some("TLSv1.3"), false)).is_empty());
    }

    #[test]
    fn secure_transport_with_tls_disabled_is_an_error() {
        let o = PoolOptions {
            ssl_mode: crate::options::SslMode::Disabled,
            ..PoolOptions::default()
        };
        let mut f = with_tls(None, true);
        f.tls.require_secure_transport = Some(true);
        let drafts = judge(&o, &f);
        assert_eq!(drafts[0].code, Code::TlsDisabledButRequired);
        assert_eq!(drafts[0].severity, Severity::Error);
        f.tls.require_secure_transport = Some(false);
        assert!(codes(&o, &f).is_empty());
    }

    #[test]
    fn a_certificate_expiring_within_two_weeks_warns() {
        let o = PoolOptions::default();
        let mut f = with_tls(Some("TLSv1.3"), true);
        f.tls.server_not_after = Some("soon".into());
        f.tls.server_not_after_unix = Some(now_unix() + 3 * 86_400);
        assert_eq!(codes(&o, &f), [Code::TlsCertExpiresSoon]);
        f.tls.server_not_after_unix = Some(now_unix() + 90 * 86_400);
        assert!(codes(&o, &f).is_empty());
    }

    #[test]
    fn the_incident_is_an_idle_bound_error_with_a_safe_value() {
        let o = PoolOptions {
            max_lifetime: Some(Duration::from_secs(600)),
            max_idle_time: None,
            max_idle: 10,
            max_open: 10,
            ..PoolOptions::default()
        };
        let drafts = judge(&o, &facts(500));
        let d = drafts.iter().find(|d| d.code == Code::IdleBound).unwrap();
        assert_eq!((d.key.key, d.value.as_str()), ("max_lifetime", "600s"));
        // 500 s minus a 50 s margin minus the 1 s tick.
        assert_eq!(
            d.remedy,
            Some(Remedy::MaxIdleTime(Duration::from_secs(449)))
        );
        let mut fixed = o.clone();
        Remedy::MaxIdleTime(Duration::from_secs(449)).apply(&mut fixed);
        assert!(
            judge(&fixed, &facts(500))
                .iter()
                .all(|d| d.code != Code::IdleBound)
        );
    }

    #[test]
    fn a_config_that_fits_has_no_findings() {
        let o = PoolOptions::default();
        assert!(judge(&o, &facts(28800)).is_empty());
    }

    #[test]
    fn fleet_limits_divide_by_instances() {
        let o = PoolOptions {
            max_open: 50,
            instances: 4,
            ..PoolOptions::default()
        };
        let drafts = judge(&o, &facts(28800));
        let d = drafts
            .iter()
            .find(|d| d.code == Code::FleetAboveMaxConnections)
            .unwrap();
        assert_eq!(d.remedy, Some(Remedy::MaxOpen(37)));
    }
}
