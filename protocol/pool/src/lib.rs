//! # sockless-pool
//!
//! The client hub as a sans-IO state machine: many callers share a few
//! persistent connections per origin, and the hub decides which connection
//! carries which request, when to dial, when to close, when a retry is safe
//! and when a timeout fires. It owns no socket, no runtime and no clock;
//! `no_std` + `alloc`. Requests, connection events and time go in
//! (`submit`, `handle_*`), [`Action`]s and the next deadline come out
//! ([`Hub::poll_action`], [`Hub::poll_timeout`]); the driver does the IO.
//!
//! The rules, each a field of [`Config`] with its default:
//!
//! * at most 4 connections per [`Origin`] (connecting, busy and idle
//!   together) and 8 origins with connections (the least recently used
//!   all-idle origin is closed for a new one); beyond them requests wait in
//!   a FIFO queue per origin, with an optional pool-wait timeout;
//! * HTTP/1.1: one exchange per connection, a dial per waiting request up
//!   to the cap, the most recently used idle connection first, idle
//!   connections closed after 15 s, an idle connection's EOF retires it;
//! * HTTP/2: one dial at a time per origin, streams up to the peer's limit,
//!   a second connection beyond it; GOAWAY drains a connection and retries
//!   the requests above its last stream elsewhere;
//! * retries (at most 2) only where safe (see [`Outcome`]), counted in
//!   [`Stats::retries`] and announced as [`Action::Retry`];
//! * connect backoff (off by default; 1, 2, 4 … 32 s), connect, TLS
//!   handshake, response-head, read-idle and total timeouts ([`Timeouts`]);
//!   response head and body size caps.
//!
//! ```
//! use sockless_core::Instant;
//! use sockless_pool::{Action, Config, Hub, Origin, Outcome, Protocol, RequestOptions};
//!
//! let mut hub = Hub::new(Config::default());
//! let origin = Origin::http("example.com", 80);
//! let t = Instant::ZERO;
//!
//! // A request for a new origin: the hub asks for a connection.
//! let req = hub.submit(t, &origin, RequestOptions::idempotent());
//! let Some(Action::Connect { conn, .. }) = hub.poll_action() else { panic!() };
//!
//! // The driver connected: the request is assigned to it.
//! hub.handle_connected(t, conn, Protocol::Http1);
//! assert_eq!(hub.poll_action(), Some(Action::Assign { request: req, conn }));
//!
//! // The exchange finished and the connection is reusable: it idles, and
//! // the next request to the origin reuses it without a dial.
//! hub.handle_response_head(t, req, 120);
//! hub.handle_outcome(t, req, Outcome::Complete);
//! hub.handle_ready(t, conn);
//! let next = hub.submit(t, &origin, RequestOptions::idempotent());
//! assert_eq!(hub.poll_action(), Some(Action::Assign { request: next, conn }));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod config;
mod error;
mod hub;
mod origin;

pub use config::{Backoff, Config, Timeouts};
pub use error::{Error, Outcome, RetryReason};
pub use hub::{Action, CloseReason, ConnId, Hub, Protocol, ProtocolChoice, RequestId, RequestOptions, Stats};
pub use origin::{Origin, Scheme};
pub use sockless_core::{Duration, Instant};
