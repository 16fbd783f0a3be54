//! Helpers for the unit tests of both roles.

use alloc::vec::Vec;
use sockless_core::{Connection, Event, Instant};

/// Feeds `input` and returns every event that follows.
pub(crate) fn feed(conn: &mut impl Connection, now: Instant, input: &[u8]) -> Vec<Event> {
    let _ = conn.handle_input(now, input);
    events(conn)
}

pub(crate) fn events(conn: &mut impl Connection) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(e) = conn.poll_event() {
        out.push(e);
    }
    out
}

/// Everything queued for transmission, marked as written.
pub(crate) fn wire(conn: &mut impl Connection) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        let mut slices: [&[u8]; 16] = [&[]; 16];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            break;
        }
        let chunk = slices[..n].concat();
        conn.advance_transmit(chunk.len());
        all.extend_from_slice(&chunk);
    }
    all
}

pub(crate) fn text(bytes: &[u8]) -> alloc::string::String {
    alloc::string::String::from_utf8_lossy(bytes).into_owned()
}
