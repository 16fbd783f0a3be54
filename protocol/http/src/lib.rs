//! # sockless-http
//!
//! One [`Connection`] that is HTTP/1.1 or HTTP/2 underneath, chosen the way
//! servers and clients meet in the field:
//!
//! * [`ServerConnection::cleartext`]: reads the first bytes; the HTTP/2
//!   connection preface means HTTP/2 with prior knowledge, a first line
//!   that is an HTTP/1.x request line means HTTP/1.1 — which switches to
//!   HTTP/2 when a request asks for `Upgrade: h2c` with `HTTP2-Settings`
//!   (answered `101` by this crate, the request becoming HTTP/2 stream 1).
//!   Anything else is an invalid preface: GOAWAY(PROTOCOL_ERROR) and close
//!   (RFC 9113 section 3.4).
//! * [`ServerConnection::for_alpn`] / [`ClientConnection::for_alpn`]: the
//!   protocol TLS negotiated (`h2` or `http/1.1`).
//! * [`ClientConnection::http1`] / [`ClientConnection::prior_knowledge`].
//!
//! Applications see the same events either way.
//!
//! ```
//! use sockless_core::{Connection, Event, Instant};
//! use sockless_http::{Protocol, ServerConnection, ServerConfig};
//!
//! let mut conn = ServerConnection::cleartext(ServerConfig::default(), Instant::ZERO);
//! conn.handle_input(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
//! assert_eq!(conn.protocol(), Some(Protocol::Http1));
//! assert!(matches!(conn.poll_event(), Some(Event::Request { .. })));
//! ```

mod client;
mod server;
mod unfed;

pub use client::ClientConnection;
pub use server::{ServerConfig, ServerConnection};
pub use sockless_core::Connection;

/// The protocol a connection speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (and 1.0).
    Http1,
    /// HTTP/2.
    Http2,
}

impl Protocol {
    /// The protocol for an ALPN identifier (`h2` or `http/1.1`; anything
    /// else, or none, is HTTP/1.1).
    pub fn from_alpn(alpn: Option<&[u8]>) -> Protocol {
        match alpn {
            Some(b"h2") => Protocol::Http2,
            _ => Protocol::Http1,
        }
    }

    /// The ALPN identifiers a server or client offers, most preferred first.
    pub const ALPN: [&'static [u8]; 2] = [b"h2", b"http/1.1"];
}

/// Delegates every `Connection` method to whichever protocol is in use.
macro_rules! delegate {
    ($self:ident, $c:ident => $e:expr, $detecting:expr) => {
        match &mut $self.inner {
            Inner::H1($c) => $e,
            Inner::H2($c) => $e,
            #[allow(unreachable_patterns)]
            _ => $detecting,
        }
    };
}
pub(crate) use delegate;
