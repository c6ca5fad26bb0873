//! Procedural macros for [`pool-runtime`](https://docs.rs/pool-runtime).
//!
//! Do not depend on this crate directly: `pool-runtime` re-exports its macros
//! (feature `derive`, on by default) and pins this crate's exact version, so
//! the generated code and the runtime it refers to always match.
//!
//! The derive works in three steps, each in its own module: the attributes
//! are parsed (`attr`), the model is checked as a whole (`valid`), and
//! code is generated (`expand`). Every problem found is reported, each on
//! the token that caused it, together with a stand-in impl (`fallback`) so
//! that the compiler shows those problems and not a cascade of missing
//! methods. What a setting is (its type, bounds, default rules) comes from
//! the settings table of `pool-settings`, which the runtime reads too.

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Turns a config struct into a pool builder: loading from defaults, a YAML
/// file and environment variables, a `Debug` that hides secrets, and
/// `connect()`. See `pool_runtime::config` for the attributes and an example.
///
/// The derive writes the struct's `Debug` itself (so that the URL's password
/// and `#[pool(secret)]` fields never print): do not derive `Debug` as well.
#[proc_macro_derive(PoolConfig, attributes(pool))]
pub fn derive_pool_config(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(|errors| {
            let mut out = errors.to_compile_error();
            out.extend(fallback::expand(&input));
            out
        })
        .into()
}
