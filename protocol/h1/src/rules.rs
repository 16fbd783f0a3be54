//! HTTP/1.1's rules that both roles share, one function each (as h11 keeps
//! `_keep_alive` and `_body_framing`): whether a connection persists after
//! a message, how long an incoming body is (RFC 9112 section 6.3), and how
//! an outgoing body is framed.

use crate::config::Config;
use crate::encode::{BodyEncoder, UserFraming};
use crate::fields::{Coding, FieldInfo};
use sockless_core::{ProtocolErrorKind as Kind, UserError, Version};

/// Whether the sender of a message with these `Connection` tokens lets the
/// connection carry another exchange (RFC 9112 section 9.3): HTTP/1.1
/// unless `close`; HTTP/1.0 only with `keep-alive` (and no `close`).
pub(crate) fn keep_alive(version: Version, close: bool, keep_alive: bool) -> bool {
    match version {
        Version::Http10 => keep_alive && !close,
        _ => !close,
    }
}

/// Who sent the message whose body is being delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sender {
    /// A request.
    Client,
    /// A final response; `bodiless`: to HEAD, or 204 / 304 (RFC 9112
    /// section 6.3 item 1; 1xx and a 2xx to CONNECT never get here).
    Server { bodiless: bool },
}

/// How an incoming body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// No body field at all (a request), or a bodiless response.
    None,
    /// Content-Length.
    Exact(u64),
    /// The chunked coding.
    Chunked,
    /// Until the server closes (a response without framing fields).
    UntilClose,
}

/// RFC 9112 section 6.3 for both roles, strictly: Transfer-Encoding in
/// HTTP/1.0 and Transfer-Encoding with Content-Length are errors (section
/// 6.1: faulty framing, smuggling), only `chunked` is implemented, a
/// Content-Length over `max_body_bytes` is refused before any byte is read,
/// and a message with neither is bodiless for a request and read until
/// close for a response.
pub(crate) fn incoming_body(
    sender: Sender,
    version: Version,
    info: &FieldInfo,
    config: &Config,
) -> Result<Incoming, Kind> {
    if sender == (Sender::Server { bodiless: true }) {
        return Ok(Incoming::Exact(0));
    }
    match (info.transfer_encoding, info.content_length) {
        (Some(_), _) if version == Version::Http10 => Err(Kind::TransferEncodingInHttp10),
        (Some(_), Some(_)) => Err(Kind::ContentLengthWithTransferEncoding),
        (Some(Coding::Unsupported), None) => Err(Kind::UnsupportedTransferCoding),
        (Some(Coding::Invalid), None) => Err(Kind::InvalidTransferEncoding),
        (Some(Coding::Chunked), None) => Ok(Incoming::Chunked),
        (None, Some(n)) if config.max_body_bytes.is_some_and(|max| n > max) => Err(Kind::BodyTooLarge),
        (None, Some(n)) => Ok(Incoming::Exact(n)),
        (None, None) if sender == Sender::Client => Ok(Incoming::None),
        (None, None) => Ok(Incoming::UntilClose),
    }
}

/// What an outgoing message is, for its framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outgoing {
    /// A request; `wants_length`: its method defines a body (POST, PUT,
    /// PATCH), so an empty one is announced as `content-length: 0`.
    Request { wants_length: bool },
    /// A final response; `bodiless`: to HEAD, or 204 / 304.
    Response { bodiless: bool },
}

/// How an outgoing body is framed and what the connection adds to the
/// application's fields for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutgoingBody {
    pub encoder: BodyEncoder,
    /// `content-length` to add.
    pub content_length: Option<u64>,
    /// `transfer-encoding: chunked` to add.
    pub chunked: bool,
    /// The body ends with the connection (a response of unknown length to
    /// an HTTP/1.0 peer): the connection must close.
    pub close: bool,
}

/// The framing of an outgoing body: the application's own Content-Length or
/// chunked coding if it wrote one, else `content-length: 0` for a message
/// complete with its head, else chunked over HTTP/1.1; over HTTP/1.0 a
/// response is delimited by close and a request cannot be (its length must
/// be known). Chunked coding does not exist in HTTP/1.0.
pub(crate) fn outgoing_body(
    what: Outgoing,
    version: Version,
    framing: &UserFraming,
    end_stream: bool,
) -> Result<OutgoingBody, UserError> {
    let plain = |encoder| OutgoingBody { encoder, content_length: None, chunked: false, close: false };
    if what == (Outgoing::Response { bodiless: true }) {
        return Ok(plain(BodyEncoder::None));
    }
    if framing.chunked && version == Version::Http10 {
        return Err(UserError::InvalidFraming);
    }
    let body = if let Some(n) = framing.content_length {
        plain(BodyEncoder::Length(n))
    } else if framing.chunked {
        plain(BodyEncoder::Chunked)
    } else if end_stream {
        let announce = match what {
            Outgoing::Request { wants_length } => wants_length,
            Outgoing::Response { .. } => true,
        };
        OutgoingBody { content_length: announce.then_some(0), ..plain(BodyEncoder::Length(0)) }
    } else if version != Version::Http10 {
        OutgoingBody { chunked: true, ..plain(BodyEncoder::Chunked) }
    } else if matches!(what, Outgoing::Response { .. }) {
        OutgoingBody { close: true, ..plain(BodyEncoder::UntilClose) }
    } else {
        return Err(UserError::InvalidFraming);
    };
    Ok(body)
}
