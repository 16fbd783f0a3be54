//! Fuzzes `sockless_h2::hpack::Decoder` on one block with a fresh decoder
//! and random limits. Differential: the same block through a clone without
//! a header list limit must give the same fields (a prefix when the limit
//! was hit), the same compression error, and the same dynamic table.
//!
//! Input: `[table_size, list_limit, block...]`.
#![no_main]

#[path = "common.rs"]
mod common;
#[path = "h2_common.rs"]
mod h2_common;

use h2_common::{check, list_limit, table_size};
use libfuzzer_sys::fuzz_target;
use sockless_h2::hpack::Decoder;

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let mut d = Decoder::new(table_size(input[0]));
    let r = check(&mut d, &input[2..], list_limit(input[1]));
    if r.is_ok() {
        assert!(d.table().max_size() <= table_size(input[0]));
    }
});
