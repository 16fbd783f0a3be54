//! # sockless-h1
//!
//! HTTP/1.1 as a pure state machine: bytes and time in, events and bytes
//! out, no sockets, no clock, no runtime. `no_std` + `alloc`.
//!
//! * [`ServerConnection`] reads requests (pipelined, parsed ahead) and
//!   writes responses strictly in order, with `Expect: 100-continue`,
//!   Upgrade / CONNECT hand-over, keep-alive and HTTP/1.0.
//! * [`ClientConnection`] writes requests and reads responses, with 1xx,
//!   HEAD / 204 / 304, close-delimited bodies and trailers.
//! * Parsing is strict by default (RFC 9110 / 9112): the gaps request
//!   smuggling lives in are refused with the right status (400, 413, 414,
//!   431, 501, 505) and `Connection: close`. See `docs/h1.md`.
//! * Bodies are `Bytes` slices of the receive buffer, never copied; heads
//!   are one slice plus offsets; output is offered as vectored slices.
//!
//! Both implement [`sockless_core::Connection`], so every sockless driver
//! carries them. [`RequestParser`] is the server's strict head parser on its
//! own, for code that handles connections itself.
//!
//! ```
//! use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead};
//! use sockless_h1::{ClientConnection, Config, ServerConnection};
//!
//! let now = Instant::ZERO;
//! let mut client = ClientConnection::new(Config::client(), now);
//! let mut server = ServerConnection::new(Config::server(), now);
//!
//! // The client writes a request with a body...
//! let req = RequestHead::new(Method::Post, "/echo").header("Host", "example.com");
//! let stream = client.send_request(&req, false).unwrap();
//! client.send_data(stream, Bytes::from_static(b"ping"), true).unwrap();
//! pump(&mut client, &mut server, now);
//!
//! // ...the server reads it and answers...
//! let mut body = Vec::new();
//! while let Some(event) = server.poll_event() {
//!     match event {
//!         Event::Request { stream, .. } => server.read_body(stream).unwrap(),
//!         Event::Data { data, .. } => body.extend_from_slice(&data),
//!         Event::EndStream { stream } => {
//!             server.send_response(stream, &ResponseHead::new(200), false).unwrap();
//!             server.send_data(stream, Bytes::from(body.clone()), true).unwrap();
//!         }
//!         _ => {}
//!     }
//! }
//! pump(&mut server, &mut client, now);
//!
//! // ...and the client reads the response.
//! assert!(matches!(client.poll_event(), Some(Event::Response { head, .. }) if head.status == 200));
//! assert!(matches!(client.poll_event(), Some(Event::Data { data, .. }) if &data[..] == b"ping"));
//!
//! /// Moves every queued byte from one connection to the other.
//! fn pump(from: &mut impl Connection, to: &mut impl Connection, now: Instant) {
//!     loop {
//!         let mut slices: [&[u8]; 8] = [&[]; 8];
//!         let n = from.poll_transmit(&mut slices);
//!         if n == 0 { break; }
//!         let bytes = slices[..n].concat();
//!         to.handle_input(now, &bytes).unwrap();
//!         from.advance_transmit(bytes.len());
//!     }
//! }
//! ```
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod body;
pub mod chunked;
mod client;
mod config;
mod encode;
mod fields;
#[cfg(feature = "testing")]
pub mod oracles;
mod parse;
mod plumbing;
mod request;
mod rules;
mod server;
mod timers;

pub use client::ClientConnection;
pub use config::{Config, MAX_HEADERS_CAP};
pub use request::{BodyLength, ParsedRequest, ParsedRequestRef, RequestHeadRef, RequestParser};
pub use server::ServerConnection;
pub use sockless_core;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod server_tests;
#[cfg(test)]
mod testing;
