//! The settings table as data: what the derive checks against at compile
//! time, and what the runtime lists, validates and documents.

use std::fmt;
use std::time::Duration;

use crate::duration;

/// What kind of value a setting holds; its variant carries the bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A `mysql://` URL. Secret: its password never prints.
    Url,
    /// A whole number from `min` to `max`.
    Count {
        /// The least allowed value.
        min: u32,
        /// The largest allowed value.
        max: u32,
    },
    /// A duration up to a century.
    Duration {
        /// Can be switched off (`off`, or no value): held in an `Option`.
        off: bool,
        /// `0` is meaningful (otherwise refused as a typo for `off`).
        zero: bool,
    },
    /// `true` or `false`.
    Flag,
    /// A list of SQL statements.
    Statements,
    /// One of a few words.
    Choice {
        /// The words, as written in configs.
        words: &'static [&'static str],
    },
    /// A boot policy: `deny`, `warn` or `fix`, with per-code overrides.
    Policy,
    /// A path to a file, which must exist when the config loads.
    Path,
    /// Free text (a host name).
    Text,
}

/// A setting's default, as the table states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DefaultValue {
    /// No default: the setting must be given.
    Required,
    /// Switched off by default.
    Off,
    /// Unset by default, and then worked out by the pool (the adaptive
    /// validation timeout).
    Adaptive,
    /// A count.
    Count(u32),
    /// A duration.
    Duration(Duration),
    /// A flag.
    Flag(bool),
    /// Nothing: no statements, no policy overrides.
    Empty,
    /// One of a [`Kind::Choice`]'s words.
    Word(&'static str),
}

/// One row of the settings table.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The config key, which is also the `PoolOptions` field.
    pub key: &'static str,
    /// The Rust type `PoolOptions` holds it in, as the compiler writes it
    /// out (it may hold spaces: see [`type_shape`](Self::type_shape)).
    pub rust_type: &'static str,
    /// What kind of value it is, with its bounds.
    pub kind: Kind,
    /// Its default.
    pub default: DefaultValue,
    /// What a count counts (`connections`), or empty.
    pub unit: &'static str,
    /// Its doc comment; the first sentence is its summary.
    pub doc: &'static str,
}

macro_rules! settings_data {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        /// Every setting, in table order.
        pub static SETTINGS: &[Setting] = &[$(
                Setting {
                    key: stringify!($key),
                    rust_type: stringify!($ty),
                    kind: {
                        use Kind::*;
                        $kind
                    },
                    default: {
                        #[allow(unused_imports)]
                        use DefaultValue::*;
                        $default
                    },
                    unit: $unit,
                    doc: concat!($($doc, "\n"),*),
                },
            )*];
    };
}
crate::settings_table!(settings_data);

macro_rules! cluster_settings_data {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        /// Every cluster-only setting (`cluster_settings_table!`), in table
        /// order: keys of a cluster config beside its `primary` and
        /// `replicas` sections.
        pub static CLUSTER_SETTINGS: &[Setting] = &[$(
                Setting {
                    key: stringify!($key),
                    rust_type: stringify!($ty),
                    kind: {
                        use Kind::*;
                        $kind
                    },
                    default: {
                        #[allow(unused_imports)]
                        use DefaultValue::*;
                        $default
                    },
                    unit: $unit,
                    doc: concat!($($doc, "\n"),*),
                },
            )*];
    };
}
crate::cluster_settings_table!(cluster_settings_data);

/// Whether two strings are equal, in a `const` context.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Setting {
    /// The setting named `key`, if there is one.
    pub fn named(key: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.key == key)
    }

    /// The cluster setting named `key` (of [`CLUSTER_SETTINGS`]), for code
    /// that names one in a `const` or `static`: an unknown key fails the
    /// build.
    pub const fn known_cluster(key: &str) -> &'static Setting {
        let mut i = 0;
        while i < CLUSTER_SETTINGS.len() {
            if same(CLUSTER_SETTINGS[i].key, key) {
                return &CLUSTER_SETTINGS[i];
            }
            i += 1;
        }
        panic!("not a cluster setting")
    }

    /// The setting named `key`, for code that names a setting in a `const`
    /// or `static` (the derive's output): an unknown key fails the build.
    pub const fn known(key: &str) -> &'static Setting {
        let mut i = 0;
        while i < SETTINGS.len() {
            if same(SETTINGS[i].key, key) {
                return &SETTINGS[i];
            }
            i += 1;
        }
        panic!("not a pool setting")
    }

    /// Every key, in table order.
    pub fn keys() -> Vec<&'static str> {
        SETTINGS.iter().map(|s| s.key).collect()
    }

    /// The Rust type without spaces: `Option<Duration>`.
    pub fn type_shape(&self) -> String {
        self.rust_type.split_whitespace().collect()
    }

    /// Whether its value is secret (the URL's password).
    pub const fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Url)
    }

    /// The first sentence of its doc comment, on one line.
    pub fn summary(&self) -> String {
        let text = self.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        match text.find(". ") {
            Some(end) => text[..end].to_owned(),
            None => text.trim_end_matches('.').to_owned(),
        }
    }

    /// Its doc comment as plain lines.
    pub fn doc_lines(&self) -> impl Iterator<Item = &'static str> {
        self.doc.lines().map(str::trim)
    }

    /// The default as a config file would write it: `10`, `30m`, `off`.
    pub fn default_text(&self) -> String {
        match (self.default, self.kind) {
            (DefaultValue::Required, _) => "required".into(),
            (DefaultValue::Off, _) => "off".into(),
            (DefaultValue::Adaptive, _) => "adaptive".into(),
            (DefaultValue::Count(n), _) => n.to_string(),
            (DefaultValue::Duration(d), _) => duration::format(d),
            (DefaultValue::Flag(b), _) => b.to_string(),
            (DefaultValue::Empty, Kind::Policy) => "errors deny, warnings warn".into(),
            (DefaultValue::Empty, _) => "none".into(),
            (DefaultValue::Word(w), _) => w.into(),
        }
    }

    /// The field types a `#[derive(PoolConfig)]` field for it may have, as
    /// short type shapes (`u32`, `Option<Duration>`).
    pub fn accepts(&self, shape: &str) -> bool {
        match self.kind {
            Kind::Url => matches!(shape, "String" | "DatabaseUrl"),
            Kind::Count { .. } => shape == "u32",
            Kind::Duration { off, .. } => {
                shape == "Duration" || (off && shape == "Option<Duration>")
            }
            Kind::Flag => shape == "bool",
            Kind::Statements => shape == "Vec<String>",
            Kind::Choice { .. } | Kind::Policy => shape == self.type_shape(),
            Kind::Path => shape == "Option<PathBuf>",
            Kind::Text => shape == "Option<String>",
        }
    }

    /// The accepted field types, for messages.
    pub fn type_text(&self) -> String {
        match self.kind {
            Kind::Url => "String or pool_runtime::DatabaseUrl".into(),
            Kind::Duration { off: true, .. } => "std::time::Duration or Option<Duration>".into(),
            Kind::Duration { off: false, .. } => "std::time::Duration".into(),
            Kind::Path => "Option<std::path::PathBuf>".into(),
            _ => self.type_shape(),
        }
    }

    /// The bounds of a count setting.
    pub fn check_count(&self, n: u64) -> Result<(), String> {
        let Kind::Count { min, max } = self.kind else {
            return Ok(());
        };
        let key = self.key;
        if n < u64::from(min) {
            let counts = match self.unit {
                "" => String::new(),
                unit => format!(": it counts {unit}"),
            };
            return Err(format!("`{key}` must be at least {min}{counts}"));
        }
        if n > u64::from(max) {
            return Err(format!(
                "`{key}` of {n} is above {max}, MySQL's own ceiling for max_connections"
            ));
        }
        Ok(())
    }

    /// The bounds of a duration setting; `in_option` says the value sits in
    /// an `Option`, so `off` is there to be written instead of `0`.
    pub fn check_duration(&self, d: Duration, in_option: bool) -> Result<(), String> {
        let Kind::Duration { off, zero } = self.kind else {
            return Ok(());
        };
        let key = self.key;
        if d.is_zero() && !zero {
            return Err(if off && in_option {
                format!("0 is not a usable `{key}`: write `off` to switch it off")
            } else {
                format!("`{key}` must be longer than 0, e.g. \"30s\"")
            });
        }
        if d > duration::CENTURY {
            return Err(format!("`{key}` is longer than a century: a typo?"));
        }
        Ok(())
    }

    /// The words of a choice setting.
    pub fn check_word(&self, word: &str) -> Result<(), String> {
        match self.kind {
            Kind::Choice { words } if !words.contains(&word) => Err(format!(
                "`{word}` is not a {} value; write one of: {}",
                self.key,
                words.join(", ")
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key)
    }
}

/// The README's key table, generated from [`SETTINGS`].
pub fn markdown_table() -> String {
    markdown_of(SETTINGS)
}

/// The README's cluster key table, generated from [`CLUSTER_SETTINGS`].
pub fn cluster_markdown_table() -> String {
    markdown_of(CLUSTER_SETTINGS)
}

fn markdown_of(settings: &[Setting]) -> String {
    let mut out = String::from("| key | default | meaning |\n|---|---|---|\n");
    for s in settings {
        let default = match s.default {
            DefaultValue::Word(w) => format!("`{w}`"),
            _ => s.default_text(),
        };
        out.push_str(&format!("| `{}` | {default} | {} |\n", s.key, s.summary()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_fits_its_kind() {
        for s in SETTINGS.iter().chain(CLUSTER_SETTINGS) {
            let fits = match (s.default, s.kind) {
                (DefaultValue::Required, Kind::Url) => true,
                (DefaultValue::Off | DefaultValue::Adaptive, Kind::Duration { off, .. }) => off,
                (DefaultValue::Count(n), Kind::Count { .. }) => s.check_count(n.into()).is_ok(),
                (DefaultValue::Duration(d), Kind::Duration { .. }) => {
                    s.check_duration(d, false).is_ok()
                }
                (DefaultValue::Flag(_), Kind::Flag) => true,
                (DefaultValue::Off, Kind::Path | Kind::Text) => true,
                (DefaultValue::Empty, Kind::Statements | Kind::Policy) => true,
                (DefaultValue::Word(w), Kind::Choice { .. }) => s.check_word(w).is_ok(),
                _ => false,
            };
            assert!(
                fits,
                "{}: default {:?} does not fit {:?}",
                s.key, s.default, s.kind
            );
        }
    }

    #[test]
    fn keys_are_unique_and_known_finds_them() {
        let mut keys = Setting::keys();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SETTINGS.len());
        assert_eq!(Setting::known("max_open").key, "max_open");
        assert!(Setting::named("max_opne").is_none());
    }

    #[test]
    fn optional_durations_are_held_in_options() {
        for s in SETTINGS {
            if let Kind::Duration { off, .. } = s.kind {
                let expected = if off { "Option<Duration>" } else { "Duration" };
                assert_eq!(s.type_shape(), expected, "{}", s.key);
            }
        }
    }

    #[test]
    fn summaries_are_one_line() {
        let s = Setting::known("max_idle");
        assert_eq!(
            s.summary(),
            "Most idle connections kept; more are closed on return (Go's default): raise it to `max_open` for steady load"
        );
        assert!(SETTINGS.iter().all(|s| !s.summary().contains('\n')));
    }

    #[test]
    fn bounds_say_what_is_wrong() {
        let open = Setting::known("max_open");
        assert!(open.check_count(0).is_ok());
        assert!(open.check_count(200_000).unwrap_err().contains("100000"));
        assert!(Setting::known("instances").check_count(0).is_err());
        let life = Setting::known("max_lifetime");
        assert!(
            life.check_duration(Duration::ZERO, true)
                .unwrap_err()
                .contains("off")
        );
        assert!(
            life.check_duration(Duration::ZERO, false)
                .unwrap_err()
                .contains("longer than 0")
        );
        let bypass = Setting::known("validate_after_idle");
        assert!(bypass.check_duration(Duration::ZERO, false).is_ok());
    }
}
