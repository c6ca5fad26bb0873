//! Helpers the derive's generated code calls.

use std::fmt;
use std::time::Duration;

use crate::options::{ResetPolicy, Role, SslMode};
use crate::url::{DatabaseUrl, redact};

/// Puts a config field's value into the matching `PoolOptions` field.
#[doc(hidden)]
pub trait Assign<Target> {
    fn assign(&self, target: &mut Target);
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl Assign<$t> for $t {
            fn assign(&self, target: &mut $t) {
                *target = self.clone();
            }
        }
    )*};
}
same!(
    u32,
    bool,
    Duration,
    Option<Duration>,
    Vec<String>,
    ResetPolicy,
    Role,
    SslMode,
    Option<std::path::PathBuf>,
    Option<String>,
    crate::policy::BootPolicy
);

impl Assign<Option<Duration>> for Duration {
    fn assign(&self, target: &mut Option<Duration>) {
        *target = Some(*self);
    }
}

impl Assign<Option<DatabaseUrl>> for String {
    fn assign(&self, target: &mut Option<DatabaseUrl>) {
        // Loading checked it; a struct built by hand may hold anything, and
        // then connect() reports the URL as missing.
        *target = DatabaseUrl::parse(self).ok();
    }
}

impl Assign<Option<DatabaseUrl>> for DatabaseUrl {
    fn assign(&self, target: &mut Option<DatabaseUrl>) {
        *target = Some(self.clone());
    }
}

/// Debug output for a secret field: a URL shows all but its password, any
/// other secret shows nothing of itself.
#[doc(hidden)]
pub struct Redacted<'a, T: ?Sized>(pub &'a T, pub bool);

impl fmt::Debug for Redacted<'_, String> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(f, "{:?}", redact(self.0))
        } else {
            f.write_str("\"***\"")
        }
    }
}

impl fmt::Debug for Redacted<'_, DatabaseUrl> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Debug for Redacted<'_, Option<String>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "Some({:?})", Redacted(s, self.1)),
            None => f.write_str("None"),
        }
    }
}
