//! Code generation, once the struct is known to be valid.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{DeriveInput, Lit};

use crate::ast::{Container, Role};
use crate::ctxt::Ctxt;
use crate::{attr, valid};

pub(crate) fn derive(input: &DeriveInput) -> Result<TokenStream, syn::Error> {
    let mut cx = Ctxt::default();
    let container = attr::container(&mut cx, input);
    let Some(mut container) = container else {
        cx.check()?;
        return Ok(TokenStream::new());
    };
    valid::check(&mut cx, &mut container);
    cx.check()?;
    Ok(expand(&container))
}

fn expand(c: &Container<'_>) -> TokenStream {
    let krate = match &c.krate {
        Some(path) => quote!(#path),
        None => quote!(::pool_runtime),
    };
    let private = quote!(#krate::__private);
    let ident = c.ident;
    let type_name = ident.to_string();

    let env_prefix = opt_str(c.env_prefix.as_ref().map(|l| l.value()));
    let file = opt_str(c.file.as_ref().map(|l| l.value()));
    let file_optional = c.file_optional.is_some();
    let instances_attr = c
        .instances
        .as_ref()
        .and_then(|r| r.base10_parse::<u32>().ok());
    let instances = match instances_attr {
        Some(n) => quote!(#private::Some(#n)),
        None => quote!(#private::None),
    };

    let keys = c.fields.iter().map(|f| {
        let name = f.key();
        let setting = match f.setting() {
            Some(def) => {
                let key = def.key;
                quote!(#private::Some(#private::Setting::known(#key)))
            }
            None => quote!(#private::None),
        };
        let default = match &f.default {
            Some(Lit::Int(n)) => {
                let v = n.base10_parse::<u64>().unwrap_or_default();
                quote!(#private::Some(#private::DefaultLit::Int(#v)))
            }
            Some(Lit::Str(s)) => quote!(#private::Some(#private::DefaultLit::Str(#s))),
            Some(Lit::Bool(b)) => quote!(#private::Some(#private::DefaultLit::Bool(#b))),
            _ => quote!(#private::None),
        };
        let secret = f.is_secret();
        let doc = &f.docs;
        let type_text = if f.shape.is_empty() {
            "?".to_owned()
        } else {
            f.shape.clone()
        };
        let ty = f.ty;
        let nested = match f.role {
            Role::Nested => quote!(#private::Some(<#ty as #private::PoolConfig>::__schema)),
            _ => quote!(#private::None),
        };
        quote! {
            #private::KeySpec {
                name: #name,
                setting: #setting,
                default: #default,
                secret: #secret,
                doc: #doc,
                type_name: #type_text,
                nested: #nested,
            }
        }
    });

    let locals: Vec<_> = (0..c.fields.len())
        .map(|i| format_ident!("__field{}", i))
        .collect();
    let reads = c.fields.iter().zip(&locals).map(|(f, local)| {
        let name = f.key();
        let ty = f.ty;
        match f.role {
            Role::Setting(def) => {
                let key = def.key;
                let secret = f.is_secret();
                quote!(let #local = cx.value::<#ty>(#name, #private::Some(const { #private::Setting::known(#key) }), #secret);)
            }
            Role::Nested => quote!(let #local = cx.nested::<#ty>(#name);),
            Role::Skip | Role::Unknown => {
                if f.is_secret() {
                    quote!(let #local = cx.value::<#ty>(#name, #private::None, true);)
                } else {
                    quote!(let #local = cx.serde::<#ty>(#name);)
                }
            }
        }
    });
    let builds = c.fields.iter().zip(&locals).map(|(f, local)| {
        let field = f.ident;
        quote!(#field: #local?)
    });

    let applies = c.fields.iter().filter_map(|f| {
        let def = f.setting()?;
        let field = f.ident;
        let target = format_ident!("{}", def.key);
        Some(quote!(#private::Assign::assign(&self.#field, &mut options.#target);))
    });
    let instances_apply = instances_attr.map(|n| quote!(options.instances = #n;));

    // Keys the struct does not know are errors (typos), unless the schema
    // says the file is shared with other settings.
    let allow_unknown = c.allow_unknown.is_some();

    let debug_fields = c.fields.iter().map(|f| {
        let field = f.ident;
        let name = f.key();
        if f.is_secret() {
            let is_url = f.setting().is_some_and(|d| d.key == "url");
            quote!(.field(#name, &#private::Redacted(&self.#field, #is_url)))
        } else {
            quote!(.field(#name, &self.#field))
        }
    });

    quote! {
        #[automatically_derived]
        impl #private::PoolConfig for #ident {
            fn __schema() -> &'static #private::Schema {
                static SCHEMA: #private::Schema = #private::Schema {
                    type_name: #type_name,
                    env_prefix: #env_prefix,
                    file: #file,
                    file_optional: #file_optional,
                    allow_unknown: #allow_unknown,
                    instances: #instances,
                    keys: &[#(#keys),*],
                };
                &SCHEMA
            }

            fn __extract(cx: &mut #private::Extractor<'_>) -> #private::Option<Self> {
                #(#reads)*
                cx.reject_unknown(<Self as #private::PoolConfig>::__schema());
                #private::Some(Self { #(#builds),* })
            }

            fn __apply(&self, options: &mut #private::PoolOptions) {
                #instances_apply
                #(#applies)*
            }
        }

        #[automatically_derived]
        impl #private::fmt::Debug for #ident {
            fn fmt(&self, f: &mut #private::fmt::Formatter<'_>) -> #private::fmt::Result {
                f.debug_struct(#type_name)
                    #(#debug_fields)*
                    .finish()
            }
        }
    }
}

fn opt_str(value: Option<String>) -> TokenStream {
    match value {
        Some(v) => {
            let lit = syn::LitStr::new(&v, Span::call_site());
            quote!(::core::option::Option::Some(#lit))
        }
        None => quote!(::core::option::Option::None),
    }
}
