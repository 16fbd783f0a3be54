//! One HTTP/2 stream: its half of RFC 9113's state machine (section 5.1),
//! its flow-control windows and what the application queued to send.

use bytes::Bytes;
use sockless_core::HeaderList;

/// A stream that is open in at least one direction. Idle streams are not
/// stored; closed ones are dropped (their ids stay below the highest seen).
///
/// | RFC 9113 state     | `recv_open` | `send_open` |
/// |--------------------|-------------|-------------|
/// | open               | yes         | yes         |
/// | half-closed local  | yes         | no          |
/// | half-closed remote | no          | yes         |
/// | closed             | no          | no (dropped once the queue is flushed) |
#[derive(Debug)]
pub(crate) struct Stream {
    pub id: u32,
    /// The peer may still send on it (no END_STREAM received).
    pub recv_open: bool,
    /// The application may still send on it (it has not ended its side).
    pub send_open: bool,
    /// Server: the final response head went out. Client: the final response head arrived.
    pub final_head: bool,
    /// Bytes we may still send (the peer's window for this stream).
    pub send_window: i64,
    /// Bytes the peer may still send before we return credit.
    pub recv_window: i64,
    /// Bytes the application released that we have not returned yet.
    pub unreleased: u32,
    /// Body the application handed over, waiting for window.
    pub pending: Bytes,
    /// END_STREAM is to follow `pending` (and `trailers`).
    pub pending_end: bool,
    /// Trailers to send after `pending`.
    pub trailers: Option<HeaderList>,
    /// END_STREAM was written.
    pub end_sent: bool,
    /// Content-Length the peer announced, and DATA bytes received so far.
    pub content_length: Option<u64>,
    pub received: u64,
    /// Server: the client waits for `100 Continue`.
    pub awaiting_continue: bool,
    /// The application was told about this stream (a Request or Response event).
    pub announced: bool,
}

impl Stream {
    pub(crate) fn new(id: u32, send_window: i64, recv_window: i64) -> Self {
        Stream {
            id,
            recv_open: true,
            send_open: true,
            final_head: false,
            send_window,
            recv_window,
            unreleased: 0,
            pending: Bytes::new(),
            pending_end: false,
            trailers: None,
            end_sent: false,
            content_length: None,
            received: 0,
            awaiting_continue: false,
            announced: false,
        }
    }

    /// Whether something waits to be framed.
    pub(crate) fn has_output(&self) -> bool {
        !self.pending.is_empty() || (self.pending_end && !self.end_sent)
    }

    /// Whether both directions are finished and nothing is queued.
    pub(crate) fn is_done(&self) -> bool {
        !self.recv_open && !self.send_open && !self.has_output()
    }
}
