//! TLS failures as clear values: what went wrong, in words a user can act on,
//! with the rustls error underneath.

use core::fmt;
use rustls::{AlertDescription, CertificateError, InvalidMessage};
use sockless_core::{Answer, ProtocolError, ProtocolErrorKind};

/// What kind of TLS failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The handshake did not finish within [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    HandshakeTimeout,
    /// The peer closed the transport (or sent `close_notify`) before the handshake finished.
    ClosedDuringHandshake,
    /// The peer's certificate does not chain to a root we trust (unknown CA, or self-signed).
    UnknownIssuer,
    /// The peer's certificate is not valid for the server name we asked for (SNI / name mismatch).
    NameMismatch,
    /// The peer's certificate is otherwise unacceptable: expired, not yet valid, revoked,
    /// badly signed, malformed, or for the wrong purpose.
    BadCertificate,
    /// We require a client certificate (mTLS) and the client presented none.
    CertificateRequired,
    /// The client offered ALPN protocols and none is configured on the server.
    NoApplicationProtocol,
    /// The peers share no TLS version, cipher suite, key-exchange group or signature scheme.
    Incompatible,
    /// The server name is not a valid DNS name or IP address, or the peer sent a malformed SNI.
    InvalidServerName,
    /// The peer aborted the handshake (or the connection) with this fatal alert: it rejected
    /// something of ours. [`TlsError`]'s `Display` says what each common alert means.
    AlertReceived(AlertDescription),
    /// The peer broke the TLS protocol: malformed or unexpected messages, a record that fails
    /// to decrypt, an oversized record.
    ProtocolViolation,
    /// A certificate, key or setting given to a config helper was refused.
    Config,
    /// Any other rustls error (see [`TlsError::rustls_error`]).
    Other,
}

/// A TLS failure: its [`kind`](Self::kind), whether it happened during the
/// handshake, and the rustls error it came from, if any.
///
/// [`Tls`](crate::Tls) reports it through [`Tls::last_error`](crate::Tls::last_error);
/// the connection's events carry the [`ProtocolError`] from
/// [`to_protocol_error`](Self::to_protocol_error).
#[derive(Clone, Debug, PartialEq)]
pub struct TlsError {
    kind: TlsErrorKind,
    during_handshake: bool,
    rustls: Option<rustls::Error>,
}

impl TlsError {
    /// An error of `kind` with no rustls error underneath.
    pub fn new(kind: TlsErrorKind, during_handshake: bool) -> Self {
        TlsError { kind, during_handshake, rustls: None }
    }

    /// Classifies a rustls error.
    pub fn from_rustls(e: rustls::Error, during_handshake: bool) -> Self {
        use rustls::Error as E;
        let kind = match &e {
            E::InvalidCertificate(CertificateError::UnknownIssuer) => TlsErrorKind::UnknownIssuer,
            E::InvalidCertificate(CertificateError::NotValidForName)
            | E::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => TlsErrorKind::NameMismatch,
            E::InvalidCertificate(_) | E::InvalidCertRevocationList(_) => TlsErrorKind::BadCertificate,
            E::NoCertificatesPresented => TlsErrorKind::CertificateRequired,
            E::NoApplicationProtocol => TlsErrorKind::NoApplicationProtocol,
            E::PeerIncompatible(_) => TlsErrorKind::Incompatible,
            E::UnsupportedNameType | E::InvalidMessage(InvalidMessage::InvalidServerName) => {
                TlsErrorKind::InvalidServerName
            }
            E::AlertReceived(a) => TlsErrorKind::AlertReceived(*a),
            E::InvalidMessage(_)
            | E::PeerMisbehaved(_)
            | E::DecryptError
            | E::PeerSentOversizedRecord
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. } => TlsErrorKind::ProtocolViolation,
            _ => TlsErrorKind::Other,
        };
        TlsError { kind, during_handshake, rustls: Some(e) }
    }

    pub(crate) fn config(e: rustls::Error) -> Self {
        TlsError { kind: TlsErrorKind::Config, during_handshake: false, rustls: Some(e) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TlsErrorKind {
        self.kind
    }

    /// Whether it happened before the handshake completed.
    pub fn during_handshake(&self) -> bool {
        self.during_handshake
    }

    /// The rustls error underneath, if the failure came from rustls.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        self.rustls.as_ref()
    }

    /// The error as the connection's events report it:
    /// [`ProtocolErrorKind::TlsHandshakeTimeout`] for a handshake that did not
    /// finish in time, [`ProtocolErrorKind::Tls`] for everything else, with
    /// [`Answer::Close`] (rustls already queued the fatal alert that tells the
    /// peer). The precise reason is this value, from
    /// [`Tls::last_error`](crate::Tls::last_error).
    pub fn to_protocol_error(&self) -> ProtocolError {
        let kind = match self.kind {
            TlsErrorKind::HandshakeTimeout => ProtocolErrorKind::TlsHandshakeTimeout,
            _ => ProtocolErrorKind::Tls,
        };
        ProtocolError::new(kind, Answer::Close)
    }

    fn describe(&self) -> &'static str {
        use TlsErrorKind as K;
        match self.kind {
            K::HandshakeTimeout => "the TLS handshake did not finish in time",
            K::ClosedDuringHandshake => "the peer closed the connection during the TLS handshake",
            K::UnknownIssuer => "the peer's certificate is not signed by a trusted certificate authority",
            K::NameMismatch => "the peer's certificate is not valid for the requested server name",
            K::BadCertificate => "the peer's certificate is invalid",
            K::CertificateRequired => "a client certificate is required and the client sent none",
            K::NoApplicationProtocol => "no ALPN protocol in common with the peer",
            K::Incompatible => "no TLS version, cipher suite or key exchange in common with the peer",
            K::InvalidServerName => "invalid server name (SNI)",
            K::AlertReceived(a) => match a {
                AlertDescription::UnknownCA => "the peer does not trust our certificate (alert: unknown CA)",
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateUnknown => "the peer rejected our certificate",
                AlertDescription::CertificateExpired => "the peer rejected our certificate as expired",
                AlertDescription::CertificateRevoked => "the peer rejected our certificate as revoked",
                AlertDescription::CertificateRequired => "the peer requires a client certificate and we sent none",
                AlertDescription::NoApplicationProtocol => "the peer supports none of our ALPN protocols",
                AlertDescription::ProtocolVersion => "the peer supports none of our TLS versions",
                AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => {
                    "the peer found no acceptable security parameters (cipher suites, groups, signature schemes)"
                }
                AlertDescription::UnrecognisedName => "the peer does not serve the requested server name (SNI)",
                AlertDescription::AccessDenied => "the peer denied access",
                AlertDescription::DecryptError | AlertDescription::BadRecordMac => {
                    "the peer could not decrypt or verify our messages"
                }
                _ => "the peer aborted the connection with a TLS alert",
            },
            K::ProtocolViolation => "the peer broke the TLS protocol",
            K::Config => "invalid TLS configuration",
            K::Other => "TLS error",
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())?;
        if let TlsErrorKind::AlertReceived(a) = self.kind {
            if self.rustls.is_none() {
                write!(f, " ({a:?})")?;
            }
        }
        match &self.rustls {
            Some(e) => write!(f, ": {e}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.rustls.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_describes() {
        let e = TlsError::from_rustls(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer), true);
        assert_eq!(e.kind(), TlsErrorKind::UnknownIssuer);
        assert!(e.during_handshake());
        assert!(e.to_string().starts_with("the peer's certificate is not signed by a trusted"), "{e}");
        let e = TlsError::from_rustls(rustls::Error::AlertReceived(AlertDescription::CertificateRequired), true);
        assert_eq!(e.kind(), TlsErrorKind::AlertReceived(AlertDescription::CertificateRequired));
        assert!(e.to_string().contains("requires a client certificate"), "{e}");
        assert_eq!(
            TlsError::from_rustls(rustls::Error::NoCertificatesPresented, true).kind(),
            TlsErrorKind::CertificateRequired
        );
        let t = TlsError::new(TlsErrorKind::HandshakeTimeout, true);
        assert_eq!(t.to_string(), "the TLS handshake did not finish in time");
        assert_eq!(t.to_protocol_error().answer, Answer::Close);
    }
}
