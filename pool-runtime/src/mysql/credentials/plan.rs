//! Which credentials the pool's connects use, decided once at boot: the
//! URL's password, `password_file`, or a custom source; and whether the
//! cleartext plugin may be used.

use std::sync::Arc;

use super::cache::Provider;
use super::file::PasswordFile;
use crate::credentials::{CleartextWithoutTls, CredentialError, DynSource};
use crate::findings::Code;
use crate::options::{PoolOptions, SslMode};
use crate::source::{Source, Sources};
use crate::url::DatabaseUrl;

/// Where the password comes from, or `None` for the URL's (fixed) one.
/// Set in two places is [`CredentialError::Ambiguous`]: no silent winner.
pub(crate) fn resolve(
    options: &PoolOptions,
    url: &DatabaseUrl,
    custom: Option<&Arc<dyn DynSource>>,
    sources: Option<&Sources>,
) -> Result<Option<Provider>, CredentialError> {
    let opts = url.opts();
    let url_password = opts.pass().is_some_and(|p| !p.is_empty());
    let file = options.password_file.as_ref().map(|path| PasswordFile {
        path: path.clone(),
        origin: origin(options, sources, "password_file"),
        user: opts.user().unwrap_or("").to_owned(),
    });
    let ambiguous = |first: String, second: String| CredentialError::Ambiguous { first, second };
    match (file, custom) {
        (Some(file), Some(source)) => Err(ambiguous(
            file.describe(),
            format!("the credential source `{}`", source.name()),
        )),
        (Some(file), None) if url_password => Err(ambiguous("the URL".into(), file.describe())),
        (None, Some(source)) if url_password => Err(ambiguous(
            "the URL".into(),
            format!("the credential source `{}`", source.name()),
        )),
        (Some(file), None) => Ok(Some(Provider::File(file))),
        (None, Some(source)) => Ok(Some(Provider::Custom(Arc::clone(source)))),
        (None, None) => Ok(None),
    }
}

/// The boot report's line on credentials: where they come from, never
/// what they are.
pub(crate) fn describe(provider: Option<&Provider>, url: &DatabaseUrl) -> String {
    match provider {
        Some(Provider::File(file)) => format!("{}, read at every connect", file.describe()),
        Some(Provider::Custom(_)) => format!(
            "{}, cached until shortly before expiry",
            provider.map(Provider::describe).unwrap_or_default()
        ),
        None if url.opts().pass().is_some_and(|p| !p.is_empty()) => {
            "the URL's password (fixed for the pool's life)".into()
        }
        None => "no password".into(),
    }
}

/// Whether the cleartext plugin is allowed (by the setting or the URL's
/// `enable_cleartext_plugin`), refused when TLS may not be verified.
pub(crate) fn cleartext(
    options: &PoolOptions,
    url: &DatabaseUrl,
    mode: SslMode,
    sources: Option<&Sources>,
) -> Result<bool, CleartextWithoutTls> {
    let (key, origin) = if options.allow_cleartext_password {
        (
            "allow_cleartext_password",
            origin(options, sources, "allow_cleartext_password"),
        )
    } else if url.opts().enable_cleartext_plugin() {
        (
            "enable_cleartext_plugin",
            Source::Provider("the URL's `enable_cleartext_plugin`".into()),
        )
    } else {
        return Ok(false);
    };
    if mode.verifies() {
        Ok(true)
    } else {
        Err(CleartextWithoutTls {
            code: Code::CleartextPasswordWithoutTls,
            key,
            origin,
            mode,
        })
    }
}

fn origin(options: &PoolOptions, sources: Option<&Sources>, key: &str) -> Source {
    match sources {
        Some(s) => s.of(key),
        None if options.is_default(key) => Source::Default,
        None => Source::Code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> (PoolOptions, DatabaseUrl) {
        let o = PoolOptions::from_url(url).unwrap();
        let u = o.url.clone().unwrap();
        (o, u)
    }

    #[test]
    fn a_password_in_two_places_is_refused() {
        let (mut o, url) = options("mysql://app:pw@db/x");
        o.password_file = Some("/run/secrets/db".into());
        let e = resolve(&o, &url, None, None).err().unwrap();
        assert!(e.to_string().contains("one place"), "{e}");
        assert!(!e.to_string().contains("pw@"), "{e}");
        let (mut o, url) = options("mysql://app@db/x");
        o.password_file = Some("/run/secrets/db".into());
        assert!(matches!(
            resolve(&o, &url, None, None),
            Ok(Some(Provider::File(_)))
        ));
    }

    #[test]
    fn cleartext_needs_a_verifying_mode() {
        let (mut o, url) = options("mysql://app@db/x");
        assert_eq!(cleartext(&o, &url, SslMode::Disabled, None), Ok(false));
        o.allow_cleartext_password = true;
        for mode in [SslMode::Disabled, SslMode::Preferred, SslMode::Required] {
            let e = cleartext(&o, &url, mode, None).unwrap_err();
            assert_eq!(e.code, Code::CleartextPasswordWithoutTls);
            assert_eq!(e.key, "allow_cleartext_password");
        }
        assert_eq!(cleartext(&o, &url, SslMode::VerifyCa, None), Ok(true));
        let (o, url) = options("mysql://app@db/x?enable_cleartext_plugin=true");
        let e = cleartext(&o, &url, SslMode::Preferred, None).unwrap_err();
        assert_eq!(e.key, "enable_cleartext_plugin");
    }
}
