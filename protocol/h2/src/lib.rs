//! # sockless-h2
//!
//! HTTP/2 (RFC 9113) as a pure state machine: bytes and time in, events and
//! bytes out. [`H2Connection`] implements [`sockless_core::Connection`] in
//! both roles and emits the same events as sockless-h1, so one application
//! serves both. Underneath: [`frame`], the zero-copy frame codec, and
//! [`hpack`], an RFC 7541 implementation written for this crate (conformant
//! on every hpack-test-case story, bounded against HPACK bombs).
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
//!
//! See [`H2Connection`] for a client and a server talking to each other.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod conn;
pub mod frame;
pub mod hpack;

pub use conn::{decode_settings_header, settings_header_value, Config, H2Connection, Role};
