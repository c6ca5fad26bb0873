//! The range rules a loaded value must meet, read from the settings table.

use pool_settings::Kind;
pub use pool_settings::Setting;

use super::value::ConfigValue;

/// Checks a parsed value against its setting's bounds, as the derive checks
/// literal defaults at compile time (same rules, same words).
pub(crate) fn check<T: ConfigValue>(setting: &Setting, value: &T) -> Result<(), String> {
    match setting.kind {
        Kind::Url => match value.as_text() {
            // `UrlError` shows the URL with its password redacted.
            Some(text) => crate::url::DatabaseUrl::parse(text)
                .map(drop)
                .map_err(|e| e.to_string()),
            None => Ok(()),
        },
        Kind::Count { .. } => value.as_count().map_or(Ok(()), |n| setting.check_count(n)),
        Kind::Duration { .. } => value
            .as_duration()
            .map_or(Ok(()), |d| setting.check_duration(d, T::can_be_off())),
        Kind::Path => match value.as_path() {
            Some(path) => match setting.key {
                "ssl_ca" | "ssl_cert" => crate::tls::check_certificates(path),
                "ssl_key" => crate::tls::check_private_key(path),
                "password_file" => crate::credentials::password_file::check(path),
                _ => std::fs::metadata(path)
                    .map(drop)
                    .map_err(|e| format!("cannot read `{}`: {e}", path.display())),
            },
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn zero_durations_are_refused_except_where_they_mean_something() {
        let zero = Duration::ZERO;
        let lifetime = Setting::known("max_lifetime");
        // `off` is advice only where the field can hold it.
        let optional = check(lifetime, &Some(zero)).unwrap_err();
        assert!(optional.contains("off"), "{optional}");
        let plain = check(lifetime, &zero).unwrap_err();
        assert!(plain.contains("longer than 0"), "{plain}");
        assert!(check(Setting::known("acquire_timeout"), &zero).is_err());
        assert!(check(Setting::known("validate_after_idle"), &zero).is_ok());
        assert!(check(lifetime, &None::<Duration>).is_ok());
    }

    #[test]
    fn counts_have_a_sane_ceiling_and_instances_a_floor() {
        let open = Setting::known("max_open");
        assert!(check(open, &100u32).is_ok());
        assert!(check(open, &0u32).is_ok()); // unlimited, as Go
        assert!(check(open, &200_000u32).is_err());
        assert!(check(Setting::known("instances"), &0u32).is_err());
    }

    #[test]
    fn urls_are_parsed_without_showing_the_password() {
        let url = Setting::known("url");
        let error = check(
            url,
            &"mysql://u:hunter2@h/db?prefer_socket=maybe".to_owned(),
        )
        .unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
