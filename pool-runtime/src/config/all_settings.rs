//! `PoolOptions` itself as a config type: every setting of the table is a
//! key, absent keys keep their table defaults.
//!
//! This is what `pool-doctor` loads, and what a service loads when it wants
//! every setting configurable without writing a struct:
//!
//! ```
//! use pool_runtime::PoolConfig;
//! use pool_runtime::config::Yaml;
//! use pool_runtime::figment::{Figment, providers::Format};
//!
//! let figment = Figment::from(Yaml::string("max_open: 20\nmax_idle_time: 4m\n"));
//! let options = pool_runtime::PoolOptions::load_from(figment)?;
//! assert_eq!(options.max_open, 20);
//! assert_eq!(options.max_idle, 2); // the table's default
//! # Ok::<(), pool_runtime::ConfigError>(())
//! ```

use std::time::Duration;

use pool_settings::Setting;

use super::PoolConfig;
use super::extract::Extractor;
use super::schema::{DefaultLit, KeySpec, Schema};
use std::path::PathBuf;

use crate::options::{PoolOptions, ResetPolicy, Role, SslMode};
use crate::policy::BootPolicy;
use crate::url::DatabaseUrl;

macro_rules! options_config {
    ($(
        $(#[doc = $doc:literal])*
        $key:ident : $ty:ty = $default:expr, kind $kind:expr, unit $unit:literal;
    )*) => {
        static SCHEMA: Schema = Schema {
            type_name: "PoolOptions",
            env_prefix: None,
            file: None,
            file_optional: false,
            allow_unknown: false,
            instances: None,
            keys: &[$(
                KeySpec {
                    name: stringify!($key),
                    setting: Some(Setting::known(stringify!($key))),
                    default: Some(DefaultLit::Table),
                    secret: Setting::known(stringify!($key)).is_secret(),
                    doc: concat!($($doc, "\n"),*),
                    type_name: stringify!($ty),
                    nested: None,
                },
            )*],
        };

        impl PoolConfig for PoolOptions {
            fn __schema() -> &'static Schema {
                &SCHEMA
            }

            fn __extract(cx: &mut Extractor<'_>) -> Option<Self> {
                PoolOptions::extract_over(PoolOptions::default(), cx)
            }

            fn __apply(&self, options: &mut PoolOptions) {
                options.clone_from(self);
            }
        }

        impl PoolOptions {
            /// The keys present at the extractor's level, over `base`: absent
            /// keys keep `base`'s values (a cluster's `replica` section over
            /// its primary's settings).
            pub(crate) fn extract_over(mut options: PoolOptions, cx: &mut Extractor<'_>) -> Option<PoolOptions> {
                let mut complete = true;
                $(
                    match cx.if_present::<$ty>(const { Setting::known(stringify!($key)) }) {
                        Ok(Some(value)) => options.$key = value,
                        Ok(None) => {}
                        Err(()) => complete = false,
                    }
                )*
                cx.reject_unknown(&SCHEMA);
                complete.then_some(options)
            }
        }
    };
}
pool_settings::settings_table!(options_config);
