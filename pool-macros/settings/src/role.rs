//! `role`'s values.

/// Which kind of server a pool is meant for. The boot checks compare it with
/// the server's `read_only` state and replication status, so a pool for
/// writes that lands on a read-only replica fails at boot instead of failing
/// every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A writable primary (the default): a read-only server is refused.
    Primary,
    /// A read replica: a writable server is a warning.
    Replica,
    /// Either: the server's role is never judged (its read-only variables
    /// are still in the boot facts).
    Any,
}

impl Role {
    /// The words configs write, in the order of the variants.
    pub const WORDS: &'static [&'static str] = &["primary", "replica", "any"];

    /// The role a config word names.
    pub fn from_word(word: &str) -> Option<Role> {
        match word.trim().to_ascii_lowercase().as_str() {
            "primary" => Some(Role::Primary),
            "replica" => Some(Role::Replica),
            "any" => Some(Role::Any),
            _ => None,
        }
    }

    /// The word configs write for it.
    pub fn as_word(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Any => "any",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_word())
    }
}
