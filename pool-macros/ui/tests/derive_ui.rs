//! Compile-time behaviour of `#[derive(PoolConfig)]`: what it accepts, and
//! the error (message and span) for each mistake it rejects.
//!
//! Regenerate the expected output after a deliberate message change with
//! `TRYBUILD=overwrite cargo test -p pool-derive-ui`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
