//! Stream identifiers.

use core::fmt;

/// Identifies one request/response exchange on a connection.
///
/// HTTP/2 uses its wire stream identifiers (odd for client-initiated
/// streams). HTTP/1.1 numbers its exchanges in the order their requests were
/// sent or received, starting at 1, so the same application code serves both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0, the HTTP/2 connection itself.
    pub const CONNECTION: StreamId = StreamId(0);

    /// A stream id from its number (only the low 31 bits are used on the wire).
    pub const fn new(id: u32) -> Self {
        StreamId(id)
    }

    /// The number of this stream.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Whether this is stream 0, the connection itself.
    pub const fn is_connection(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl From<u32> for StreamId {
    fn from(id: u32) -> Self {
        StreamId(id)
    }
}
