//! YAML for figment, through a maintained parser.
//!
//! figment's own `yaml` feature uses `serde_yaml`, which is archived. This
//! plugs `serde_norway` (a maintained continuation of it) into figment as a
//! [`Format`], so `Yaml::file_exact(path)` works like figment's providers.

use figment::providers::Format;
use serde::de::DeserializeOwned;

/// The YAML [`Format`] used for config files.
///
/// ```
/// use pool_runtime::config::Yaml;
/// use pool_runtime::figment::{Figment, providers::Format};
///
/// let figment = Figment::from(Yaml::string("max_open: 20\nmax_lifetime: 10m\n"));
/// let max_open: u32 = figment.extract_inner("max_open").unwrap();
/// assert_eq!(max_open, 20);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Yaml;

impl Format for Yaml {
    type Error = serde_norway::Error;

    const NAME: &'static str = "YAML";

    fn from_str<T: DeserializeOwned>(string: &str) -> Result<T, Self::Error> {
        serde_norway::from_str(string)
    }
}
