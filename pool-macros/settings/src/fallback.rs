//! `replica_fallback`'s values.

/// Where a cluster's reads go when no replica is in rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ReplicaFallback {
    /// The primary serves them (the default).
    #[default]
    Primary,
    /// They fail, with an error naming each replica and why it is out.
    Fail,
}

impl ReplicaFallback {
    /// The words configs write, in the order of the variants.
    pub const WORDS: &'static [&'static str] = &["primary", "fail"];

    /// The fallback a config word names.
    pub fn from_word(word: &str) -> Option<ReplicaFallback> {
        match word.trim().to_ascii_lowercase().as_str() {
            "primary" => Some(ReplicaFallback::Primary),
            "fail" => Some(ReplicaFallback::Fail),
            _ => None,
        }
    }

    /// The word configs write for it.
    pub fn as_word(self) -> &'static str {
        match self {
            ReplicaFallback::Primary => "primary",
            ReplicaFallback::Fail => "fail",
        }
    }
}

impl std::fmt::Display for ReplicaFallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_word())
    }
}
