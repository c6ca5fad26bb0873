//! Reading a config type's keys out of a figment, collecting every problem.

use figment::Figment;
use figment::value::{Dict, Value};
use serde::de::DeserializeOwned;

use super::PoolConfig;
use super::error::ConfigIssue;
use super::schema::Schema;
use super::setting::Setting;
use super::source::{Source, Sources, env_var, source_of};
use super::value::{ConfigValue, nothing, show};

/// Walks a figment key by key for generated code, recording each value's
/// source and every problem instead of stopping at the first.
#[doc(hidden)]
pub struct Extractor<'a> {
    figment: &'a Figment,
    path: Vec<String>,
    hints: Hints,
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
            issues: Vec::new(),
            sources: Sources::default(),
        }
    }

    fn dotted(&self) -> String {
        self.path.join(".")
    }

    /// A setting or plain value of a [`ConfigValue`] type.
    pub fn value<T: ConfigValue>(
        &mut self,
        key: &'static str,
        setting: Option<Setting>,
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
        setting: Option<Setting>,
        secret: bool,
    ) -> Option<T> {
        let source = source_of(self.figment, value, &self.path);
        self.sources.record(self.dotted(), source.clone());
        let parsed = T::from_config(value)
            .map_err(|problem| format!("{problem}; expected {}", T::EXPECTED))
            .and_then(|v| match setting {
                Some(setting) => setting.check(&v).map(|()| v),
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

    /// Reports keys at this level that `schema` does not know.
    pub fn reject_unknown(&mut self, schema: &Schema) {
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

pub(crate) fn did_you_mean<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
