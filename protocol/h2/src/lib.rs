//! # sockless-h2
//!
//! HTTP/2 as a pure state machine (in progress). This release carries the
//! RFC 7541 HPACK module, [`hpack`]; the frame codec and connection follow.
//!
//! ```
//! use sockless_h2::hpack::{Decoder, DecoderError, Encoder};
//!
//! let mut block = Vec::new();
//! Encoder::new().encode([(":status", "200")], &mut block);
//! assert_eq!(block, [0x88]);
//! Decoder::new(4096).decode(&block, 8192, |name: &[u8], value: &[u8], _| {
//!     assert_eq!((name, value), (&b":status"[..], &b"200"[..]));
//!     Ok::<(), DecoderError>(())
//! })?;
//! # Ok::<(), DecoderError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod frame;
pub mod hpack;
