//! `PoolOptions`: the settings table of `pool-settings`, expanded into plain
//! data.
//!
//! Each field, its doc and its default come from one row of
//! [`pool_settings::settings_table!`]; nothing here is typed a second time.
//! A new setting is a row there plus the code that uses it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use pool_settings::{DefaultValue, Setting};
pub use pool_settings::{ResetPolicy, Role, SslMode};

use crate::policy::BootPolicy;
use crate::url::{DatabaseUrl, UrlError};

macro_rules! pool_options {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        /// Everything a pool needs to know, with defaults chosen for a
        /// production service. Plain data: set the fields you care about.
        ///
        /// ```
        /// use std::time::Duration;
        /// use pool_runtime::PoolOptions;
        ///
        /// let mut options = PoolOptions::from_url("mysql://app:secret@127.0.0.1:3306/shop")?;
        /// options.max_open = 20;
        /// options.max_idle = 20;
        /// options.max_idle_time = Some(Duration::from_secs(240));
        /// // Debug never shows the password.
        /// assert!(!format!("{options:?}").contains("secret"));
        /// # Ok::<(), pool_runtime::UrlError>(())
        /// ```
        ///
        /// Durations given as `None` switch the limit off. `max_open = 0`
        /// means no limit, as in Go's `database/sql`. Every field is a config
        /// key of the same name; the README's table lists their defaults.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct PoolOptions {
            $(
                $(#[doc = $doc])*
                pub $key: $ty,
            )*
        }

        impl Default for PoolOptions {
            fn default() -> Self {
                PoolOptions {
                    $( $key: FromTable::from_table(const { Setting::known(stringify!($key)) }), )*
                }
            }
        }

        impl PoolOptions {
            /// The value of the setting named `key`, as a view that prints
            /// the way configs write it (the URL without its password);
            /// `None` for a key that is not a setting.
            ///
            /// ```
            /// let options = pool_runtime::PoolOptions::default();
            /// assert_eq!(options.value("max_lifetime").unwrap().to_string(), "30m");
            /// assert!(options.value("max_lifetim").is_none());
            /// ```
            pub fn value(&self, key: &str) -> Option<SettingValue<'_>> {
                match key {
                    $( stringify!($key) => Some(ToValue::to_value(
                        &self.$key,
                        const { Setting::known(stringify!($key)) },
                    )), )*
                    _ => None,
                }
            }
        }

        /// Every setting, as a typed handle, for code that names one (the
        /// boot rules): a misspelt key does not compile.
        #[allow(non_upper_case_globals, dead_code)]
        pub(crate) mod keys {
            use pool_settings::Setting;
            $( pub(crate) const $key: &Setting = Setting::known(stringify!($key)); )*
        }
    };
}
pool_settings::settings_table!(pool_options);

impl PoolOptions {
    /// Defaults, connecting to `url`.
    pub fn from_url(url: &str) -> Result<Self, UrlError> {
        Ok(PoolOptions {
            url: Some(DatabaseUrl::parse(url)?),
            ..PoolOptions::default()
        })
    }

    /// Whether the setting named `key` still has its default value.
    pub fn is_default(&self, key: &str) -> bool {
        self.value(key).is_some() && self.value(key) == PoolOptions::default().value(key)
    }
}

/// One setting's value, as [`PoolOptions::value`] shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum SettingValue<'a> {
    /// A URL (shown without its password).
    Url(&'a DatabaseUrl),
    /// No value where one is required (the URL).
    Unset,
    /// A count.
    Count(u32),
    /// A duration.
    Duration(Duration),
    /// Switched off.
    Off,
    /// Unset, so the pool works it out (the validation timeout).
    Adaptive,
    /// A flag.
    Flag(bool),
    /// SQL statements; shown as a count, since they may hold values.
    Statements(&'a [String]),
    /// The reset policy.
    Reset(ResetPolicy),
    /// The TLS mode.
    Ssl(SslMode),
    /// The server role.
    Role(Role),
    /// A file path.
    Path(&'a std::path::Path),
    /// Text (a host name).
    Text(&'a str),
    /// The boot policy.
    Policy(&'a BootPolicy),
}

impl fmt::Display for SettingValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingValue::Url(url) => write!(f, "{url}"),
            SettingValue::Unset => f.write_str("unset"),
            SettingValue::Count(n) => write!(f, "{n}"),
            SettingValue::Duration(d) => f.write_str(&pool_settings::duration::format(*d)),
            SettingValue::Off => f.write_str("off"),
            SettingValue::Adaptive => f.write_str("adaptive"),
            SettingValue::Flag(b) => write!(f, "{b}"),
            SettingValue::Statements([]) => f.write_str("none"),
            SettingValue::Statements(list) => write!(f, "{} statement(s)", list.len()),
            SettingValue::Reset(policy) => write!(f, "{policy}"),
            SettingValue::Ssl(mode) => write!(f, "{mode}"),
            SettingValue::Role(role) => write!(f, "{role}"),
            SettingValue::Path(path) => write!(f, "{}", path.display()),
            SettingValue::Text(text) => f.write_str(text),
            SettingValue::Policy(policy) => write!(f, "{policy}"),
        }
    }
}

/// A field's default, read from its table row. A default that does not fit
/// its field's type cannot ship: `pool-settings` checks every row against
/// its kind, and the tests below check every field against its row.
trait FromTable {
    fn from_table(setting: &Setting) -> Self;
}

/// A field's value as a [`SettingValue`].
trait ToValue {
    fn to_value<'a>(&'a self, setting: &Setting) -> SettingValue<'a>;
}

impl FromTable for u32 {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Count(n) => n,
            _ => 0,
        }
    }
}

impl ToValue for u32 {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Count(*self)
    }
}

impl FromTable for Duration {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Duration(d) => d,
            _ => Duration::ZERO,
        }
    }
}

impl ToValue for Duration {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Duration(*self)
    }
}

impl FromTable for Option<Duration> {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Duration(d) => Some(d),
            _ => None,
        }
    }
}

impl ToValue for Option<Duration> {
    fn to_value<'a>(&'a self, setting: &Setting) -> SettingValue<'a> {
        match (self, setting.default) {
            (Some(d), _) => SettingValue::Duration(*d),
            (None, DefaultValue::Adaptive) => SettingValue::Adaptive,
            (None, _) => SettingValue::Off,
        }
    }
}

impl FromTable for bool {
    fn from_table(setting: &Setting) -> Self {
        matches!(setting.default, DefaultValue::Flag(true))
    }
}

impl ToValue for bool {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Flag(*self)
    }
}

impl FromTable for Vec<String> {
    fn from_table(_: &Setting) -> Self {
        Vec::new()
    }
}

impl ToValue for Vec<String> {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Statements(self)
    }
}

impl FromTable for Option<DatabaseUrl> {
    fn from_table(_: &Setting) -> Self {
        None
    }
}

impl ToValue for Option<DatabaseUrl> {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        match self {
            Some(url) => SettingValue::Url(url),
            None => SettingValue::Unset,
        }
    }
}

impl FromTable for ResetPolicy {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Word(word) => ResetPolicy::from_word(word),
            _ => None,
        }
        .unwrap_or(ResetPolicy::WhenDirty)
    }
}

impl ToValue for ResetPolicy {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Reset(*self)
    }
}

impl FromTable for Role {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Word(word) => Role::from_word(word),
            _ => None,
        }
        .unwrap_or(Role::Primary)
    }
}

impl ToValue for Role {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Role(*self)
    }
}

impl FromTable for SslMode {
    fn from_table(setting: &Setting) -> Self {
        match setting.default {
            DefaultValue::Word(word) => SslMode::from_word(word),
            _ => None,
        }
        .unwrap_or(SslMode::Preferred)
    }
}

impl ToValue for SslMode {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Ssl(*self)
    }
}

impl FromTable for Option<PathBuf> {
    fn from_table(_: &Setting) -> Self {
        None
    }
}

impl ToValue for Option<PathBuf> {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        match self {
            Some(path) => SettingValue::Path(path),
            None => SettingValue::Off,
        }
    }
}

impl FromTable for Option<String> {
    fn from_table(_: &Setting) -> Self {
        None
    }
}

impl ToValue for Option<String> {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        match self {
            Some(text) => SettingValue::Text(text),
            None => SettingValue::Off,
        }
    }
}

impl FromTable for BootPolicy {
    fn from_table(_: &Setting) -> Self {
        BootPolicy::default()
    }
}

impl ToValue for BootPolicy {
    fn to_value<'a>(&'a self, _: &Setting) -> SettingValue<'a> {
        SettingValue::Policy(self)
    }
}

// `pool::Limits` is the generic core's own type; the core never imports
// `PoolOptions` (it carries the URL, the boot policy and exec settings). The
// conversion lives here, on the options' side, so that the dependency points
// from options to the core, and so that `Limits::default()` is these
// defaults, not a second copy of them.
// ---------------------------------------------------------------------------

impl From<&PoolOptions> for crate::pool::Limits {
    fn from(options: &PoolOptions) -> Self {
        // A struct literal, not field updates: a new limit fails to compile
        // here until it is mapped.
        crate::pool::Limits {
            max_open: options.max_open,
            max_idle: options.max_idle,
            min_idle: options.min_idle,
            max_lifetime: options.max_lifetime,
            max_idle_time: options.max_idle_time,
            acquire_timeout: options.acquire_timeout,
            connect_timeout: options.connect_timeout,
            validation_timeout: options.validation_timeout,
            validate_after_idle: options.validate_after_idle,
            validate_suspects: options.validate_suspects,
            keepalive_interval: options.keepalive_interval,
            leak_threshold: options.leak_threshold,
            maintenance_interval: options.maintenance_interval,
            reset_every_return: options.reset_on_return == ResetPolicy::Always,
        }
    }
}

impl Default for crate::pool::Limits {
    /// The limits of `PoolOptions::default()`.
    fn default() -> Self {
        Self::from(&PoolOptions::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pool_settings::SETTINGS;

    #[test]
    fn every_default_in_the_table_is_the_default_of_pool_options() {
        let options = PoolOptions::default();
        for setting in SETTINGS {
            let value = options
                .value(setting.key)
                .unwrap_or_else(|| panic!("{} is not a PoolOptions field", setting.key));
            let shown = match (setting.default, value) {
                (DefaultValue::Empty, SettingValue::Policy(p)) => {
                    assert_eq!(*p, BootPolicy::default());
                    setting.default_text()
                }
                (DefaultValue::Required, SettingValue::Unset) => "required".into(),
                _ => value.to_string(),
            };
            assert_eq!(shown, setting.default_text(), "default of {}", setting.key);
        }
    }

    #[test]
    fn a_changed_value_is_no_longer_the_default() {
        let mut options = PoolOptions::default();
        assert!(options.is_default("max_open"));
        options.max_open = 11;
        assert!(!options.is_default("max_open"));
        assert!(!options.is_default("no_such_key"));
    }

    #[test]
    fn values_never_show_the_password() {
        let options = PoolOptions::from_url("mysql://u:hunter2@h:3306/db").unwrap();
        let shown = options.value("url").unwrap().to_string();
        assert_eq!(shown, "mysql://u:***@h:3306/db");
    }
}
