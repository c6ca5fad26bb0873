//! Did-you-mean, for unknown keys, attributes and settings.

/// The closest of `known` to `word`, if close enough to be a typo.
///
/// ```
/// assert_eq!(pool_settings::words::did_you_mean("max_lifetim", &["max_open", "max_lifetime"]), Some("max_lifetime"));
/// assert_eq!(pool_settings::words::did_you_mean("colour", &["max_open"]), None);
/// ```
pub fn did_you_mean<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// `; did you mean `x`?`, or the list of what is known.
pub fn hint(word: &str, known: &[&str]) -> String {
    match did_you_mean(word, known) {
        Some(close) => format!("; did you mean `{close}`?"),
        None => format!("; expected one of: {}", known.join(", ")),
    }
}
