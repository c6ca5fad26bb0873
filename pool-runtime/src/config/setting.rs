//! The pool settings a config key can stand for, and their range rules.

use std::time::Duration;

use super::value::ConfigValue;

/// A pool setting, as named in configs and `#[pool(setting = "...")]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // each variant is the `PoolOptions` field of its name
pub enum Setting {
    Url,
    MaxOpen,
    MaxIdle,
    MinIdle,
    MaxLifetime,
    MaxIdleTime,
    AcquireTimeout,
    ConnectTimeout,
    ValidationTimeout,
    ValidateAfterIdle,
    KeepaliveInterval,
    TcpKeepalive,
    InitSql,
    LeakThreshold,
    MaintenanceInterval,
    ResetOnReturn,
    RetryReads,
    StatementTimeout,
    Replicas,
    OnViolation,
}

/// MySQL's own ceiling for `max_connections`: no pool needs more.
const MOST_CONNECTIONS: u64 = 100_000;

impl Setting {
    /// The config key, which is also the `PoolOptions` field.
    pub fn key(self) -> &'static str {
        match self {
            Setting::Url => "url",
            Setting::MaxOpen => "max_open",
            Setting::MaxIdle => "max_idle",
            Setting::MinIdle => "min_idle",
            Setting::MaxLifetime => "max_lifetime",
            Setting::MaxIdleTime => "max_idle_time",
            Setting::AcquireTimeout => "acquire_timeout",
            Setting::ConnectTimeout => "connect_timeout",
            Setting::ValidationTimeout => "validation_timeout",
            Setting::ValidateAfterIdle => "validate_after_idle",
            Setting::KeepaliveInterval => "keepalive_interval",
            Setting::TcpKeepalive => "tcp_keepalive",
            Setting::InitSql => "init_sql",
            Setting::LeakThreshold => "leak_threshold",
            Setting::MaintenanceInterval => "maintenance_interval",
            Setting::ResetOnReturn => "reset_on_return",
            Setting::RetryReads => "retry_reads",
            Setting::StatementTimeout => "statement_timeout",
            Setting::Replicas => "replicas",
            Setting::OnViolation => "on_violation",
        }
    }

    /// Whether `None`/`off` is a meaningful value (the limit switched off).
    fn can_be_off(self) -> bool {
        matches!(
            self,
            Setting::MaxLifetime
                | Setting::MaxIdleTime
                | Setting::ValidationTimeout
                | Setting::KeepaliveInterval
                | Setting::TcpKeepalive
                | Setting::LeakThreshold
                | Setting::StatementTimeout
        )
    }

    /// The range rules a parsed value must meet.
    pub(crate) fn check<T: ConfigValue>(self, value: &T) -> Result<(), String> {
        let zero_duration = value.as_duration() == Some(Duration::ZERO);
        match self {
            Setting::ValidateAfterIdle => Ok(()), // 0: validate every checkout
            _ if zero_duration && self.can_be_off() && T::can_be_off() => Err(format!(
                "0 is not a usable {}: write `off` to switch it off",
                self.key()
            )),
            _ if zero_duration => Err(format!("{} must be longer than 0", self.key())),
            Setting::Url => match value.as_text() {
                // `UrlError` shows the URL with its password redacted.
                Some(text) => crate::url::DatabaseUrl::parse(text)
                    .map(drop)
                    .map_err(|e| e.to_string()),
                None => Ok(()),
            },
            Setting::Replicas if value.as_count() == Some(0) => {
                Err("at least 1 replica runs this pool".into())
            }
            Setting::MaxOpen | Setting::MaxIdle | Setting::MinIdle | Setting::Replicas
                if value.as_count().is_some_and(|n| n > MOST_CONNECTIONS) =>
            {
                Err(format!(
                    "{} is above {MOST_CONNECTIONS}, MySQL's own ceiling for max_connections",
                    self.key()
                ))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_durations_are_refused_except_where_they_mean_something() {
        let zero = Duration::ZERO;
        // `off` is advice only where the field can hold it.
        let optional = Setting::MaxLifetime.check(&Some(zero)).unwrap_err();
        assert!(optional.contains("off"), "{optional}");
        let plain = Setting::MaxLifetime.check(&zero).unwrap_err();
        assert!(plain.contains("longer than 0"), "{plain}");
        assert!(Setting::AcquireTimeout.check(&zero).is_err());
        assert!(Setting::ValidateAfterIdle.check(&zero).is_ok());
        assert!(Setting::MaxLifetime.check(&None::<Duration>).is_ok());
    }

    #[test]
    fn counts_have_a_sane_ceiling_and_replicas_a_floor() {
        assert!(Setting::MaxOpen.check(&100u32).is_ok());
        assert!(Setting::MaxOpen.check(&0u32).is_ok()); // unlimited, as Go
        assert!(Setting::MaxOpen.check(&200_000u32).is_err());
        assert!(Setting::Replicas.check(&0u32).is_err());
    }
}
