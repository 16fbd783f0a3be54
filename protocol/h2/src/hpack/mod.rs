//! HPACK, the header compression of HTTP/2 (RFC 7541).
//!
//! - [`Decoder`] decodes header blocks and lends each field to a callback as borrowed slices,
//!   enforcing the dynamic table size rules of section 4.2 and a header list size limit (RFC
//!   9113 `SETTINGS_MAX_HEADER_LIST_SIZE` accounting) while it decodes.
//! - [`Encoder`] encodes header blocks using the static table, a hash-indexed dynamic table,
//!   Huffman coding unless it is longer, and never-indexed literals for sensitive fields.
//! - [`integer`], [`huffman`] and [`table`] are the building blocks, public for tests and fuzzing.
//!
//! Everything is `no_std` + `alloc` and free of `unsafe`; no input makes the decoder panic.
//!
//! ```
//! use sockless_h2::hpack::{Decoder, DecoderError, Encoder};
//!
//! let mut encoder = Encoder::new();
//! let mut block = Vec::new();
//! encoder.encode([(":method", "GET"), (":path", "/"), ("user-agent", "demo")], &mut block);
//! // A sensitive field: sent "never indexed", kept out of the dynamic table.
//! encoder.begin_block(&mut block).field(b"x-token", b"secret", true);
//!
//! let mut decoder = Decoder::new(4096);
//! let mut fields = Vec::new();
//! decoder.decode(&block, 16 * 1024, |name: &[u8], value: &[u8], never_indexed: bool| {
//!     fields.push((name.to_vec(), value.to_vec(), never_indexed));
//!     Ok::<(), DecoderError>(())
//! })?;
//! assert_eq!(fields[0], (b":method".to_vec(), b"GET".to_vec(), false));
//! assert_eq!(fields[3], (b"x-token".to_vec(), b"secret".to_vec(), true));
//! # Ok::<(), DecoderError>(())
//! ```

mod decoder;
mod encoder;
pub mod huffman;
mod huffman_table;
pub mod integer;
pub mod table;

pub use decoder::{Decoder, DecoderError};
pub use encoder::{Block, Encoder, DEFAULT_TABLE_SIZE, DEFAULT_TABLE_SIZE_CAP, SENSITIVE_NAMES};
