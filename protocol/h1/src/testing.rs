//! Helpers for the unit tests of both roles.

use alloc::vec::Vec;
use sockless_core::{Connection, Event, Instant};

/// Feeds `input` and returns every event that follows.
pub(crate) fn feed(conn: &mut impl Connection, now: Instant, input: &[u8]) -> Vec<Event> {
    let _ = conn.handle_input(now, input);
    events(conn)
}

pub(crate) use sockless_core::{poll_events as events, transmit_all as wire};

pub(crate) fn text(bytes: &[u8]) -> alloc::string::String {
    alloc::string::String::from_utf8_lossy(bytes).into_owned()
}
