//! Time as a plain value.
//!
//! Protocol code never reads a clock: drivers pass `now` into every call that
//! may start or check a timer. [`Instant`] is a count of nanoseconds since an
//! epoch the driver chooses (process start, boot, or zero in a simulation), so
//! it is `no_std`, `Copy`, totally ordered and trivially serialisable.

use core::ops::{Add, Sub};
pub use core::time::Duration;

/// A point in time, in nanoseconds since an epoch the driver chooses.
///
/// ```
/// use sockless_core::{Duration, Instant};
/// let t0 = Instant::from_nanos(1_000);
/// let t1 = t0 + Duration::from_secs(1);
/// assert_eq!(t1 - t0, Duration::from_secs(1));
/// assert_eq!(t0 - t1, Duration::ZERO); // saturates, never panics
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    /// An instant `millis` milliseconds after the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Instant(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero when `earlier` is later.
    #[inline]
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the largest representable instant.
    #[inline]
    pub fn saturating_add(self, d: Duration) -> Instant {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Sub for Instant {
    type Output = Duration;
    #[inline]
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// The earlier of two optional deadlines (`None` means "no deadline").
#[inline]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let max = Instant::from_nanos(u64::MAX);
        assert_eq!(max + Duration::from_secs(1), max);
        assert_eq!(Instant::ZERO - max, Duration::ZERO);
        assert_eq!(Instant::from_millis(3).as_nanos(), 3_000_000);
    }

    #[test]
    fn earliest_of_deadlines() {
        let a = Some(Instant::from_nanos(5));
        let b = Some(Instant::from_nanos(3));
        assert_eq!(earliest(a, b), b);
        assert_eq!(earliest(a, None), a);
        assert_eq!(earliest(None, None), None);
    }
}
