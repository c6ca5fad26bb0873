//! What to do about each finding: stop, warn, or fix and go on.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::report::{Code, Severity};

/// What the boot checks do about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Refuse to start the pool ([`BootError::Rejected`](crate::BootError::Rejected)).
    Deny,
    /// Log the finding and start as configured.
    Warn,
    /// Change the value to the suggested safe one, log the change, start.
    /// Findings without a safe value to apply are denied (errors) or warned.
    Fix,
}

/// The policy for every finding: a default, and overrides per code.
///
/// Written in configs as `deny`, `warn` or `fix`, optionally followed by
/// per-code overrides: `"warn, idle_bound=fix, fleet_above_max_connections=deny"`.
/// Without a default, errors are denied and warnings warned.
///
/// ```
/// use pool_runtime::boot::{BootPolicy, Code, Policy, Severity};
///
/// let policy: BootPolicy = "warn, idle_bound=fix".parse().unwrap();
/// assert_eq!(policy.for_finding(Code::IdleBound, Severity::Error), Policy::Fix);
/// assert_eq!(policy.for_finding(Code::MaxOpenUnlimited, Severity::Warning), Policy::Warn);
/// assert_eq!(BootPolicy::default().for_finding(Code::IdleBound, Severity::Error), Policy::Deny);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootPolicy {
    default: Option<Policy>,
    per_code: BTreeMap<Code, Policy>,
}

impl BootPolicy {
    /// One policy for every finding.
    pub fn all(policy: Policy) -> Self {
        BootPolicy {
            default: Some(policy),
            per_code: BTreeMap::new(),
        }
    }

    /// Sets the policy for one code.
    pub fn with(mut self, code: Code, policy: Policy) -> Self {
        self.per_code.insert(code, policy);
        self
    }

    /// The policy that applies to a finding.
    pub fn for_finding(&self, code: Code, severity: Severity) -> Policy {
        if let Some(policy) = self.per_code.get(&code) {
            return *policy;
        }
        self.default.unwrap_or(match severity {
            Severity::Error => Policy::Deny,
            Severity::Warning => Policy::Warn,
        })
    }
}

impl Policy {
    fn parse(text: &str) -> Option<Policy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "deny" | "fail" => Some(Policy::Deny),
            "warn" => Some(Policy::Warn),
            "fix" | "clamp" => Some(Policy::Fix),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Policy::Deny => "deny",
            Policy::Warn => "warn",
            Policy::Fix => "fix",
        }
    }
}

/// Why a policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{part}` is not a boot policy: {reason}")]
pub struct PolicyError {
    part: String,
    reason: String,
}

impl FromStr for BootPolicy {
    type Err = PolicyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut policy = BootPolicy::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = |reason: String| PolicyError {
                part: part.to_owned(),
                reason,
            };
            match part.split_once('=') {
                None => {
                    let p = Policy::parse(part)
                        .ok_or_else(|| bad("expected deny, warn or fix".into()))?;
                    policy.default = Some(p);
                }
                Some((code, p)) => {
                    let code = Code::parse(code).ok_or_else(|| {
                        let known: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
                        bad(format!("unknown code; codes are: {}", known.join(", ")))
                    })?;
                    let p = Policy::parse(p)
                        .ok_or_else(|| bad("expected deny, warn or fix after `=`".into()))?;
                    policy.per_code.insert(code, p);
                }
            }
        }
        Ok(policy)
    }
}

impl fmt::Display for BootPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self.default.iter().map(|p| p.as_str().to_owned()).collect();
        parts.extend(
            self.per_code
                .iter()
                .map(|(c, p)| format!("{c}={}", p.as_str())),
        );
        if parts.is_empty() {
            f.write_str("default (errors deny, warnings warn)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}
