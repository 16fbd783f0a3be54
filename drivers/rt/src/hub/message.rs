//! The client's own request and response types, its error, and its
//! options.

use crate::Body;
use sockless_core::Bytes;
use sockless_core::{HeaderList, Method, ResponseHead};
use sockless_pool::Timeouts;
use std::fmt;
use std::io;

/// Why a client request failed.
#[derive(Debug)]
pub enum ClientError {
    /// The URL could not be parsed or is not `http`/`https`.
    Url(String),
    /// The hub gave up: a timeout, a cap, a refused or closed connection
    /// after the retries that were safe.
    Hub(sockless_pool::Error),
    /// Connecting failed (DNS, refused, TLS); the last attempt's error.
    Connect(io::Error),
    /// The exchange failed (the connection's error).
    Io(io::Error),
    /// Redirects were followed up to the limit.
    TooManyRedirects(u32),
    /// The response body was larger than the cap.
    BodyTooLarge(u64),
}

impl ClientError {
    /// Whether one of the timeouts fired.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ClientError::Hub(e) if e.is_timeout())
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Url(s) => write!(f, "bad URL: {s}"),
            ClientError::Hub(e) => write!(f, "{e}"),
            ClientError::Connect(e) => write!(f, "connect: {e}"),
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::TooManyRedirects(n) => write!(f, "more than {n} redirects"),
            ClientError::BodyTooLarge(n) => write!(f, "response body larger than {n} bytes"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<ClientError> for io::Error {
    fn from(e: ClientError) -> io::Error {
        let kind = match &e {
            ClientError::Url(_) => io::ErrorKind::InvalidInput,
            ClientError::Hub(h) if h.is_timeout() => io::ErrorKind::TimedOut,
            ClientError::Hub(_) => io::ErrorKind::ConnectionAborted,
            ClientError::Connect(c) | ClientError::Io(c) => c.kind(),
            ClientError::TooManyRedirects(_) => io::ErrorKind::Other,
            ClientError::BodyTooLarge(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e.to_string())
    }
}

/// A request body: held whole (it can be sent again, so the request can be
/// retried) or streamed (sent once).
#[derive(Debug)]
pub enum RequestBody {
    /// Bytes held whole.
    Full(Bytes),
    /// A streamed body, sent once: a request with one is never retried.
    Stream(Body),
}

impl RequestBody {
    pub(crate) fn replayable(&self) -> bool {
        matches!(self, RequestBody::Full(_))
    }
}

/// A request for [`Client::send`](super::Client::send), built with
/// [`Client::request`](super::Client::request) or by hand.
#[derive(Debug)]
pub struct ClientRequest {
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub url: url::Url,
    /// Header fields beyond those the client adds (Host, User-Agent,
    /// Content-Length for a whole body).
    pub headers: HeaderList,
    /// The body.
    pub body: RequestBody,
    /// Timeouts of this request instead of the client's.
    pub timeouts: Option<Timeouts>,
    /// Whether repeating it is safe; `None`: decided by the method (GET,
    /// HEAD, PUT, DELETE, OPTIONS, TRACE are idempotent).
    pub idempotent: Option<bool>,
}

impl ClientRequest {
    /// A request without a body or extra header fields.
    pub fn new(method: Method, url: url::Url) -> ClientRequest {
        ClientRequest {
            method,
            url,
            headers: HeaderList::new(),
            body: RequestBody::Full(Bytes::new()),
            timeouts: None,
            idempotent: None,
        }
    }

    pub(crate) fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or(matches!(
            self.method,
            Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options | Method::Trace
        ))
    }
}

/// A response from the client: its head, the URL it came from (after
/// redirects) and its streamed body.
#[derive(Debug)]
pub struct ClientResponse {
    /// The response head.
    pub head: ResponseHead,
    /// The URL that answered.
    pub url: url::Url,
    /// The body, streamed with backpressure.
    pub body: super::ResponseBody,
}

impl ClientResponse {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The whole body, at most `limit` bytes.
    pub async fn bytes(self, limit: usize) -> Result<Bytes, ClientError> {
        self.body.collect(limit).await
    }

    /// As the driver's [`Response`](crate::Response) (the hub stops
    /// watching the body).
    pub fn into_response(self) -> crate::Response {
        crate::Response::new(self.head, self.body.into_body())
    }
}
