//! Reading one typed value out of a config value, with errors a person can
//! act on.

use std::time::Duration;

use figment::value::{Empty, Num, Value};

use pool_settings::{ReplicaFallback, duration};

use crate::options::{ResetPolicy, Role, SslMode};
use crate::policy::{BootPolicy, PolicyError};
use crate::url::DatabaseUrl;

pub use pool_settings::duration::parse as parse_duration;

mod sealed {
    /// Only this crate's value types are config values: the derive's
    /// checks and messages know each of them.
    pub trait Sealed {}
}

/// A type a `#[derive(PoolConfig)]` setting field may have.
///
/// Values come from YAML, environment variables or defaults, so each type
/// accepts the forms those produce (a number may arrive as text from an
/// environment variable). Sealed: the field types the derive accepts are
/// the ones listed in the settings table.
pub trait ConfigValue: Sized + sealed::Sealed {
    /// What a valid value looks like, for error messages.
    const EXPECTED: &'static str;

    /// Parses a present value.
    fn from_config(value: &Value) -> Result<Self, String>;

    /// The value when the key is absent everywhere: `None` means required.
    fn when_missing() -> Option<Self> {
        None
    }

    /// A seconds view for the settings' range rules, if the type is a duration.
    #[doc(hidden)]
    fn as_duration(&self) -> Option<Duration> {
        None
    }

    /// A count view for the settings' range rules, if the type is a number.
    #[doc(hidden)]
    fn as_count(&self) -> Option<u64> {
        None
    }

    /// A text view for the settings' rules (the URL is parsed), if text.
    #[doc(hidden)]
    fn as_text(&self) -> Option<&str> {
        None
    }

    /// A path view for the settings' file rules, if a path.
    #[doc(hidden)]
    fn as_path(&self) -> Option<&std::path::Path> {
        None
    }

    /// Whether the type can say "off" (an `Option`).
    #[doc(hidden)]
    fn can_be_off() -> bool {
        false
    }
}

/// Shows a value in an error, shortened; the caller hides secret ones.
pub(crate) fn show(value: &Value) -> String {
    let text = match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("{c:?}"),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => whole(*n)
            .map(|i| i.to_string())
            .or_else(|| n.to_f64().map(|f| f.to_string()))
            .unwrap_or_else(|| "a number".into()),
        Value::Empty(..) => "nothing".into(),
        Value::Dict(..) => "a table".into(),
        Value::Array(..) => "a list".into(),
    };
    if text.chars().count() > 60 {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(_, s) => Some(s.trim()),
        _ => None,
    }
}

/// A whole number of any of figment's signed or unsigned variants.
fn whole(n: Num) -> Option<i128> {
    n.to_u128()
        .and_then(|u| i128::try_from(u).ok())
        .or_else(|| n.to_i128())
}

fn integer(value: &Value) -> Result<i128, String> {
    if let Value::Num(_, n) = value {
        if let Some(i) = whole(*n) {
            return Ok(i);
        }
        return Err("a fraction is not a count".into());
    }
    match text_of(value) {
        Some(text) => text
            .replace('_', "")
            .parse::<i128>()
            .map_err(|_| "not a whole number".into()),
        None => Err("not a whole number".into()),
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl ConfigValue for $t {
            const EXPECTED: &'static str = concat!("a whole number from 0 to ", stringify!($t), "::MAX");

            fn from_config(value: &Value) -> Result<Self, String> {
                let n = integer(value)?;
                if n < 0 {
                    return Err("negative: it cannot be below 0".into());
                }
                <$t>::try_from(n).map_err(|_| format!("too large: at most {}", <$t>::MAX))
            }

            fn as_count(&self) -> Option<u64> {
                u64::try_from(*self).ok()
            }
        }
    )*};
}
unsigned!(u16, u32, u64, usize);

impl sealed::Sealed for bool {}
impl ConfigValue for bool {
    const EXPECTED: &'static str = "true or false";

    fn from_config(value: &Value) -> Result<Self, String> {
        if let Value::Bool(_, b) = value {
            return Ok(*b);
        }
        match text_of(value).map(str::to_ascii_lowercase).as_deref() {
            Some("true" | "yes" | "on" | "1") => Ok(true),
            Some("false" | "no" | "off" | "0") => Ok(false),
            _ => match value {
                Value::Num(_, n) if whole(*n) == Some(1) => Ok(true),
                Value::Num(_, n) if whole(*n) == Some(0) => Ok(false),
                _ => Err("not true or false".into()),
            },
        }
    }
}

impl sealed::Sealed for String {}
impl ConfigValue for String {
    const EXPECTED: &'static str = "text";

    fn from_config(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(_, s) => Ok(s.clone()),
            // An environment variable that happens to look like a number.
            Value::Num(..) | Value::Bool(..) | Value::Char(..) => Ok(show(value)),
            _ => Err("not text".into()),
        }
    }

    fn as_text(&self) -> Option<&str> {
        Some(self)
    }
}

impl sealed::Sealed for DatabaseUrl {}
impl ConfigValue for DatabaseUrl {
    const EXPECTED: &'static str = "a URL like mysql://user:password@host:3306/db";

    fn from_config(value: &Value) -> Result<Self, String> {
        let text = text_of(value).ok_or("not a URL")?;
        // `UrlError` shows the URL with its password redacted.
        DatabaseUrl::parse(text).map_err(|e| e.to_string())
    }

    fn as_text(&self) -> Option<&str> {
        Some(self.expose())
    }
}

/// A choice of words parsed by the type's own `from_word`.
macro_rules! word_value {
    ($($t:ty: $expected:literal, $not:literal;)*) => {$(
        impl sealed::Sealed for $t {}
        impl ConfigValue for $t {
            const EXPECTED: &'static str = $expected;

            fn from_config(value: &Value) -> Result<Self, String> {
                text_of(value)
                    .and_then(<$t>::from_word)
                    .ok_or_else(|| $not.into())
            }
        }
    )*};
}

word_value! {
    ResetPolicy: "when_dirty or always", "not a reset policy";
    Role: "primary, replica or any", "not a server role";
    ReplicaFallback: "primary or fail", "not a replica fallback";
}

impl sealed::Sealed for SslMode {}
impl ConfigValue for SslMode {
    const EXPECTED: &'static str = "disabled, preferred, required, verify_ca or verify_identity";

    fn from_config(value: &Value) -> Result<Self, String> {
        let text = text_of(value).ok_or("not a TLS mode")?;
        SslMode::from_word(text).ok_or_else(|| {
            let word = text.to_ascii_lowercase().replace('-', "_");
            match pool_settings::words::did_you_mean(&word, SslMode::WORDS) {
                Some(close) => format!("unknown TLS mode; did you mean `{close}`?"),
                None => "unknown TLS mode".to_owned(),
            }
        })
    }
}

impl sealed::Sealed for std::path::PathBuf {}
impl ConfigValue for std::path::PathBuf {
    const EXPECTED: &'static str = "a path to a PEM file";

    fn from_config(value: &Value) -> Result<Self, String> {
        match text_of(value) {
            Some("") | None => Err("not a path".into()),
            Some(text) => Ok(std::path::PathBuf::from(text)),
        }
    }

    fn as_path(&self) -> Option<&std::path::Path> {
        Some(self)
    }
}

impl sealed::Sealed for BootPolicy {}
impl ConfigValue for BootPolicy {
    const EXPECTED: &'static str =
        "deny, warn or fix, then optional per-code overrides: \"warn, idle_bound=fix\"";

    fn from_config(value: &Value) -> Result<Self, String> {
        let text = text_of(value).ok_or("not a policy")?;
        text.parse().map_err(|e: PolicyError| e.to_string())
    }

    fn when_missing() -> Option<Self> {
        // Absent: errors deny, warnings warn.
        Some(Self::default())
    }
}

impl sealed::Sealed for Duration {}
impl ConfigValue for Duration {
    const EXPECTED: &'static str =
        "a duration: seconds as a number (600), or with units (600s, 10m, 1h30m, 250ms)";

    fn from_config(value: &Value) -> Result<Self, String> {
        match value {
            Value::Num(..) => seconds(integer(value)?),
            _ => match text_of(value) {
                Some(text) => parse_duration(text),
                None => Err("not a duration".into()),
            },
        }
    }

    fn as_duration(&self) -> Option<Duration> {
        Some(*self)
    }
}

fn seconds(n: i128) -> Result<Duration, String> {
    match u128::try_from(n) {
        Ok(n) => duration::from_seconds(n),
        Err(_) => Err("negative: a duration cannot be below 0".into()),
    }
}

impl<T: ConfigValue> sealed::Sealed for Option<T> {}
impl<T: ConfigValue> ConfigValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;

    fn from_config(value: &Value) -> Result<Self, String> {
        if let Value::Empty(..) = value {
            return Ok(None);
        }
        match text_of(value).map(str::to_ascii_lowercase).as_deref() {
            Some("off" | "none" | "never" | "") => Ok(None),
            _ => T::from_config(value).map(Some),
        }
    }

    fn when_missing() -> Option<Self> {
        Some(None)
    }

    fn as_duration(&self) -> Option<Duration> {
        self.as_ref().and_then(T::as_duration)
    }

    fn as_count(&self) -> Option<u64> {
        self.as_ref().and_then(T::as_count)
    }

    fn as_text(&self) -> Option<&str> {
        self.as_ref().and_then(T::as_text)
    }

    fn as_path(&self) -> Option<&std::path::Path> {
        self.as_ref().and_then(T::as_path)
    }

    fn can_be_off() -> bool {
        true
    }
}

impl sealed::Sealed for Vec<String> {}
impl ConfigValue for Vec<String> {
    const EXPECTED: &'static str = "a list of text";

    fn from_config(value: &Value) -> Result<Self, String> {
        match value {
            Value::Array(_, items) => items.iter().map(String::from_config).collect(),
            Value::Empty(..) => Ok(Vec::new()),
            // One statement from an environment variable.
            other => String::from_config(other).map(|s| vec![s]),
        }
    }

    fn when_missing() -> Option<Self> {
        Some(Vec::new())
    }
}

/// The value of an absent key, as figment spells "nothing".
pub(crate) fn nothing() -> Value {
    Value::from(Empty::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        Value::from(text.to_owned())
    }

    #[test]
    fn durations_take_numbers_units_and_compounds() {
        let cases = [
            (Value::from(600u64), 600),
            (v("600"), 600),
            (v("600s"), 600),
            (v("10m"), 600),
            (v("1h30m"), 5400),
            (v("1h 30m"), 5400),
        ];
        for (value, secs) in cases {
            assert_eq!(
                Duration::from_config(&value),
                Ok(Duration::from_secs(secs)),
                "{value:?}"
            );
        }
        assert_eq!(
            Duration::from_config(&v("250ms")),
            Ok(Duration::from_millis(250))
        );
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        let typo = Duration::from_config(&v("10 mintues")).unwrap_err();
        assert!(typo.contains("mintues"), "{typo}");
        assert!(
            Duration::from_config(&v("-5s"))
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            Duration::from_config(&Value::from(-5i64))
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            Duration::from_config(&v("99999999999h"))
                .unwrap_err()
                .contains("too large")
        );
        assert!(Duration::from_config(&Value::from(true)).is_err());
    }

    #[test]
    fn counts_reject_negative_huge_and_fractional_values() {
        assert_eq!(u32::from_config(&v("100")), Ok(100));
        assert!(
            u32::from_config(&Value::from(-1i64))
                .unwrap_err()
                .contains("negative")
        );
        assert!(
            u32::from_config(&v("99999999999"))
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            u32::from_config(&Value::from(1.5f64))
                .unwrap_err()
                .contains("fraction")
        );
        assert!(u32::from_config(&v("ten")).is_err());
    }

    #[test]
    fn optional_values_can_be_switched_off() {
        assert_eq!(Option::<Duration>::from_config(&v("off")), Ok(None));
        assert_eq!(
            Option::<Duration>::from_config(&v("5m")),
            Ok(Some(Duration::from_secs(300)))
        );
        assert_eq!(Option::<Duration>::when_missing(), Some(None));
        assert_eq!(u32::when_missing(), None);
    }
}
