//! Boot checks: the config judged against the live server before the pool
//! is handed to the service.
//!
//! No pool checks its settings against the server it talks to, and the
//! incident behind this project lived in exactly that gap: an idle bound of
//! 600 s against a server that closed idle sessions after 500 s. At
//! `connect()` the pool opens its first connection exactly as it opens every
//! connection (same URL, init SQL, flags), reads the server's limits
//! ([`ServerFacts`]) and the process's open-file limit, and runs the rules.
//! Each finding names its stable [`Code`], the key, its value and where that
//! value came from, the fact it was judged against, and the fix. The
//! [`BootPolicy`] decides per code: deny (the default for errors), warn, or
//! fix (apply the safe value and log the change).
//!
//! A rejected boot returns [`BootError::Rejected`]
//! with the [`Report`]: print it (`{}` renders a table) and exit non-zero.
//! The facts are read again after the server was unreachable, since a
//! restart may have changed them; findings then are logged as warnings.

pub(crate) mod error;
mod facts;
pub(crate) mod replication;
mod report;
pub(crate) mod rules;

pub use crate::findings::{Code, Severity};
pub use crate::policy::{BootPolicy, Policy, PolicyError};
pub use error::BootError;
pub use facts::{FactsError, ServerFacts, TlsFacts, open_files_limit};
pub use replication::{ReplicaStatus, Replication};
pub use report::{Action, Finding, Report};

use crate::options::PoolOptions;
use crate::source::Sources;
use rules::Origins;

/// Runs the rules and the policy: the report, and the options the pool
/// should run with (changed where a finding was fixed).
pub(crate) fn assess(
    target: String,
    options: &PoolOptions,
    sources: Option<&Sources>,
    policy: &BootPolicy,
    facts: ServerFacts,
) -> (Report, PoolOptions) {
    let origins = Origins { sources, options };
    let mut fixed = options.clone();
    let mut findings = Vec::new();
    for draft in rules::judge(options, &facts) {
        let chosen = policy.for_finding(draft.code, draft.severity);
        let action = match (chosen, draft.remedy) {
            (Policy::Fix, Some(remedy)) => Action::Fixed {
                to: remedy.apply(&mut fixed),
            },
            (Policy::Warn, _) => Action::Warned,
            (Policy::Fix, None) if draft.severity == Severity::Warning => Action::Warned,
            (Policy::Fix | Policy::Deny, _) => Action::Denied,
        };
        findings.push(Finding {
            code: draft.code,
            severity: draft.severity,
            key: draft.key.key,
            source: origins.of(draft.key),
            value: draft.value,
            fact: draft.fact,
            why: draft.why,
            fix: draft.fix,
            action,
        });
    }
    let report = Report {
        target,
        notes: rules::notes(options, &facts),
        facts,
        credentials: String::new(),
        findings,
    };
    (report, fixed)
}

/// After a reconnect: do the live facts still fit? Logs each finding of the
/// rules that depend on the server as a warning; never stops the pool.
pub(crate) fn recheck(target: &str, options: &PoolOptions, facts: &ServerFacts) -> Vec<Code> {
    let mut codes = Vec::new();
    for draft in rules::judge(options, facts) {
        if !matches!(
            draft.code,
            Code::IdleBound
                | Code::FleetAboveAccountLimit
                | Code::FleetAboveMaxConnections
                | Code::FleetAboveFreeConnections
        ) {
            continue;
        }
        tracing::warn!(
            code = %Code::FactsChanged,
            rule = %draft.code,
            key = draft.key.key,
            value = %draft.value,
            fact = draft.fact.as_deref().unwrap_or("-"),
            fix = %draft.fix,
            target,
            "after reconnecting, the server's limits no longer fit the pool: {}",
            draft.why
        );
        codes.push(draft.code);
    }
    codes
}
