//! Boot: what `connect()` checks before a pool is handed to the service.

mod error;

pub use error::BootError;
