//! Holds the compile-time tests of `#[derive(PoolConfig)]` (`tests/ui`,
//! run by `tests/derive_ui.rs` with trybuild). The crate has no code: it is
//! a package of its own only so that trybuild builds the cases against
//! `pool-runtime` with the `derive` feature alone, instead of against the
//! workspace package's many dev-dependencies.

#![forbid(unsafe_code)]
