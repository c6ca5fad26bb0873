//! The adaptive bound on validation pings.
//!
//! A fixed validation timeout is wrong everywhere but one network: HikariCP's
//! 5 s makes every silently dropped connection cost 5 s on loopback, while
//! 10 ms would call a healthy cross-region link dead. The pool instead learns
//! the round-trip time from the pings and connects it already does, the way
//! TCP learns its retransmission timeout (RFC 6298): a smoothed mean plus
//! four deviations, then a safety multiple, kept between a floor and a cap.
//!
//! [`ValidationBound`] is what the pool holds: the estimator behind a lock,
//! or the fixed `validation_timeout` when one is set.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::limits::AtomicDuration;

/// Never below: scheduler hiccups on a busy host are a few milliseconds.
pub(crate) const FLOOR: Duration = Duration::from_millis(10);
/// Never above: a ping slower than this is as good as dead for a user.
pub(crate) const CAP: Duration = Duration::from_secs(5);
/// Headroom over the estimate, for a loaded server or a queueing delay.
const SAFETY_FACTOR: u32 = 4;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RttEstimator {
    /// Smoothed round trip and its mean deviation, in nanoseconds.
    srtt: Option<f64>,
    rttvar: f64,
}

impl RttEstimator {
    /// Feeds one observed round trip. Connects take several round trips and
    /// are fed as they are: an overestimate only makes the bound looser.
    pub(crate) fn observe(&mut self, sample: Duration) {
        let r = sample.as_nanos() as f64;
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2.0;
            }
            Some(srtt) => {
                self.rttvar = 0.75 * self.rttvar + 0.25 * (srtt - r).abs();
                self.srtt = Some(0.875 * srtt + 0.125 * r);
            }
        }
    }

    /// The validation timeout to use now. Before any sample, the cap.
    pub(crate) fn timeout(&self) -> Duration {
        let Some(srtt) = self.srtt else {
            return CAP;
        };
        let rto = Duration::from_nanos((srtt + 4.0 * self.rttvar) as u64);
        rto.saturating_mul(SAFETY_FACTOR).clamp(FLOOR, CAP)
    }
}

/// The bound on validation pings of one pool: fixed, or learned from the
/// round trips the pool makes (pings and connects).
pub(crate) struct ValidationBound {
    /// Changes with a live reconfigure.
    fixed: AtomicDuration,
    estimator: Mutex<RttEstimator>,
}

impl ValidationBound {
    /// `fixed` set: that bound, always. `None`: learned.
    pub(crate) fn new(fixed: Option<Duration>) -> Self {
        ValidationBound {
            fixed: AtomicDuration::new(fixed),
            estimator: Mutex::new(RttEstimator::default()),
        }
    }

    /// A round trip the pool just completed.
    /// A new fixed bound, or `None` to learn it (from what was learnt so
    /// far).
    pub(crate) fn set_fixed(&self, fixed: Option<Duration>) {
        self.fixed.set(fixed);
    }

    pub(crate) fn observe(&self, sample: Duration) {
        if self.fixed.get().is_none() {
            self.estimator().observe(sample);
        }
    }

    /// The bound to give a validation ping now.
    pub(crate) fn timeout(&self) -> Duration {
        match self.fixed.get() {
            Some(fixed) => fixed,
            None => self.estimator().timeout(),
        }
    }

    fn estimator(&self) -> std::sync::MutexGuard<'_, RttEstimator> {
        // Nothing panics under this lock; a poisoned estimate is still usable.
        self.estimator
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(samples: &[u64]) -> Duration {
        let mut est = RttEstimator::default();
        for &micros in samples {
            est.observe(Duration::from_micros(micros));
        }
        est.timeout()
    }

    #[test]
    fn with_no_sample_the_cap_applies() {
        assert_eq!(RttEstimator::default().timeout(), CAP);
    }

    #[test]
    fn loopback_round_trips_give_the_floor() {
        assert_eq!(after(&[80, 100, 90, 120, 70]), FLOOR);
    }

    #[test]
    fn a_wan_link_gets_a_bound_well_above_its_round_trip() {
        let timeout = after(&[40_000, 42_000, 39_000, 45_000]);
        assert!(timeout > Duration::from_millis(160), "{timeout:?}");
        assert!(timeout < CAP, "{timeout:?}");
    }

    #[test]
    fn a_jittery_link_widens_the_bound() {
        let steady = after(&[10_000; 8]);
        let jittery = after(&[2_000, 18_000, 3_000, 17_000, 2_000, 18_000, 3_000, 17_000]);
        assert!(jittery > steady, "{jittery:?} vs {steady:?}");
    }

    #[test]
    fn a_pathological_sample_is_capped() {
        assert_eq!(after(&[60_000_000]), CAP);
    }

    #[test]
    fn a_fixed_bound_ignores_observations() {
        let fixed = ValidationBound::new(Some(Duration::from_millis(150)));
        fixed.observe(Duration::from_secs(3));
        assert_eq!(fixed.timeout(), Duration::from_millis(150));
        let learned = ValidationBound::new(None);
        assert_eq!(learned.timeout(), CAP);
        learned.observe(Duration::from_micros(100));
        assert_eq!(learned.timeout(), FLOOR);
    }
}
