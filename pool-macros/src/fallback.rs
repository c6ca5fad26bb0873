//! What the derive emits beside its errors: impls that make the struct a
//! `PoolConfig` (and `Debug`) in name only, so that the compiler reports the
//! real problems and not, on top of them, every `DbConfig::load()` call as a
//! missing method (thiserror does the same). The bodies never run: the
//! errors stop the build.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr};

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let krate = crate_path(input).unwrap_or_else(|| quote!(::pool_runtime));
    let private = quote!(#krate::__private);
    let ident = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #private::PoolConfig for #ident #type_generics #where_clause {
            fn __schema() -> &'static #private::Schema {
                ::core::unreachable!()
            }

            fn __extract(_: &mut #private::Extractor<'_>) -> #private::Option<Self> {
                ::core::unreachable!()
            }

            fn __apply(&self, _: &mut #private::PoolOptions) {
                ::core::unreachable!()
            }
        }

        #[automatically_derived]
        impl #impl_generics #private::fmt::Debug for #ident #type_generics #where_clause {
            fn fmt(&self, _: &mut #private::fmt::Formatter<'_>) -> #private::fmt::Result {
                ::core::unreachable!()
            }
        }
    }
}

/// `#[pool(crate = "...")]`, read leniently: whatever else is wrong with the
/// attributes was reported already.
fn crate_path(input: &DeriveInput) -> Option<TokenStream> {
    let mut found = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("pool")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: LitStr = meta.value()?.parse()?;
                found = path.parse::<syn::Path>().ok().map(|p| quote!(#p));
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}
