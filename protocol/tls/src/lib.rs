//! # sockless-tls
//!
//! TLS as one more sans-IO layer: [`Tls<C>`](Tls) runs a rustls connection
//! (ring provider, TLS 1.2 and 1.3) in front of any sockless
//! [`Connection`](sockless_core::Connection) and is itself a `Connection`, so
//! every driver carries HTTPS the way it carries HTTP. Ciphertext and time go
//! in, ciphertext and the inner connection's events come out; nothing here
//! knows a socket or a clock.
//!
//! * Server and client, ALPN (`h2`, `http/1.1`): the inner connection is made
//!   when the handshake completes, by a factory that sees the negotiated
//!   [`Handshake`] (ALPN, SNI, peer certificates), so it can pick HTTP/2 or
//!   HTTP/1.1.
//! * Client certificates both ways (mTLS), verification against the webpki
//!   roots or a given root store ([`Roots`]), a handshake timeout, and
//!   `close_notify` in both directions.
//! * Every failure is a [`TlsError`] with a [`TlsErrorKind`] that says what
//!   went wrong (unknown CA, name mismatch, no common ALPN protocol, missing
//!   client certificate, the peer's alert, timeout, ...), and the connection
//!   reports [`Event::Error`](sockless_core::Event::Error) and
//!   [`Event::Closed`](sockless_core::Event::Closed) like any protocol error.
//! * Helpers build rustls configs ([`server_config`], [`client_config`]),
//!   read PEM ([`certs_from_pem`], [`key_from_pem`]) and, with the
//!   `self-signed` feature, make a throwaway localhost certificate
//!   (`self_signed_localhost`).
//!
//! Features: `webpki-roots` (default) compiles in Mozilla's root store for
//! [`Roots::WebPki`]; `self-signed` adds `self_signed_localhost` (rcgen at
//! run time).
//!
//! ```
//! use sockless_core::{Bytes, Connection, Event, Instant, Method, RequestHead, ResponseHead};
//! use sockless_tls::{client_config, server_config, Roots, Tls, ALPN_H2, ALPN_HTTP11};
//!
//! // A self-signed certificate for "localhost" that the client trusts.
//! let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
//! let cert = ck.cert.der().clone();
//! let key = rustls::pki_types::PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()).into();
//! let server_cfg = server_config(vec![cert.clone()], key, &[ALPN_HTTP11], None).unwrap();
//! let client_cfg = client_config(Roots::from_certificates([&cert]).unwrap(), &[ALPN_H2, ALPN_HTTP11], None).unwrap();
//!
//! // HTTP/1.1 inside TLS on both ends; the factories see what was negotiated.
//! let now = Instant::ZERO;
//! let mut server = Tls::server(server_cfg, now, |hs, now| {
//!     assert_eq!(hs.alpn.as_deref(), Some(&b"http/1.1"[..]));
//!     assert_eq!(hs.sni.as_deref(), Some("localhost"));
//!     sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now)
//! })
//! .unwrap();
//! let mut client = Tls::client(client_cfg, "localhost", now, |_, now| {
//!     sockless_h1::ClientConnection::new(sockless_h1::Config::client(), now)
//! })
//! .unwrap();
//!
//! // The handshake: a few flights back and forth.
//! for _ in 0..4 {
//!     pump(&mut client, &mut server);
//!     pump(&mut server, &mut client);
//! }
//! assert_eq!(client.poll_event(), Some(Event::Ready { reusable: true }));
//!
//! // A request and its response, encrypted on the wire.
//! let req = RequestHead::new(Method::Get, "/").header("Host", "localhost");
//! let stream = client.send_request(&req, true).unwrap();
//! pump(&mut client, &mut server);
//! while let Some(event) = server.poll_event() {
//!     if let Event::Request { stream, .. } = event {
//!         server.send_response(stream, &ResponseHead::new(200).header("Content-Length", "2"), false).unwrap();
//!         server.send_data(stream, Bytes::from_static(b"hi"), true).unwrap();
//!     }
//! }
//! pump(&mut server, &mut client);
//! let events: Vec<Event> = std::iter::from_fn(|| client.poll_event()).collect();
//! assert!(matches!(&events[0], Event::Response { head, .. } if head.status == 200));
//! assert!(events.contains(&Event::Data { stream, data: Bytes::from_static(b"hi") }));
//!
//! /// Moves every queued byte from one connection to the other.
//! fn pump(from: &mut impl Connection, to: &mut impl Connection) {
//!     loop {
//!         let mut slices: [&[u8]; 8] = [&[]; 8];
//!         let n = from.poll_transmit(&mut slices);
//!         if n == 0 { break; }
//!         let bytes = slices[..n].concat();
//!         from.advance_transmit(bytes.len());
//!         to.handle_input(Instant::ZERO, &bytes).unwrap();
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod error;
mod setup;

pub use conn::{Config, Handshake, Tls};
pub use error::{TlsError, TlsErrorKind};
/// rustls itself, to build configs by hand and name its types.
pub use rustls;
#[cfg(feature = "self-signed")]
pub use setup::self_signed_localhost;
pub use setup::{
    certs_from_pem, client_config, key_from_pem, provider, server_config, CertifiedKey, Roots, ALPN_H2, ALPN_HTTP11,
};
pub use sockless_core;
