//! Reading a config type's keys out of a figment, collecting every problem.

use figment::Figment;
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

use pool_settings::words::did_you_mean;

use super::PoolConfig;
use super::error::ConfigIssue;
use super::provenance::{env_var, source_of};
use super::schema::Schema;
use super::setting::{self, Setting};
use super::value::{ConfigValue, nothing, show};
use crate::source::{Source, Sources};

/// Walks a figment key by key for generated code, recording each value's
/// source and every problem instead of stopping at the first.
#[doc(hidden)]
pub struct Extractor<'a> {
    figment: &'a Figment,
    path: Vec<String>,
    hints: Hints,
    /// Keys the config type does not know are ignored, not reported.
    lenient: bool,
    pub(crate) issues: Vec<ConfigIssue>,
    pub(crate) sources: Sources,
}

/// Where a missing key could be set, for the error.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hints {
    pub(crate) file: Option<String>,
    pub(crate) env_lead: Option<String>,
}

impl<'a> Extractor<'a> {
    pub(crate) fn new(figment: &'a Figment, path: Vec<String>, hints: Hints) -> Self {
        Extractor {
            figment,
            path,
            hints,
            lenient: false,
            issues: Vec::new(),
            sources: Sources::default(),
        }
    }

    /// Ignores keys the config type does not know (files shared with other
    /// settings).
    pub(crate) fn lenient(mut self, lenient: bool) -> Self {
        self.lenient = lenient;
        self
    }

    fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// A setting or plain value of a [`ConfigValue`] type.
    pub fn value<T: ConfigValue>(
        &mut self,
        key: &'static str,
        setting: Option<&'static Setting>,
        secret: bool,
    ) -> Option<T> {
        self.path.push(key.to_owned());
        let found = self.figment.find_value(&self.dotted()).ok();
        let result = match found {
            Some(value) => self.parse(&value, setting, secret),
            None => self.missing::<T>(),
        };
        self.path.pop();
        result
    }

    fn parse<T: ConfigValue>(
        &mut self,
        value: &Value,
        setting: Option<&'static Setting>,
        secret: bool,
    ) -> Option<T> {
        let source = source_of(self.figment, value, &self.path);
        self.sources.record(self.dotted(), source.clone());
        let parsed = T::from_config(value)
            .map_err(|problem| format!("{problem}; expected {}", T::EXPECTED))
            .and_then(|v| match setting {
                Some(setting) => setting::check(setting, &v).map(|()| v),
                None => Ok(v),
            });
        match parsed {
            Ok(v) => Some(v),
            Err(problem) => {
                self.issues.push(ConfigIssue {
                    key: self.dotted(),
                    source,
                    value: (!secret).then(|| show(value)),
                    problem,
                });
                None
            }
        }
    }

    fn missing<T: ConfigValue>(&mut self) -> Option<T> {
        if let Some(value) = T::when_missing() {
            return Some(value);
        }
        let mut places = Vec::new();
        if let Some(file) = &self.hints.file {
            places.push(format!("`{}` in {file}", self.dotted()));
        }
        if let Some(lead) = &self.hints.env_lead {
            places.push(env_var(lead, &self.path));
        }
        let problem = if places.is_empty() {
            format!("missing: required; expected {}", T::EXPECTED)
        } else {
            format!(
                "missing: required; set {} ({})",
                places.join(" or "),
                T::EXPECTED
            )
        };
        self.issues.push(ConfigIssue {
            key: self.dotted(),
            source: Source::Default,
            value: None,
            problem,
        });
        None
    }

    /// A setting that keeps its table default when absent: `Ok(None)`.
    /// `Err(())` means a problem was recorded.
    pub(crate) fn if_present<T: ConfigValue>(
        &mut self,
        setting: &'static Setting,
    ) -> Result<Option<T>, ()> {
        self.path.push(setting.key.to_owned());
        let result = match self.figment.find_value(&self.dotted()).ok() {
            Some(value) => self
                .parse(&value, Some(setting), setting.is_secret())
                .map(Some)
                .ok_or(()),
            None => Ok(None),
        };
        self.path.pop();
        result
    }

    /// A field left to the user (`#[pool(skip)]`): any serde type.
    pub fn serde<T: DeserializeOwned>(&mut self, key: &'static str) -> Option<T> {
        self.path.push(key.to_owned());
        let value = self.figment.find_value(&self.dotted()).ok();
        let result = match &value {
            Some(v) => v.deserialize::<T>().map_err(|e| {
                let source = source_of(self.figment, v, &self.path);
                self.sources.record(self.dotted(), source.clone());
                (source, Some(show(v)), super::loaded::describe(&e.kind))
            }),
            None => nothing()
                .deserialize::<T>()
                .map_err(|_| (Source::Default, None, "missing: required".to_owned())),
        };
        let result = match result {
            Ok(v) => Some(v),
            Err((source, value, problem)) => {
                self.issues.push(ConfigIssue {
                    key: self.dotted(),
                    source,
                    value,
                    problem,
                });
                None
            }
        };
        self.path.pop();
        result
    }

    /// A nested config type, under `key`.
    pub fn nested<T: PoolConfig>(&mut self, key: &'static str) -> Option<T> {
        self.path.push(key.to_owned());
        let result = T::__extract(self);
        self.path.pop();
        result
    }

    /// Runs `f` one level down, under `key` (a section read by hand).
    pub(crate) fn within<R>(&mut self, key: &str, f: impl FnOnce(&mut Self) -> R) -> R {
        self.path.push(key.to_owned());
        let result = f(self);
        self.path.pop();
        result
    }

    /// Whether `key` is set at this level, in any layer.
    pub(crate) fn is_present(&self, key: &str) -> bool {
        let mut path = self.path.clone();
        path.push(key.to_owned());
        self.figment.find_value(&path.join(".")).is_ok()
    }

    /// A list under `key`: a YAML sequence, or one text of items separated
    /// by commas (an environment variable). Each item is recorded as
    /// `key.N`. Absent: an empty list.
    pub(crate) fn list<T: ConfigValue>(
        &mut self,
        key: &'static str,
        secret: bool,
    ) -> Option<Vec<T>> {
        self.path.push(key.to_owned());
        let found = self.figment.find_value(&self.dotted()).ok();
        // One text (an environment variable) is one source for every item.
        let (items, one_text) = match found {
            None => (Vec::new(), false),
            Some(Value::Array(_, items)) => (items, false),
            Some(value @ Value::String(..)) => {
                let tag = value.tag();
                let text = value.as_str().unwrap_or_default();
                let items = split_list(text)
                    .into_iter()
                    .map(|item| Value::String(tag, item))
                    .collect();
                (items, true)
            }
            Some(value) => (vec![value], false),
        };
        let mut out = Vec::with_capacity(items.len());
        let mut complete = true;
        for (i, item) in items.iter().enumerate() {
            let parsed = if one_text {
                let parsed = self.parse::<T>(item, None, secret);
                let source = source_of(self.figment, item, &self.path);
                self.sources
                    .record(format!("{}.{i}", self.dotted()), source);
                parsed
            } else {
                self.path.push(i.to_string());
                let parsed = self.parse::<T>(item, None, secret);
                self.path.pop();
                parsed
            };
            match parsed {
                Some(v) => out.push(v),
                None => complete = false,
            }
        }
        self.path.pop();
        complete.then_some(out)
    }

    /// Reports keys at this level that `schema` does not know.
    pub fn reject_unknown(&mut self, schema: &Schema) {
        if self.lenient || schema.allow_unknown {
            return;
        }
        let dict: Option<Dict> = if self.path.is_empty() {
            self.figment.extract::<Dict>().ok()
        } else {
            self.figment
                .find_value(&self.dotted())
                .ok()
                .and_then(|v| v.into_dict())
        };
        let Some(dict) = dict else { return };
        for (key, value) in dict {
            if schema.key(&key).is_some() {
                continue;
            }
            self.path.push(key.clone());
            let source = source_of(self.figment, &value, &self.path);
            let known: Vec<&str> = schema.keys.iter().map(|k| k.name).collect();
            let problem = match did_you_mean(&key, &known) {
                Some(close) => format!("unknown key; did you mean `{close}`?"),
                None => format!("unknown key; known keys: {}", known.join(", ")),
            };
            self.issues.push(ConfigIssue {
                key: self.dotted(),
                source,
                value: None,
                problem,
            });
            self.path.pop();
        }
    }
}

/// `a, b` -> `[a, b]`, where a comma only separates items when the next one
/// starts with a scheme (`mysql://`), so that a comma inside a URL's
/// password does not split it.
fn split_list(text: &str) -> Vec<String> {
    let mut items: Vec<String> = Vec::new();
    for piece in text.split(',') {
        match items.last_mut() {
            Some(last) if !looks_like_item_start(piece) => {
                last.push(',');
                last.push_str(piece);
            }
            _ => items.push(piece.to_owned()),
        }
    }
    items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

/// A piece that begins with `scheme://`.
fn looks_like_item_start(piece: &str) -> bool {
    let piece = piece.trim_start();
    match piece.find("://") {
        Some(at) => {
            at > 0
                && piece[..at]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn a_list_splits_at_commas_before_a_scheme_only() {
        assert_eq!(
            split_list("mysql://a@h1/db, mysql://b:p,w@h2/db"),
            ["mysql://a@h1/db", "mysql://b:p,w@h2/db"]
        );
        assert_eq!(split_list(" mysql://a@h1/db "), ["mysql://a@h1/db"]);
        assert!(split_list("  ").is_empty());
    }
}
