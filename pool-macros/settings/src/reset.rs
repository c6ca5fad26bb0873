//! `reset_on_return`'s values.

/// When the pool resets a connection that comes back from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResetPolicy {
    /// Only when it is dirty: an open transaction, an error whose effect on
    /// the transaction is unknown, or autocommit switched off. Session
    /// variables and temporary tables survive, as in Go's `database/sql`.
    /// Costs a round trip only on dirty returns.
    WhenDirty,
    /// `COM_RESET_CONNECTION` on every return (mysql_async's `Pool` default):
    /// a pristine session each time, at one round trip per checkout.
    Always,
}

impl ResetPolicy {
    /// The words configs write, in the order of the variants.
    pub const WORDS: &'static [&'static str] = &["when_dirty", "always"];

    /// The policy a config word names (`when-dirty` is accepted too).
    pub fn from_word(word: &str) -> Option<ResetPolicy> {
        match word.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "when_dirty" | "whendirty" => Some(ResetPolicy::WhenDirty),
            "always" => Some(ResetPolicy::Always),
            _ => None,
        }
    }

    /// The word configs write for it.
    pub fn as_word(self) -> &'static str {
        match self {
            ResetPolicy::WhenDirty => "when_dirty",
            ResetPolicy::Always => "always",
        }
    }
}

impl std::fmt::Display for ResetPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_word())
    }
}
