//! Duration literals, parsed at compile time exactly as at run time.

use std::time::Duration;

/// The runtime refuses durations longer than this as typos.
pub(crate) const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `600` (seconds), `"600s"`, `"10m"`, `"1h30m"`, `"250ms"`.
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err("a duration cannot be negative".into());
    }
    if let Ok(secs) = text.replace('_', "").parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(text).map_err(|e| e.to_string())
}
