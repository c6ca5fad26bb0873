//! Findings and the report: a table for people, JSON for machines.

use std::fmt;

use serde::Serialize;

use super::facts::ServerFacts;
use super::replication::Replication;
use crate::findings::{Code, Severity};
use crate::source::Source;

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
    /// Where the connects' password comes from (the URL, `password_file`
    /// and its path, or a custom source's name); never the password.
    pub credentials: String,
    /// Every finding, errors first.
    pub findings: Vec<Finding>,
    /// What is worth knowing beside the findings: a fact that could not be
    /// read (the replica status without the privilege, naming it), or one
    /// a rule let pass.
    pub notes: Vec<String>,
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
        writeln!(f, "connection: {}", facts.tls)?;
        if facts.refuses_writes() {
            writeln!(f, "read-only: {}", facts.read_only_fact())?;
        }
        if facts.replication != Replication::NotRead {
            writeln!(f, "replication: {}", facts.replication)?;
        }
        if !self.credentials.is_empty() {
            writeln!(f, "credentials: {}", self.credentials)?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
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
