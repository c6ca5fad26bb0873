//! The vocabulary of boot findings: stable codes and severities.
//!
//! A leaf module: the rules produce findings, policies (from configs and
//! code) name codes, reports and logs print them.

use std::fmt;

use serde::Serialize;

/// A rule's stable code, for policies, dashboards and searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Code {
    /// A connection can sit idle longer than the server's `wait_timeout`.
    IdleBound,
    /// `max_idle` above `max_open`.
    MaxIdleAboveMaxOpen,
    /// `min_idle` above `max_idle`.
    MinIdleAboveMaxIdle,
    /// A duration that must be positive is zero.
    DurationNotPositive,
    /// `connect_timeout` above `acquire_timeout`: a connect's own error is
    /// never seen.
    ConnectTimeoutAboveAcquireTimeout,
    /// `acquire_timeout` of more than 10 minutes.
    AcquireTimeoutTooLong,
    /// `keepalive_interval` not below `max_lifetime`: keepalives never fire.
    KeepaliveNotBelowLifetime,
    /// `max_open` is 0 (unlimited).
    MaxOpenUnlimited,
    /// `max_open` × instances above the account's connection limit.
    FleetAboveAccountLimit,
    /// `max_open` × instances above the server's `max_connections`.
    FleetAboveMaxConnections,
    /// `max_open` × instances above the connections the server has free now.
    FleetAboveFreeConnections,
    /// `max_open` above the process's open-file limit.
    MaxOpenAboveOpenFiles,
    /// The server's facts changed since boot and no longer fit.
    FactsChanged,
    /// Plaintext to a server that is not on this machine.
    TlsPlaintextRemote,
    /// The server requires secure transport and `ssl_mode = disabled`.
    TlsDisabledButRequired,
    /// The server's certificate expires within 14 days.
    TlsCertExpiresSoon,
    /// `ssl_mode = required` to a remote server: encrypted, but the server
    /// is not authenticated.
    TlsUnverifiedRemote,
    /// `mysql_clear_password` allowed without TLS that verifies the server.
    CleartextPasswordWithoutTls,
    /// `role = primary` (the default) and the server is read-only: every
    /// write would fail with 1290.
    PrimaryIsReadOnly,
    /// `role = replica` and the server accepts writes: not a replica, or a
    /// replica left writable.
    ReplicaIsWritable,
    /// `role = primary` (the default) and the server, though writable,
    /// replicates from a source: writes would go to a replica.
    PrimaryIsReplica,
}

impl Code {
    /// Every code, in report order.
    pub const ALL: &'static [Code] = &[
        Code::IdleBound,
        Code::MaxIdleAboveMaxOpen,
        Code::MinIdleAboveMaxIdle,
        Code::DurationNotPositive,
        Code::ConnectTimeoutAboveAcquireTimeout,
        Code::AcquireTimeoutTooLong,
        Code::KeepaliveNotBelowLifetime,
        Code::MaxOpenUnlimited,
        Code::FleetAboveAccountLimit,
        Code::FleetAboveMaxConnections,
        Code::FleetAboveFreeConnections,
        Code::MaxOpenAboveOpenFiles,
        Code::FactsChanged,
        Code::TlsPlaintextRemote,
        Code::TlsDisabledButRequired,
        Code::TlsCertExpiresSoon,
        Code::TlsUnverifiedRemote,
        Code::CleartextPasswordWithoutTls,
        Code::PrimaryIsReadOnly,
        Code::ReplicaIsWritable,
        Code::PrimaryIsReplica,
    ];

    /// The code as written in configs and reports, e.g. `idle_bound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::IdleBound => "idle_bound",
            Code::MaxIdleAboveMaxOpen => "max_idle_above_max_open",
            Code::MinIdleAboveMaxIdle => "min_idle_above_max_idle",
            Code::DurationNotPositive => "duration_not_positive",
            Code::ConnectTimeoutAboveAcquireTimeout => "connect_timeout_above_acquire_timeout",
            Code::AcquireTimeoutTooLong => "acquire_timeout_too_long",
            Code::KeepaliveNotBelowLifetime => "keepalive_not_below_lifetime",
            Code::MaxOpenUnlimited => "max_open_unlimited",
            Code::FleetAboveAccountLimit => "fleet_above_account_limit",
            Code::FleetAboveMaxConnections => "fleet_above_max_connections",
            Code::FleetAboveFreeConnections => "fleet_above_free_connections",
            Code::MaxOpenAboveOpenFiles => "max_open_above_open_files",
            Code::FactsChanged => "facts_changed",
            Code::TlsPlaintextRemote => "tls_plaintext_remote",
            Code::TlsDisabledButRequired => "tls_disabled_but_required",
            Code::TlsCertExpiresSoon => "tls_cert_expires_soon",
            Code::TlsUnverifiedRemote => "tls_unverified_remote",
            Code::CleartextPasswordWithoutTls => "cleartext_password_without_tls",
            Code::PrimaryIsReadOnly => "primary_is_read_only",
            Code::ReplicaIsWritable => "replica_is_writable",
            Code::PrimaryIsReplica => "primary_is_replica",
        }
    }

    /// The code named `text`, if any.
    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == text.trim())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The config will fail against this server.
    Error,
    /// The config may fail, or wastes something.
    Warning,
}
