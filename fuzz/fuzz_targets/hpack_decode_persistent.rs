//! Fuzzes one `sockless_h2::hpack::Decoder` over a sequence of blocks, with
//! changes of our SETTINGS_HEADER_TABLE_SIZE between them (one, or two in a
//! row, so that the "smallest since" rule of RFC 7541 section 4.2 is hit).
//! Every block is also decoded by a clone without a header list limit: the
//! same fields (a prefix when the limit was hit), the same errors, the same
//! dynamic table afterwards. Stops at the first compression error.
//!
//! Input: `[table_size, list_limit, (op, len, block[len])...]`; `op & 3`:
//! 1 = one size change `SIZES[op >> 2 & 7]`, 2 = two changes (then
//! `SIZES[op >> 5]`), otherwise none.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "h2_common.rs"]
mod h2_common;

use h2_common::{check, list_limit, table_size};
use libfuzzer_sys::fuzz_target;
use sockless_h2::hpack::Decoder;

const SIZES: [usize; 8] = [0, 32, 64, 100, 256, 4096, 8192, 65536];

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let mut d = Decoder::new(table_size(input[0]));
    let limit = list_limit(input[1]);
    let mut rest = &input[2..];
    let mut smallest_since: Option<usize> = None;
    while rest.len() >= 2 {
        let (op, len) = (rest[0], usize::from(rest[1]));
        let block = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        let mut set = |d: &mut Decoder, s: usize| {
            d.set_max_table_size(s);
            assert_eq!(d.max_table_size(), s);
            smallest_since = Some(smallest_since.map_or(s, |m: usize| m.min(s)));
        };
        match op & 3 {
            1 => set(&mut d, SIZES[usize::from(op >> 2) & 7]),
            2 => {
                set(&mut d, SIZES[usize::from(op >> 2) & 7]);
                set(&mut d, SIZES[usize::from(op >> 5)]);
            }
            _ => {}
        }
        let before = d.table().max_size();
        let result = check(&mut d, block, limit);
        if common::debug() {
            eprintln!(
                "op {op:#x} block {block:02x?}: {result:?}, table {} / {}",
                d.table().size(),
                d.table().max_size()
            );
        }
        match result {
            Ok(()) => {
                // Size updates never exceed the setting; after a lowered
                // setting the block had to bring the table down to it.
                let now = d.table().max_size();
                assert!(now <= d.max_table_size().max(before), "table grew to {now} past the setting");
                if smallest_since.take().is_some_and(|m| m < before) {
                    assert!(now <= d.max_table_size(), "a lowered size was not applied: {now}");
                }
            }
            Err(_) => return,
        }
    }
});
