//! Loading a `#[derive(PoolConfig)]` struct: defaults < YAML file < environment,
//! where each value came from, and a clear error (never a panic) for every
//! kind of bad input, all problems at once.
//!
//! Every test that reads files or the environment runs inside a
//! `figment::Jail`: tests are serialised, the working directory is a fresh
//! temporary one, and the environment is restored afterwards.

#![allow(clippy::result_large_err)]

mod helpers;
mod in_code;
mod types;

mod bad_values;
mod durations;
mod files;
mod keys_and_template;
mod nested;
mod options;
mod precedence;
mod properties;
mod tls;
mod unknown_keys;
mod urls;
