//! # sockless-examples
//!
//! Runnable examples. [`blocking`] is a complete driver in a few dozen lines:
//! a `std::net::TcpStream` (or any `Read + Write`) pumped through any
//! [`sockless_core::Connection`], in the order the contract prescribes.
//!
//! ```no_run
//! use sockless_examples::blocking::{serve, Handler};
//! use sockless_core::{Bytes, RequestHead, ResponseHead};
//!
//! struct Hello;
//! impl Handler for Hello {
//!     fn handle(&mut self, _req: &RequestHead, _body: &[u8]) -> (ResponseHead, Bytes) {
//!         (ResponseHead::new(200).header("Content-Type", "text/plain"), Bytes::from_static(b"Hello, World!"))
//!     }
//! }
//! let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
//! serve(listener, || Hello);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
pub mod cli;
