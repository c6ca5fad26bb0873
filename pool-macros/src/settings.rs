//! The pool settings a field can stand for, and the field types each takes.

/// What kind of value a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Url,
    Count,
    /// A duration; `off` marks settings that can be switched off.
    Duration {
        off: bool,
        zero: bool,
    },
    Bool,
    Strings,
    ResetPolicy,
    Policy,
}

pub(crate) struct SettingDef {
    pub(crate) key: &'static str,
    pub(crate) variant: &'static str,
    pub(crate) kind: Kind,
}

const fn def(key: &'static str, variant: &'static str, kind: Kind) -> SettingDef {
    SettingDef { key, variant, kind }
}

const OFF: Kind = Kind::Duration {
    off: true,
    zero: false,
};
const ON: Kind = Kind::Duration {
    off: false,
    zero: false,
};

pub(crate) const SETTINGS: &[SettingDef] = &[
    def("url", "Url", Kind::Url),
    def("max_open", "MaxOpen", Kind::Count),
    def("max_idle", "MaxIdle", Kind::Count),
    def("min_idle", "MinIdle", Kind::Count),
    def("max_lifetime", "MaxLifetime", OFF),
    def("max_idle_time", "MaxIdleTime", OFF),
    def("acquire_timeout", "AcquireTimeout", ON),
    def("connect_timeout", "ConnectTimeout", ON),
    def("validation_timeout", "ValidationTimeout", OFF),
    def(
        "validate_after_idle",
        "ValidateAfterIdle",
        Kind::Duration {
            off: false,
            zero: true,
        },
    ),
    def("keepalive_interval", "KeepaliveInterval", OFF),
    def("tcp_keepalive", "TcpKeepalive", OFF),
    def("init_sql", "InitSql", Kind::Strings),
    def("leak_threshold", "LeakThreshold", OFF),
    def("maintenance_interval", "MaintenanceInterval", ON),
    def("reset_on_return", "ResetOnReturn", Kind::ResetPolicy),
    def("retry_reads", "RetryReads", Kind::Bool),
    def("statement_timeout", "StatementTimeout", OFF),
    def("replicas", "Replicas", Kind::Count),
    def("on_violation", "OnViolation", Kind::Policy),
];

pub(crate) fn find(key: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.key == key)
}

pub(crate) fn keys() -> Vec<&'static str> {
    SETTINGS.iter().map(|s| s.key).collect()
}

impl Kind {
    /// The field types this kind accepts, as written, for messages.
    pub(crate) fn types(self) -> &'static str {
        match self {
            Kind::Url => "String or pool_runtime::DatabaseUrl",
            Kind::Count => "u32",
            Kind::Duration { off: true, .. } => "std::time::Duration or Option<Duration>",
            Kind::Duration { off: false, .. } => "std::time::Duration",
            Kind::Bool => "bool",
            Kind::Strings => "Vec<String>",
            Kind::ResetPolicy => "pool_runtime::ResetPolicy",
            Kind::Policy => "pool_runtime::boot::BootPolicy",
        }
    }

    /// Whether a field type (its shape, see `ast::TypeShape`) fits.
    pub(crate) fn accepts(self, shape: &str) -> bool {
        match self {
            Kind::Url => matches!(shape, "String" | "DatabaseUrl"),
            Kind::Count => shape == "u32",
            Kind::Duration { off, .. } => {
                shape == "Duration" || (off && shape == "Option<Duration>")
            }
            Kind::Bool => shape == "bool",
            Kind::Strings => shape == "Vec<String>",
            Kind::ResetPolicy => shape == "ResetPolicy",
            Kind::Policy => shape == "BootPolicy",
        }
    }
}
