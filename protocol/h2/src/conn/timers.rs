//! The connection's timers as one small table, one deadline per [`Timer`]: a rule sets its
//! deadline when the thing it waits for starts and stops it when that thing happens;
//! `poll_timeout` is the earliest deadline and `handle_timeout` fires those that passed.
//! No deadline is computed in two places.

use sockless_core::Instant;

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Our SETTINGS are not acknowledged yet (`Config::settings_timeout`).
    SettingsAck,
    /// Our PING is not answered yet (`Config::ping_timeout`).
    PingAck,
    /// No input for `Config::keepalive_interval`: time to PING.
    Keepalive,
    /// No stream open for `Config::idle_timeout`: time to GOAWAY.
    Idle,
    /// The first GOAWAY of a graceful shutdown went out; the final one follows the PING's
    /// answer or this (`Config::goaway_grace`).
    GoawayGrace,
    /// The final GOAWAY went out; streams still open get `Config::shutdown_timeout`.
    Drain,
}

impl Timer {
    /// Every timer, in the order expired ones fire (the failures first).
    pub(crate) const ALL: [Timer; 6] =
        [Timer::SettingsAck, Timer::PingAck, Timer::Keepalive, Timer::Idle, Timer::GoawayGrace, Timer::Drain];
}

/// One deadline per [`Timer`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Timers([Option<Instant>; Timer::ALL.len()]);

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.0[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.0[timer as usize] = None;
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// Stops `timer` and returns `true` if its deadline is at or before `now`.
    pub(crate) fn take_expired(&mut self, timer: Timer, now: Instant) -> bool {
        let slot = &mut self.0[timer as usize];
        if slot.is_some_and(|at| at <= now) {
            *slot = None;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockless_core::Duration;

    #[test]
    fn earliest_deadline_and_only_expired_ones_fire() {
        let t = |s| Instant::ZERO + Duration::from_secs(s);
        let mut timers = Timers::default();
        assert_eq!(timers.next(), None);
        timers.set(Timer::Drain, t(30));
        timers.set(Timer::SettingsAck, t(10));
        assert_eq!(timers.next(), Some(t(10)));
        assert!(!timers.take_expired(Timer::Drain, t(10)));
        assert!(timers.take_expired(Timer::SettingsAck, t(10)));
        assert!(!timers.take_expired(Timer::SettingsAck, t(100)), "fired once");
        assert_eq!(timers.next(), Some(t(30)));
        timers.stop(Timer::Drain);
        assert_eq!(timers.next(), None);
    }
}
