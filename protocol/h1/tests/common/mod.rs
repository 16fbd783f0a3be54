//! Shared helpers for the integration tests: moving bytes, collecting and
//! normalising events.
#![allow(dead_code)]

use sockless_core::{Connection, Event, Instant, StreamId};

pub use sockless_core::transmit_all as drain;

/// Offers `input` in pieces cut at `cuts` (positions), re-offering what was
/// not taken, polling events after each piece. Stops when nothing more is
/// taken (backpressure with no application progress) or on an error.
pub fn feed_split(conn: &mut impl Connection, input: &[u8], cuts: &[usize], eof: bool) -> Vec<Event> {
    let mut events = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut pos = 0;
    'outer: for end in bounds {
        while pos < end {
            match conn.handle_input(Instant::ZERO, &input[pos..end]) {
                Ok(0) => {
                    let before = events.len();
                    events.extend(poll_all(conn));
                    if events.len() == before {
                        break 'outer;
                    }
                }
                Ok(n) => pos += n,
                Err(_) => {
                    events.extend(poll_all(conn));
                    break 'outer;
                }
            }
            events.extend(poll_all(conn));
        }
    }
    if eof {
        conn.handle_eof(Instant::ZERO);
        events.extend(poll_all(conn));
    }
    events
}

pub fn poll_all(conn: &mut impl Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Events with adjacent `Data` of one stream merged, so that different
/// chunkings of the same bytes compare equal.
pub fn normalise(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        if let Event::Data { stream, data } = &e {
            if data.is_empty() {
                continue;
            }
            if let Some(Event::Data { stream: last, data: prev }) = out.last_mut() {
                if last == stream {
                    let mut joined = prev.to_vec();
                    joined.extend_from_slice(data);
                    *prev = joined.into();
                    continue;
                }
            }
        }
        out.push(e);
    }
    out
}

pub fn data_of(events: &[Event], stream: StreamId) -> Vec<u8> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Data { stream: s, data } if *s == stream => Some(&data[..]),
            _ => None,
        })
        .collect::<Vec<_>>()
        .concat()
}
