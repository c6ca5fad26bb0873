//! The MySQL pool's side of the metrics (feature `metrics`): its name, its
//! boot findings, and the exec path's counters. Without the feature every
//! item here is empty and inlines to nothing.

#[cfg(feature = "metrics")]
use std::sync::Arc;

use super::MySqlManager;
use crate::boot::Report;
use crate::options::PoolOptions;
use crate::pool::{GenericPool, Limits, PoolError};

#[cfg(feature = "metrics")]
use crate::metrics::{PoolMetrics, RetryKind};

/// The pool's name in metrics: `pool_name`, else `host:port/db` from the
/// URL (OpenTelemetry's `server.address:server.port/db.namespace`), with no
/// user or password.
#[cfg(any(feature = "metrics", test))]
pub(crate) fn pool_name(options: &PoolOptions) -> String {
    if let Some(name) = options.pool_name.as_deref().filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    let Some(url) = &options.url else {
        return String::new();
    };
    let opts = url.opts();
    let host = opts.ip_or_hostname();
    // The driver keeps an IPv6 host in brackets already.
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    match opts.db_name() {
        Some(db) if !db.is_empty() => format!("{host}:{}/{db}", opts.tcp_port()),
        _ => format!("{host}:{}", opts.tcp_port()),
    }
}

/// The exec path's link to the pool's metrics (nothing without the
/// feature, or for a pool built without metrics).
#[derive(Debug, Default)]
pub(crate) struct ExecMetrics {
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<PoolMetrics>>,
}

impl ExecMetrics {
    #[cfg(feature = "metrics")]
    #[inline]
    fn with(&self, f: impl FnOnce(&PoolMetrics)) {
        if let Some(metrics) = &self.metrics {
            f(metrics);
        }
    }

    #[inline]
    pub(crate) fn bad_conn_retry(&self) {
        #[cfg(feature = "metrics")]
        self.with(|m| m.retry(RetryKind::BadConn));
    }

    #[inline]
    pub(crate) fn read_retry(&self) {
        #[cfg(feature = "metrics")]
        self.with(|m| m.retry(RetryKind::Read));
    }

    #[inline]
    pub(crate) fn new_conn_attempt(&self) {
        #[cfg(feature = "metrics")]
        self.with(|m| m.retry(RetryKind::NewConnection));
    }

    #[inline]
    pub(crate) fn read_only_retry(&self) {
        #[cfg(feature = "metrics")]
        self.with(|m| m.retry(RetryKind::ReadOnly));
    }

    #[inline]
    pub(crate) fn maybe_executed(&self) {
        #[cfg(feature = "metrics")]
        self.with(PoolMetrics::maybe_executed);
    }

    #[inline]
    pub(crate) fn statement_timeout(&self) {
        #[cfg(feature = "metrics")]
        self.with(PoolMetrics::statement_timeout);
    }
}

/// Starts the pool core, observed by the pool's metrics when the feature is
/// on and `enabled`: registered now, with the recorder current now, and
/// counting the boot report's findings.
pub(crate) fn start_core(
    manager: MySqlManager,
    options: &PoolOptions,
    report: &Report,
    enabled: bool,
) -> Result<(GenericPool<MySqlManager>, ExecMetrics), PoolError<mysql_async::Error>> {
    let limits = Limits::from(options);
    #[cfg(feature = "metrics")]
    if enabled {
        let metrics = PoolMetrics::register(&pool_name(options));
        metrics.boot_findings(report.findings.iter().map(|f| f.code.as_str()));
        let core = GenericPool::with_observer(manager, limits, metrics.clone())?;
        let exec = ExecMetrics {
            metrics: Some(metrics),
        };
        return Ok((core, exec));
    }
    let _ = (report, enabled);
    Ok((GenericPool::new(manager, limits)?, ExecMetrics::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(url: &str, name: Option<&str>) -> String {
        let mut options = PoolOptions::from_url(url).unwrap();
        options.pool_name = name.map(str::to_owned);
        pool_name(&options)
    }

    #[test]
    fn the_name_is_the_setting_else_host_port_db_without_credentials() {
        assert_eq!(
            named("mysql://app:s3cret@db.internal:3307/shop", None),
            "db.internal:3307/shop"
        );
        assert_eq!(
            named("mysql://app:s3cret@db.internal/shop", None),
            "db.internal:3306/shop"
        );
        assert_eq!(
            named("mysql://app:s3cret@10.0.0.5:3306", None),
            "10.0.0.5:3306"
        );
        assert_eq!(
            named("mysql://app:s3cret@[::1]:3306/shop", None),
            "[::1]:3306/shop"
        );
        assert_eq!(
            named("mysql://app:s3cret@db.internal/shop", Some("orders")),
            "orders"
        );
        assert_eq!(
            named("mysql://app:s3cret@db.internal/shop", Some("")),
            "db.internal:3306/shop"
        );
        // Credentials never reach a metric's labels.
        let name = named("mysql://app:s3cret@db.internal/shop", None);
        assert!(!name.contains("s3cret") && !name.contains("app"), "{name}");
    }
}
