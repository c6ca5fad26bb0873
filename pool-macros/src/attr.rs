//! Parsing `#[pool(...)]` on the struct and its fields.

use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Lit, LitInt, LitStr, Token};

use crate::ast::{Container, Field, Role, shape};
use crate::ctxt::{Ctxt, hint};

const CONTAINER_KEYS: &[&str] = &[
    "env_prefix",
    "file",
    "file_optional",
    "allow_unknown",
    "instances",
    "crate",
];
const FIELD_KEYS: &[&str] = &["default", "setting", "secret", "skip", "nested"];

pub(crate) fn container<'a>(cx: &mut Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => &named.named,
            _ => {
                cx.error(
                    &input.ident,
                    "#[derive(PoolConfig)] needs a struct with named fields: each field is a config key",
                );
                return None;
            }
        },
        _ => {
            cx.error(
                &input.ident,
                "#[derive(PoolConfig)] works on structs only: each named field is a config key",
            );
            return None;
        }
    };
    if !input.generics.params.is_empty() {
        cx.error(
            &input.generics,
            "#[derive(PoolConfig)] does not support generic structs: a config's keys must be known when it compiles",
        );
    }
    let mut container = Container {
        ident: &input.ident,
        env_prefix: None,
        file: None,
        file_optional: None,
        allow_unknown: None,
        instances: None,
        krate: None,
        fields: Vec::new(),
    };
    for attr in pool_attrs(&input.attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let name = ident_of(&meta.path);
            match name.as_str() {
                "env_prefix" => set_once(
                    cx,
                    &meta.path,
                    &mut container.env_prefix,
                    meta.value()?.parse::<LitStr>()?,
                ),
                "file" => set_once(
                    cx,
                    &meta.path,
                    &mut container.file,
                    meta.value()?.parse::<LitStr>()?,
                ),
                "file_optional" => set_once(
                    cx,
                    &meta.path,
                    &mut container.file_optional,
                    meta.path.span(),
                ),
                "allow_unknown" => set_once(
                    cx,
                    &meta.path,
                    &mut container.allow_unknown,
                    meta.path.span(),
                ),
                "instances" => set_once(
                    cx,
                    &meta.path,
                    &mut container.instances,
                    meta.value()?.parse::<LitInt>()?,
                ),
                "crate" => {
                    let path: LitStr = meta.value()?.parse()?;
                    match path.parse::<syn::Path>() {
                        Ok(p) => set_once(cx, &meta.path, &mut container.krate, p),
                        Err(_) => cx.error(
                            &path,
                            "`crate` takes a path, e.g. crate = \"my_pool_runtime\"",
                        ),
                    }
                }
                _ => {
                    cx.error(
                        &meta.path,
                        format!(
                            "unknown attribute `{name}` on a PoolConfig struct{}",
                            hint(&name, CONTAINER_KEYS)
                        ),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.push(e);
        }
    }
    for field in fields {
        if let Some(f) = self::field(cx, field) {
            container.fields.push(f);
        }
    }
    Some(container)
}

fn field<'a>(cx: &mut Ctxt, field: &'a syn::Field) -> Option<Field<'a>> {
    let ident = field.ident.as_ref()?;
    let mut out = Field {
        ident,
        ty: &field.ty,
        shape: shape(&field.ty),
        setting_attr: None,
        default: None,
        secret: None,
        skip: None,
        nested: None,
        docs: docs(&field.attrs),
        role: Role::Unknown,
    };
    for attr in pool_attrs(&field.attrs) {
        let parsed = attr.parse_nested_meta(|meta| {
            let name = ident_of(&meta.path);
            let span = syn::spanned::Spanned::span(&meta.path);
            match name.as_str() {
                "default" => set_once(
                    cx,
                    &meta.path,
                    &mut out.default,
                    meta.value()?.parse::<Lit>()?,
                ),
                "setting" => set_once(
                    cx,
                    &meta.path,
                    &mut out.setting_attr,
                    meta.value()?.parse::<LitStr>()?,
                ),
                "secret" => set_once(cx, &meta.path, &mut out.secret, span),
                "skip" => set_once(cx, &meta.path, &mut out.skip, span),
                "nested" => set_once(cx, &meta.path, &mut out.nested, span),
                _ => {
                    cx.error(
                        &meta.path,
                        format!(
                            "unknown attribute `{name}` on a PoolConfig field{}",
                            hint(&name, FIELD_KEYS)
                        ),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.push(e);
        }
    }
    Some(out)
}

/// The attribute key as written, or empty for a path like `a::b`.
fn ident_of(path: &syn::Path) -> String {
    path.get_ident().map(|i| i.to_string()).unwrap_or_default()
}

fn pool_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("pool"))
}

fn set_once<T>(cx: &mut Ctxt, path: &syn::Path, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error(path, format!("`{}` is given twice", ident_of(path)));
    } else {
        *slot = Some(value);
    }
}

/// After an unknown key, steps over its `= value`, so parsing goes on and
/// later problems are reported too.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|inner| skip_value(&inner));
    }
    Ok(())
}

fn docs(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    lines.join("\n")
}
