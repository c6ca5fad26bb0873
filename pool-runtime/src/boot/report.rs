//! Findings and the report: a table for people, JSON for machines.

use std::fmt;

use serde::Serialize;

use super::facts::ServerFacts;
use crate::config::Source;

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
    /// Timeouts that contradict each other or make no sense.
    TimeoutInsane,
    /// `keepalive_interval` not below `max_lifetime`: keepalives never fire.
    KeepaliveNotBelowLifetime,
    /// `max_open` is 0 (unlimited).
    MaxOpenUnlimited,
    /// `max_open` × replicas above the account's connection limit.
    FleetAboveAccountLimit,
    /// `max_open` × replicas above the server's `max_connections`.
    FleetAboveMaxConnections,
    /// `max_open` × replicas above the connections the server has free now.
    FleetAboveFreeConnections,
    /// `max_open` above the process's open-file limit.
    MaxOpenAboveOpenFiles,
    /// The server's facts changed since boot and no longer fit.
    FactsChanged,
}

impl Code {
    /// Every code, in report order.
    pub const ALL: &'static [Code] = &[
        Code::IdleBound,
        Code::MaxIdleAboveMaxOpen,
        Code::MinIdleAboveMaxIdle,
        Code::DurationNotPositive,
        Code::TimeoutInsane,
        Code::KeepaliveNotBelowLifetime,
        Code::MaxOpenUnlimited,
        Code::FleetAboveAccountLimit,
        Code::FleetAboveMaxConnections,
        Code::FleetAboveFreeConnections,
        Code::MaxOpenAboveOpenFiles,
        Code::FactsChanged,
    ];

    /// The code as written in configs and reports, e.g. `idle_bound`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::IdleBound => "idle_bound",
            Code::MaxIdleAboveMaxOpen => "max_idle_above_max_open",
            Code::MinIdleAboveMaxIdle => "min_idle_above_max_idle",
            Code::DurationNotPositive => "duration_not_positive",
            Code::TimeoutInsane => "timeout_insane",
            Code::KeepaliveNotBelowLifetime => "keepalive_not_below_lifetime",
            Code::MaxOpenUnlimited => "max_open_unlimited",
            Code::FleetAboveAccountLimit => "fleet_above_account_limit",
            Code::FleetAboveMaxConnections => "fleet_above_max_connections",
            Code::FleetAboveFreeConnections => "fleet_above_free_connections",
            Code::MaxOpenAboveOpenFiles => "max_open_above_open_files",
            Code::FactsChanged => "facts_changed",
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

/// What was done about a finding, under the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// The pool was not started.
    Denied,
    /// Logged; the pool started as configured.
    Warned,
    /// The value was changed to the suggested one; the pool started.
    Fixed {
        /// The value the pool runs with.
        to: String,
    },
}

/// One rule's verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// The rule.
    pub code: Code,
    /// How bad.
    pub severity: Severity,
    /// The config key at fault.
    pub key: &'static str,
    /// Its value, as configured.
    pub value: String,
    /// Where that value came from.
    #[serde(serialize_with = "display")]
    pub source: Source,
    /// The server (or process) fact it was judged against.
    pub fact: Option<String>,
    /// Why it is a problem.
    pub why: String,
    /// What to change.
    pub fix: String,
    /// What was done about it.
    #[serde(flatten)]
    pub action: Action,
}

fn display<S: serde::Serializer, T: fmt::Display>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// The boot checks' verdict: the facts read and every finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The server, password redacted.
    pub target: String,
    /// What the server and process allow.
    pub facts: ServerFacts,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding stopped the pool.
    pub fn is_rejected(&self) -> bool {
        self.findings.iter().any(|f| f.action == Action::Denied)
    }

    /// The report as JSON, for deploy pipelines and log processors.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    fn headline(&self) -> String {
        let errors = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = self.findings.len() - errors;
        let verdict = if self.is_rejected() {
            "REJECTED"
        } else if self.findings.is_empty() {
            "OK"
        } else {
            "STARTED"
        };
        format!("{verdict}: {errors} error(s), {warnings} warning(s)")
    }
}

/// The table a service prints before it exits non-zero.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = &self.facts;
        writeln!(
            f,
            "pool boot check against {} (server {}, wait_timeout {} s, max_connections {})",
            self.target, facts.version, facts.session_wait_timeout, facts.max_connections
        )?;
        write!(f, "{}", self.headline())?;
        if self.findings.is_empty() {
            return Ok(());
        }
        let header = [
            "CODE",
            "SEVERITY",
            "KEY",
            "VALUE",
            "SOURCE",
            "SERVER FACT",
            "ACTION",
        ];
        let rows: Vec<[String; 7]> = self
            .findings
            .iter()
            .map(|x| {
                [
                    x.code.to_string(),
                    match x.severity {
                        Severity::Error => "error".into(),
                        Severity::Warning => "warning".into(),
                    },
                    x.key.to_owned(),
                    x.value.clone(),
                    x.source.to_string(),
                    x.fact.clone().unwrap_or_else(|| "-".into()),
                    match &x.action {
                        Action::Denied => "denied".into(),
                        Action::Warned => "warned".into(),
                        Action::Fixed { to } => format!("fixed: now {to}"),
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let header_cells: Vec<String> = header.iter().map(|h| h.to_string()).collect();
        write!(f, "\n\n{}", line(&header_cells))?;
        for row in &rows {
            write!(f, "\n{}", line(row))?;
        }
        for x in &self.findings {
            write!(
                f,
                "\n\n{} ({}):\n  why: {}\n  fix: {}",
                x.code, x.key, x.why, x.fix
            )?;
        }
        Ok(())
    }
}
