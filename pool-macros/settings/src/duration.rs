//! Durations as configs write them: `600` (seconds), `"600s"`, `"10m"`,
//! `"1h30m"`, `"250ms"`. Parsed the same way at compile time (literal
//! defaults) and at run time (YAML, environment).

use std::time::Duration;

/// Longer than a century is a typo, not a setting.
pub const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `n` seconds, for the table's defaults.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `n` milliseconds, for the table's defaults.
pub const fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Parses `600`, `600s`, `10m`, `1h30m`, `1h 30m`, `250ms`... Negative and
/// longer-than-a-century values are refused with a reason.
///
/// ```
/// use std::time::Duration;
/// use pool_settings::duration::parse;
///
/// assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
/// assert_eq!(parse("600"), Ok(Duration::from_secs(600)));
/// assert!(parse("-5s").unwrap_err().contains("negative"));
/// ```
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("negative: a duration cannot be below 0".into());
    }
    if let Ok(n) = text.replace('_', "").parse::<u128>() {
        return from_seconds(n);
    }
    let parsed = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if parsed > CENTURY {
        return Err("too large: longer than a century".into());
    }
    Ok(parsed)
}

/// A whole number of seconds, refused past a century.
pub fn from_seconds(n: u128) -> Result<Duration, String> {
    match u64::try_from(n).map(Duration::from_secs) {
        Ok(d) if d <= CENTURY => Ok(d),
        _ => Err("too large: longer than a century".into()),
    }
}

/// A duration as a person writes it in a config: `30m`, `1h`, `45s`,
/// `500ms`; parsing the text gives the same duration back.
pub fn format(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return if d.subsec_nanos() % 1_000_000 == 0 {
            format!("{}ms", d.as_millis())
        } else {
            format!("{}us", d.as_micros())
        };
    }
    match d.as_secs() {
        0 => "0s".into(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_durations_parse_back() {
        for ms in [
            0, 1, 250, 500, 1000, 45_000, 60_000, 1_800_000, 3_600_000, 5_400_000,
        ] {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&format(d)), Ok(d), "{}", format(d));
        }
        assert_eq!(format(Duration::from_secs(1800)), "30m");
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse("10 mintues").unwrap_err().contains("mintues"));
        assert!(parse("99999999999h").unwrap_err().contains("too large"));
        assert!(parse("9999999999999").unwrap_err().contains("too large"));
    }
}
