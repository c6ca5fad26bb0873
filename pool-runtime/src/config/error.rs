//! Everything wrong with a config, reported at once.

use std::fmt;

use crate::source::Source;

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigIssue {
    /// The dotted key, e.g. `max_open` or `primary.url`.
    pub key: String,
    /// Where the offending value came from.
    pub source: Source,
    /// The value as written, or `None` when it is secret or absent.
    pub value: Option<String>,
    /// What is wrong, and what a valid value looks like.
    pub problem: String,
}

/// Why a config did not load: every problem found, each naming its key, the
/// value's source (file and key, or the exact environment variable) and
/// what to write instead. Never shows a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config type, e.g. `DbConfig`.
    pub config: &'static str,
    /// The problems, in key order.
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(
                f,
                "{} = {value} from {}: {}",
                self.key, self.source, self.problem
            ),
            None => write!(f, "{} from {}: {}", self.key, self.source, self.problem),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        let problems = if n == 1 { "problem" } else { "problems" };
        write!(f, "{} has {n} config {problems}:", self.config)?;
        for issue in &self.issues {
            write!(f, "\n  - {issue}")?;
        }
        Ok(())
    }
}
