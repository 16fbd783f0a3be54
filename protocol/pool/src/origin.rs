//! What identifies an origin: scheme, host, port and TLS configuration.

use alloc::string::String;
use core::fmt;

/// `http` or `https`. HTTPS and HTTP to the same host and port are
/// different origins, so a request never crosses from one to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Plain text.
    Http,
    /// Over TLS.
    Https,
}

/// Where a request goes; requests to equal origins share connections.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or address, lower case (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Identity of the TLS configuration (roots, client certificate, ALPN)
    /// the driver uses for this origin: requests with different TLS
    /// settings never share a connection. 0 for plain HTTP.
    pub tls: u64,
}

impl Origin {
    /// An origin with the default TLS identity 0.
    pub fn new(scheme: Scheme, host: impl Into<String>, port: u16) -> Origin {
        Origin { scheme, host: host.into(), port, tls: 0 }
    }

    /// `http://host:port`.
    pub fn http(host: impl Into<String>, port: u16) -> Origin {
        Origin::new(Scheme::Http, host, port)
    }

    /// `https://host:port`.
    pub fn https(host: impl Into<String>, port: u16) -> Origin {
        Origin::new(Scheme::Https, host, port)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}
