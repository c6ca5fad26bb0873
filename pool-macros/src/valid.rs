//! Checks a parsed config struct as a whole: every field's role, type and
//! default, and the rules that tie settings together. All problems are
//! reported, each on its own token.

use pool_settings::{Kind, Setting, duration};
use syn::Lit;

use crate::ast::{Container, Field, Role};
use crate::ctxt::{Ctxt, hint};

pub(crate) fn check(cx: &mut Ctxt, container: &mut Container<'_>) {
    check_container(cx, container);
    for field in &mut container.fields {
        resolve_role(cx, field);
        check_field(cx, field);
    }
    check_duplicates(cx, container);
    check_defaults_agree(cx, container);
    check_has_url(cx, container);
}

fn check_container(cx: &mut Ctxt, c: &Container<'_>) {
    if let Some(prefix) = &c.env_prefix {
        let text = prefix.value();
        let valid = text
            .chars()
            .next()
            .is_some_and(|ch| ch.is_ascii_alphabetic())
            && text
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
        if !valid {
            cx.error(
                prefix,
                format!("env_prefix `{text}` is not a usable variable prefix: letters, digits and `_`, starting with a letter (e.g. \"APP_DB\")"),
            );
        }
    }
    if let Some(file) = &c.file {
        if file.value().trim().is_empty() {
            cx.error(
                file,
                "`file` is empty: name the YAML file, e.g. file = \"config/db.yaml\"",
            );
        }
    } else if let Some(span) = c.file_optional {
        cx.push(syn::Error::new(
            span,
            "`file_optional` without `file`: name the file, e.g. #[pool(file = \"config/db.yaml\", file_optional)]",
        ));
    }
    if let Some(instances) = &c.instances {
        match instances.base10_parse::<u32>() {
            Ok(n) => {
                if let Err(problem) = Setting::known("instances").check_count(n.into()) {
                    cx.error(instances, problem);
                }
            }
            Err(_) => cx.error(
                instances,
                "instances must be a whole number from 1 to u32::MAX",
            ),
        }
    }
}

fn resolve_role(cx: &mut Ctxt, f: &mut Field<'_>) {
    let key = f.key();
    let marks = [
        f.skip.is_some(),
        f.nested.is_some(),
        f.setting_attr.is_some(),
    ];
    if marks.iter().filter(|m| **m).count() > 1 {
        cx.error(
            f.ident,
            format!("field `{key}`: `skip`, `nested` and `setting` exclude each other: use one"),
        );
        return;
    }
    f.role = if f.skip.is_some() {
        Role::Skip
    } else if f.nested.is_some() {
        Role::Nested
    } else if let Some(name) = &f.setting_attr {
        match Setting::named(&name.value()) {
            Some(def) => Role::Setting(def),
            None => {
                cx.error(
                    name,
                    format!(
                        "`{}` is not a pool setting{}",
                        name.value(),
                        hint(&name.value(), &Setting::keys())
                    ),
                );
                Role::Unknown
            }
        }
    } else {
        match Setting::named(&key) {
            Some(def) => Role::Setting(def),
            None => {
                cx.error(
                    f.ident,
                    format!(
                        "`{key}` is not a pool setting{} If it is your own, mark it #[pool(skip)] (still loaded); #[pool(nested)] if its type is a PoolConfig; #[pool(setting = \"...\")] to map it to a setting",
                        match crate::ctxt::did_you_mean(&key, &Setting::keys()) {
                            Some(close) => format!("; did you mean `{close}`?"),
                            None => ".".to_owned(),
                        }
                    ),
                );
                Role::Unknown
            }
        }
    };
}

fn check_field(cx: &mut Ctxt, f: &Field<'_>) {
    let key = f.key();
    if let Some(span) = f.secret {
        if !matches!(
            f.shape.as_str(),
            "String" | "Option<String>" | "DatabaseUrl"
        ) {
            cx.push(syn::Error::new(
                span,
                format!(
                    "`secret` works on String, Option<String> or DatabaseUrl fields, not `{}`",
                    f.shape
                ),
            ));
        }
    }
    match f.role {
        Role::Setting(def) => {
            if !def.accepts(&f.shape) {
                cx.error(
                    f.ty,
                    format!(
                        "`{key}`{} must be {}, not `{}`",
                        if key == def.key {
                            String::new()
                        } else {
                            format!(" ({} setting)", def.key)
                        },
                        def.type_text(),
                        type_text(f)
                    ),
                );
            }
            if let Some(default) = &f.default {
                check_default(cx, def, default);
            }
        }
        Role::Nested => {
            if let Some(default) = &f.default {
                cx.error(
                    default,
                    format!("`{key}` is nested: give defaults on the nested struct's fields"),
                );
            }
        }
        Role::Skip => {
            if let Some(default) = &f.default {
                if !matches!(default, Lit::Int(_) | Lit::Str(_) | Lit::Bool(_)) {
                    cx.error(default, "a default is a whole number, a string or a bool");
                }
            }
        }
        Role::Unknown => {}
    }
}

fn type_text(f: &Field<'_>) -> String {
    if f.shape.is_empty() {
        let ty = f.ty;
        quote::quote!(#ty).to_string()
    } else {
        f.shape.clone()
    }
}

/// A literal default, judged by the setting's row: its kind and bounds,
/// with the runtime's own parsers.
fn check_default(cx: &mut Ctxt, def: &Setting, lit: &Lit) {
    let key = def.key;
    match (def.kind, lit) {
        (Kind::Count { .. }, Lit::Int(n)) => match n.base10_parse::<u32>() {
            Err(_) => cx.error(
                lit,
                format!("default for `{key}` must be a whole number from 0 to u32::MAX"),
            ),
            Ok(v) => {
                if let Err(problem) = def.check_count(v.into()) {
                    cx.error(lit, problem);
                }
            }
        },
        (Kind::Count { .. }, _) => cx.error(
            lit,
            format!("default for `{key}` must be a whole number, e.g. default = 100"),
        ),
        (Kind::Duration { zero, off }, Lit::Str(_) | Lit::Int(_)) => {
            let text = match lit {
                Lit::Str(s) => s.value(),
                Lit::Int(n) => n.base10_digits().to_owned(),
                _ => return,
            };
            if off && matches!(text.trim(), "off" | "none" | "never") {
                cx.error(lit, format!("no default means off: leave `default` out and make `{key}` an Option<Duration>"));
                return;
            }
            match duration::parse(&text) {
                Err(e) => cx.error(lit, format!("cannot read `{text}` as a duration for `{key}`: {e}; write e.g. \"600s\", \"10m\" or \"1h30m\"")),
                Ok(d) if d.is_zero() && !zero && off => cx.error(
                    lit,
                    format!("a zero `{key}` cannot work: every connection would expire at once; give a positive duration, or leave the default out of an Option<Duration> field for no limit"),
                ),
                Ok(d) => {
                    if let Err(problem) = def.check_duration(d, false) {
                        cx.error(lit, problem);
                    }
                }
            }
        }
        (Kind::Duration { .. }, _) => cx.error(
            lit,
            format!(
                "default for `{key}` must be a duration string such as \"10m\", or whole seconds"
            ),
        ),
        (Kind::Flag, Lit::Bool(_)) => {}
        (Kind::Flag, _) => cx.error(lit, format!("default for `{key}` must be true or false")),
        (Kind::Url, Lit::Str(s)) if looks_like_url(&s.value()) => {}
        (Kind::Url, Lit::Str(_)) => cx.error(
            lit,
            format!("default for `{key}` is not a URL: write mysql://user:password@host:3306/db"),
        ),
        (Kind::Url, _) => cx.error(lit, format!("default for `{key}` must be a URL string")),
        (Kind::Choice { .. }, Lit::Str(s)) => {
            if let Err(problem) = def.check_word(&s.value()) {
                cx.error(lit, problem);
            }
        }
        (Kind::Choice { words }, _) => cx.error(
            lit,
            format!(
                "default for `{key}` must be one of: {}",
                words
                    .iter()
                    .map(|w| format!("\"{w}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (Kind::Statements, _) => cx.error(
            lit,
            format!("`{key}` takes no default literal: list its statements in the config file"),
        ),
        (Kind::Policy, Lit::Str(s)) if pool_settings::policy::parse(&s.value()).is_ok() => {}
        (Kind::Policy, _) => cx.error(
            lit,
            format!(
                "default for `{key}` must be a policy string: \"deny\", \"warn\" or \"fix\", with optional overrides like \"warn, idle_bound=fix\""
            ),
        ),
        _ => cx.error(lit, format!("`{key}` takes no default literal")),
    }
}

fn check_duplicates(cx: &mut Ctxt, c: &Container<'_>) {
    for (i, field) in c.fields.iter().enumerate() {
        let Some(def) = field.setting() else { continue };
        if let Some(first) = c.fields[..i]
            .iter()
            .find(|f| f.setting().is_some_and(|d| d.key == def.key))
        {
            cx.error(
                field.ident,
                format!(
                    "`{}` is already set by field `{}`: one field per setting",
                    def.key,
                    first.key()
                ),
            );
        }
    }
}

/// The literal default of `key`, if a field for it has an integer one.
fn int_default<'c>(c: &'c Container<'_>, key: &str) -> Option<(u64, &'c Lit)> {
    let field = c
        .fields
        .iter()
        .find(|f| f.setting().is_some_and(|d| d.key == key))?;
    match field.default.as_ref()? {
        lit @ Lit::Int(n) => n.base10_parse::<u64>().ok().map(|v| (v, lit)),
        _ => None,
    }
}

fn check_defaults_agree(cx: &mut Ctxt, c: &Container<'_>) {
    let max_open = int_default(c, "max_open").filter(|(v, _)| *v != 0);
    let max_idle = int_default(c, "max_idle");
    let min_idle = int_default(c, "min_idle");
    if let (Some((open, _)), Some((idle, lit))) = (max_open, max_idle) {
        if idle > open {
            cx.error(lit, format!("max_idle default {idle} is above max_open default {open}: at most max_open connections exist, idle ones included"));
        }
    }
    if let (Some((idle, _)), Some((min, lit))) = (max_idle, min_idle) {
        if min > idle {
            cx.error(lit, format!("min_idle default {min} is above max_idle default {idle}: the pool would open idle connections only to close them"));
        }
    }
}

fn check_has_url(cx: &mut Ctxt, c: &Container<'_>) {
    let has_settings = c.fields.iter().any(|f| f.setting().is_some());
    let has_nested = c.fields.iter().any(|f| matches!(f.role, Role::Nested));
    let has_url = c
        .fields
        .iter()
        .any(|f| f.setting().is_some_and(|d| d.key == "url"));
    let unresolved = c.fields.iter().any(|f| matches!(f.role, Role::Unknown));
    if has_settings && !has_url && !unresolved {
        cx.error(c.ident, "a PoolConfig needs a `url` field (or #[pool(setting = \"url\")] on one): the pool must know where to connect");
    }
    if !has_settings && !has_nested && !unresolved {
        cx.error(
            c.ident,
            "this PoolConfig has no pool settings: add at least `url`, or #[pool(nested)] configs",
        );
    }
}

/// `mysql://host...`: the runtime parses it fully.
fn looks_like_url(text: &str) -> bool {
    text.strip_prefix("mysql://")
        .or_else(|| text.strip_prefix("mariadb://"))
        .is_some_and(|rest| !rest.is_empty())
}
