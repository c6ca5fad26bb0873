//! The derive's model of a config struct, after its attributes are parsed.

use proc_macro2::Span;
use syn::{Ident, Lit, LitInt, LitStr, Type};

use pool_settings::Setting;

pub(crate) struct Container<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) env_prefix: Option<LitStr>,
    pub(crate) file: Option<LitStr>,
    pub(crate) file_optional: Option<Span>,
    pub(crate) allow_unknown: Option<Span>,
    pub(crate) instances: Option<LitInt>,
    pub(crate) krate: Option<syn::Path>,
    pub(crate) fields: Vec<Field<'a>>,
}

pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    /// The type as a short shape: `u32`, `Duration`, `Option<Duration>`...
    pub(crate) shape: String,
    pub(crate) setting_attr: Option<LitStr>,
    pub(crate) default: Option<Lit>,
    pub(crate) secret: Option<Span>,
    pub(crate) skip: Option<Span>,
    pub(crate) nested: Option<Span>,
    pub(crate) docs: String,
    /// Resolved by `valid`: what the field stands for.
    pub(crate) role: Role,
}

#[derive(Clone, Copy)]
pub(crate) enum Role {
    Setting(&'static Setting),
    Skip,
    Nested,
    /// Not resolved (an error was reported).
    Unknown,
}

impl Field<'_> {
    /// The config key: the field's name.
    pub(crate) fn key(&self) -> String {
        self.ident.to_string().trim_start_matches("r#").to_owned()
    }

    pub(crate) fn setting(&self) -> Option<&'static Setting> {
        match self.role {
            Role::Setting(def) => Some(def),
            _ => None,
        }
    }

    pub(crate) fn is_secret(&self) -> bool {
        self.secret.is_some() || self.setting().is_some_and(Setting::is_secret)
    }
}

/// `std::time::Duration` -> `Duration`, `Option<u32>` -> `Option<u32>`.
pub(crate) fn shape(ty: &Type) -> String {
    match ty {
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return String::new();
            };
            let mut out = last.ident.to_string();
            if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                let inner: Vec<String> = args
                    .args
                    .iter()
                    .map(|arg| match arg {
                        syn::GenericArgument::Type(t) => shape(t),
                        _ => "?".into(),
                    })
                    .collect();
                out.push('<');
                out.push_str(&inner.join(", "));
                out.push('>');
            }
            out
        }
        Type::Group(group) => shape(&group.elem),
        Type::Paren(paren) => shape(&paren.elem),
        _ => String::new(),
    }
}
