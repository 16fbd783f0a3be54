//! Fuzzes the public request-head parser (`RequestParser`) three ways:
//!
//! * the one-pass canonical reader against httparse and the checks around
//!   it, on every prefix of the input (`check_canonical_request` panics on
//!   any disagreement: a head the fast path reads must read the same on the
//!   general path);
//! * reading in place (`parse_ref`) against taking the head (`parse`): same
//!   verdict, same head, same bytes left over;
//! * `parse_ref` fed the input in two pieces (as it arrives) against all at
//!   once: same verdict.
//!
//! Input: `[limit, split, request bytes...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockless_h1::{Config, RequestParser};

fuzz_target!(|data: &[u8]| {
    let [limit, split, input @ ..] = data else { return };
    let limit = usize::from(*limit % 8) + 1;
    for end in 0..=input.len() {
        sockless_h1::oracles::check_canonical_request(&input[..end], limit);
    }

    let mut config = Config::server();
    config.max_headers = limit;
    config.max_head_bytes = 512;

    sockless_h1::oracles::check_in_place_matches_owned(input, &config);

    let whole = RequestParser::new().parse_ref(input, &config);
    // The same bytes arriving in two reads give the same verdict.
    let at = usize::from(*split) % (input.len() + 1);
    let mut parser = RequestParser::new();
    let first = parser.parse_ref(&input[..at], &config);
    let pieces = match first {
        Ok(None) => parser.parse_ref(input, &config),
        done => done,
    };
    match (pieces, whole) {
        (Ok(Some(a)), Ok(Some(b))) => assert_eq!(a, b),
        (Ok(None), Ok(None)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        // A complete head in the first piece is a complete head of the whole.
        (a, b) => panic!("in pieces {a:?}, at once {b:?}"),
    }
});
