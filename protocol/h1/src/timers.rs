//! A connection's timers as a small table indexed by an enum (as
//! quinn-proto keeps its `TimerTable`): each role names its timers, says in
//! one function when each is due and in one what firing it does.
//! `poll_timeout` is the earliest entry, `handle_timeout` fires the due
//! ones; no rule is written twice.
//!
//! The deadlines are read from the state they belong to (when a head
//! started, when the connection went idle, when body bytes last came)
//! rather than stored: a stored copy would have to be moved at every
//! change of that state, and a missed one is a timer that fires wrongly.

use sockless_core::Instant;

/// A role's timer table.
pub(crate) trait Timers {
    /// The timers, one variant each.
    type Timer: Copy + 'static;
    /// Every timer, in the order due ones fire.
    const ALL: &'static [Self::Timer];
    /// When `timer` is due, if it runs.
    fn deadline(&self, timer: Self::Timer) -> Option<Instant>;
    /// What `timer` does when it is due.
    fn fire(&mut self, timer: Self::Timer);
}

/// The earliest deadline of the table.
pub(crate) fn next<T: Timers>(table: &T) -> Option<Instant> {
    T::ALL.iter().filter_map(|&t| table.deadline(t)).min()
}

/// Fires every timer due at `now`, each judged after the ones before it
/// fired (a firing may stop the others).
pub(crate) fn expire<T: Timers>(table: &mut T, now: Instant) {
    for &t in T::ALL {
        if table.deadline(t).is_some_and(|at| at <= now) {
            table.fire(t);
        }
    }
}
