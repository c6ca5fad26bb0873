//! What to do about each boot finding: stop, warn, or fix and go on.
//!
//! A leaf module: configs and code set the policy (`on_violation`), the boot
//! checks apply it. The grammar itself (`"warn, idle_bound=fix"`) is parsed
//! by `pool-settings`, so the derive checks a literal default with the same
//! rules at compile time; this module adds the check that each code exists.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use pool_settings::Policy;

use crate::findings::{Code, Severity};

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
        let parsed = pool_settings::policy::parse(text).map_err(|e| PolicyError {
            part: e.part,
            reason: e.reason.to_owned(),
        })?;
        let mut policy = BootPolicy {
            default: parsed.default,
            per_code: BTreeMap::new(),
        };
        for (code, chosen) in parsed.overrides {
            let known = Code::parse(code).ok_or_else(|| {
                let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
                PolicyError {
                    part: format!("{code}={chosen}"),
                    reason: format!("unknown code{}", pool_settings::words::hint(code, &codes)),
                }
            })?;
            policy.per_code.insert(known, chosen);
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
