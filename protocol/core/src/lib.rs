//! # sockless-core
//!
//! The shared vocabulary of sockless: request and response heads whose header
//! lists keep order, case and repeated names; [`StreamId`]; [`Instant`] as a
//! plain value; the [`Event`] enum that HTTP/1.1 and HTTP/2 both emit; errors
//! that carry what the peer is told; and the [`Connection`] trait every
//! protocol implements and every driver drives. `no_std` + `alloc`; the
//! default `http` feature adds conversions to and from the `http` crate.
//!
//! ```
//! use sockless_core::{Method, RequestHead, ResponseHead, Version};
//!
//! let req = RequestHead::new(Method::Get, "/index.html").header("Host", "example.com");
//! assert!(req.validate().is_ok());
//! assert_eq!(req.headers.get("host"), Some(&b"example.com"[..]));
//!
//! let bad = ResponseHead::new(200).header("X-Evil", "a\r\nInjected: yes");
//! assert!(bad.validate().is_err()); // nothing is silently rewritten
//! # let _ = Version::Http11;
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod buffer_in;
mod buffer_out;
mod connection;
pub mod cycle;
mod error;
mod event;
mod head;
mod header;
#[cfg(feature = "http")]
mod http_compat;
mod stream;
mod time;

pub use buffer_in::InputBuffer;
pub use buffer_out::TransmitQueue;
pub use bytes::{Bytes, BytesMut};
pub use connection::{Connection, TlsFacts};
pub use cycle::{poll_events, transmit_all};
pub use error::{Answer, Error, ErrorCode, ProtocolError, ProtocolErrorKind, UserError};
pub use event::{CloseReason, Event};
pub use head::{
    canonical_reason, is_tchar, response_has_content, validate_field, validate_fields, Method, RequestHead,
    ResponseHead, Version,
};
pub use header::{HeaderList, Iter as HeaderIter};
#[cfg(feature = "http")]
pub use http_compat::ConversionError;
pub use stream::StreamId;
pub use time::{earliest, Duration, Instant};
