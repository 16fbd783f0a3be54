//! What a server knows about a connection, handed to every request on it:
//! its addresses, what TLS negotiated, and state the application attached
//! when the connection was made.

use http::Extensions;
use sockless_core::{Instant, TlsFacts};
use std::net::SocketAddr;

/// An accepted connection, as [`serve_with`](crate::serve_with)'s
/// `make_connection` sees it before the protocol connection exists: where it
/// comes from, and a typed map for per-connection state that every request
/// on it then carries ([`ConnectionInfo::extensions`]).
#[derive(Debug)]
pub struct Accept {
    /// The instant to create the protocol connection at (on the clock the
    /// driver then keeps feeding it).
    pub now: Instant,
    /// The peer's address.
    pub peer_addr: SocketAddr,
    /// Our address of this connection, when the transport tells.
    pub local_addr: Option<SocketAddr>,
    /// Per-connection state for the application (a session, an identity
    /// from the accept-time check, a counter): every request of this
    /// connection sees it in [`ConnectionInfo::extensions`].
    pub extensions: Extensions,
}

/// The facts of the connection a request arrived on
/// ([`Request::connection`](crate::Request::connection)): addresses, TLS
/// facts (ALPN, SNI, the peer's certificates), and the per-connection state
/// attached in [`Accept::extensions`]. Shared by all requests of the
/// connection. (The protocol version is the request head's `version`.)
#[derive(Debug)]
pub struct ConnectionInfo {
    peer_addr: SocketAddr,
    local_addr: Option<SocketAddr>,
    tls: Option<TlsFacts>,
    extensions: Extensions,
}

impl ConnectionInfo {
    /// The facts of an accepted connection once its protocol connection
    /// says what TLS negotiated.
    pub(crate) fn new(accept: Accept, tls: Option<TlsFacts>) -> ConnectionInfo {
        ConnectionInfo {
            peer_addr: accept.peer_addr,
            local_addr: accept.local_addr,
            tls,
            extensions: accept.extensions,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Our address of this connection, when the transport tells
    /// (sockless-tokio and sockless-smol TCP streams do).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// What TLS negotiated (ALPN, SNI, the peer's certificate chain);
    /// `None` on cleartext.
    pub fn tls(&self) -> Option<&TlsFacts> {
        self.tls.as_ref()
    }

    /// The per-connection state attached when the connection was made.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }
}
