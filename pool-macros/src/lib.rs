//! Procedural macros for [`pool-runtime`](https://docs.rs/pool-runtime).
//!
//! Do not depend on this crate directly: `pool-runtime` re-exports its macros
//! (feature `derive`, on by default) and pins this crate's exact version, so
//! the generated code and the runtime it refers to always match.
