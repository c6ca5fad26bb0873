//! The boot-policy grammar: `deny`, `warn` or `fix`, then per-code
//! overrides, as in `"warn, idle_bound=fix"`.
//!
//! Parsed here, once, for the derive (a literal default is checked at
//! compile time) and the runtime (which also checks that each code exists).

use std::fmt;

/// What the boot checks do about a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Policy {
    /// Refuse to start the pool.
    Deny,
    /// Log the finding and start as configured.
    Warn,
    /// Change the value to the suggested safe one, log the change, start.
    /// Findings without a safe value to apply are denied (errors) or warned.
    Fix,
}

impl Policy {
    /// The policy a word names: `deny` (or `fail`), `warn`, `fix` (or `clamp`).
    pub fn from_word(word: &str) -> Option<Policy> {
        match word.trim().to_ascii_lowercase().as_str() {
            "deny" | "fail" => Some(Policy::Deny),
            "warn" => Some(Policy::Warn),
            "fix" | "clamp" => Some(Policy::Fix),
            _ => None,
        }
    }

    /// The word configs write for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Deny => "deny",
            Policy::Warn => "warn",
            Policy::Fix => "fix",
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed policy text: an optional default and per-code overrides, the
/// codes as written (the runtime checks them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyText<'a> {
    /// The policy for every code not overridden.
    pub default: Option<Policy>,
    /// `code=policy` pairs, in order.
    pub overrides: Vec<(&'a str, Policy)>,
}

/// Why a policy text does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySyntaxError {
    /// The comma-separated part at fault.
    pub part: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for PolicySyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a boot policy: {}", self.part, self.reason)
    }
}

/// Parses `"warn, idle_bound=fix"`.
///
/// ```
/// use pool_settings::policy::{parse, Policy};
///
/// let text = parse("warn, idle_bound=fix").unwrap();
/// assert_eq!(text.default, Some(Policy::Warn));
/// assert_eq!(text.overrides, vec![("idle_bound", Policy::Fix)]);
/// assert!(parse("wran").is_err());
/// ```
pub fn parse(text: &str) -> Result<PolicyText<'_>, PolicySyntaxError> {
    let mut out = PolicyText::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |reason| PolicySyntaxError {
            part: part.to_owned(),
            reason,
        };
        match part.split_once('=') {
            None => {
                out.default =
                    Some(Policy::from_word(part).ok_or_else(|| bad("expected deny, warn or fix"))?);
            }
            Some((code, word)) => {
                let code = code.trim();
                if code.is_empty() {
                    return Err(bad("a code goes before `=`, e.g. idle_bound=fix"));
                }
                let policy = Policy::from_word(word)
                    .ok_or_else(|| bad("expected deny, warn or fix after `=`"))?;
                out.overrides.push((code, policy));
            }
        }
    }
    Ok(out)
}
