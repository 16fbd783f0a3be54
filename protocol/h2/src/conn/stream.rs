//! One HTTP/2 stream: RFC 9113's state machine (section 5.1) as two halves,
//! what the peer's frames mean in each state, its flow-control windows and
//! what the application queued to send.
//!
//! The RFC's states are the product of the two halves:
//!
//! | RFC 9113 state     | [`SendHalf`]                     | [`RecvHalf`]    |
//! |--------------------|----------------------------------|-----------------|
//! | idle               | (not in the table)               |                 |
//! | open               | `Head` / `Body`                  | `Head` / `Body` |
//! | half-closed local  | `Ending` / `Closed`              | `Head` / `Body` |
//! | half-closed remote | `Head` / `Body`                  | `Closed`        |
//! | closed             | `Closed` (`Ending` until flushed) | `Closed`       |
//!
//! A stream leaves the table when both halves are closed or when it is
//! reset; the connection then remembers for a while how it closed
//! ([`Closure`]), which decides what a late frame gets ([`receive`]).
//! Reserved states do not occur: push is disabled.

use bytes::Bytes;
use sockless_core::{ErrorCode, HeaderList};

/// Our sending half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendHalf {
    /// Server: no final response head yet; `continue_owed` while the client
    /// waits for `100 Continue` (sent when the application reads the body).
    Head { continue_owed: bool },
    /// The head went out; body and trailers may follow.
    Body,
    /// The application ended its side; END_STREAM waits behind queued data.
    Ending,
    /// END_STREAM was written.
    Closed,
}

/// The peer's sending half, as we receive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvHalf {
    /// Client: the final response head has not arrived (informational ones may).
    Head,
    /// The head arrived; DATA and trailers may follow.
    Body,
    /// END_STREAM arrived.
    Closed,
}

/// What happens to a half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SendEvent {
    /// A final response head went out, with END_STREAM or not.
    FinalHead { end: bool },
    /// `100 Continue` went out.
    Continue,
    /// The application ended its side (END_STREAM follows queued data).
    EndQueued,
    /// END_STREAM was written.
    EndWritten,
}

/// What the peer's frames do to the receiving half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvEvent {
    /// The final response head arrived (client), with END_STREAM or not.
    FinalHead { end: bool },
    /// END_STREAM arrived (on DATA or trailers).
    End,
}

impl SendHalf {
    /// The sending half's transitions. Callers check first that the
    /// application's command is allowed (see `H2Connection::writable_stream`);
    /// an event the state does not expect leaves it unchanged.
    pub(crate) fn on(self, event: SendEvent) -> SendHalf {
        use SendEvent as E;
        match (self, event) {
            (SendHalf::Head { .. }, E::FinalHead { end: false }) => SendHalf::Body,
            (SendHalf::Head { .. }, E::FinalHead { end: true }) => SendHalf::Closed,
            (SendHalf::Head { .. }, E::Continue) => SendHalf::Head { continue_owed: false },
            (SendHalf::Head { .. } | SendHalf::Body, E::EndQueued) => SendHalf::Ending,
            (SendHalf::Ending, E::EndWritten) => SendHalf::Closed,
            (state, _) => state,
        }
    }

    /// Whether the application may still send (head, body or trailers).
    pub(crate) fn is_open(self) -> bool {
        matches!(self, SendHalf::Head { .. } | SendHalf::Body)
    }
}

impl RecvHalf {
    /// The receiving half's transitions; the frame checks come first ([`receive`]).
    pub(crate) fn on(self, event: RecvEvent) -> RecvHalf {
        match (self, event) {
            (RecvHalf::Head, RecvEvent::FinalHead { end: false }) => RecvHalf::Body,
            (RecvHalf::Head, RecvEvent::FinalHead { end: true }) => RecvHalf::Closed,
            (RecvHalf::Head | RecvHalf::Body, RecvEvent::End) => RecvHalf::Closed,
            (state, _) => state,
        }
    }
}

/// RFC 9113 section 5.1 states, as one endpoint sees a stream. The connection works on the
/// halves; this is their product, which the model test (conn/model.rs) checks against its
/// reference model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum State {
    Idle,
    Open,
    HalfClosedLocal,
    HalfClosedRemote,
    Closed,
}

/// How a stream that left the table closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closure {
    /// Both halves ended with END_STREAM.
    Ended,
    /// The peer reset it (RST_STREAM, or refused it in a GOAWAY).
    ResetByPeer,
    /// We sent RST_STREAM.
    ResetByUs,
}

/// A stream as the connection knows it when a frame names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Never opened (above the highest id used by its opener).
    Idle,
    /// In the table, with its receiving half.
    Live(RecvHalf),
    /// Closed recently, and how.
    Closed(Closure),
    /// Closed long ago (or skipped over, RFC 9113 section 5.1.1): how is forgotten.
    Forgotten,
}

/// The stream-level frames whose meaning depends on the stream's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Incoming {
    /// HEADERS that may open the stream (the server, on a client's id).
    OpeningHeaders,
    /// HEADERS on a stream that must exist (a response, trailers).
    Headers,
    Data,
}

/// What a frame the peer sent gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Handle it.
    Accept,
    /// A new stream.
    Open,
    /// Drop it: we reset the stream and the peer had not seen that yet.
    Ignore,
    /// RST_STREAM with this code.
    StreamError(ErrorCode),
    /// GOAWAY with this code.
    ConnectionError(ErrorCode),
}

/// RFC 9113 section 5.1 for HEADERS and DATA: what the peer's frame gets on a stream in
/// state `seen`. (WINDOW_UPDATE, RST_STREAM and PRIORITY are allowed on every stream that is
/// not idle; the connection handles those itself.)
pub(crate) fn receive(seen: Seen, frame: Incoming) -> Verdict {
    use ErrorCode as C;
    use Incoming as F;
    match (seen, frame) {
        // "idle": only HEADERS opening it; anything else is a connection PROTOCOL_ERROR.
        (Seen::Idle, F::OpeningHeaders) => Verdict::Open,
        (Seen::Idle, _) => Verdict::ConnectionError(C::PROTOCOL_ERROR),
        // DATA before the final response head is a malformed response (section 8.1).
        (Seen::Live(RecvHalf::Head), F::Data) => Verdict::StreamError(C::PROTOCOL_ERROR),
        // "half-closed (remote)": frames other than WINDOW_UPDATE, PRIORITY, RST_STREAM
        // are a stream error STREAM_CLOSED.
        (Seen::Live(RecvHalf::Closed), _) => Verdict::StreamError(C::STREAM_CLOSED),
        (Seen::Live(_), _) => Verdict::Accept,
        // "closed": after END_STREAM was received, a connection error STREAM_CLOSED; after
        // the peer's RST_STREAM, a stream error STREAM_CLOSED; after ours, ignored (the peer
        // may have sent before it saw it).
        (Seen::Closed(Closure::Ended), _) => Verdict::ConnectionError(C::STREAM_CLOSED),
        (Seen::Closed(Closure::ResetByPeer), _) => Verdict::StreamError(C::STREAM_CLOSED),
        (Seen::Closed(Closure::ResetByUs), _) => Verdict::Ignore,
        // Long closed: a field block must not open it again (section 5.1.1); DATA gets a
        // stream error, which is safe whichever way it closed.
        (Seen::Forgotten, F::OpeningHeaders | F::Headers) => Verdict::ConnectionError(C::PROTOCOL_ERROR),
        (Seen::Forgotten, F::Data) => Verdict::StreamError(C::STREAM_CLOSED),
    }
}

/// How many closed streams are remembered per kind of closure (see [`ClosedStreams`]).
const REMEMBERED: usize = 256;

/// Recently closed streams and how they closed, bounded: the oldest are forgotten. Streams
/// we reset are kept apart from the others, so that a busy connection closing many streams
/// normally does not push out the resets whose late frames are still on their way.
#[derive(Debug, Default)]
pub(crate) struct ClosedStreams {
    reset_by_us: alloc::collections::VecDeque<u32>,
    /// Stream ids, with the top bit set for those the peer reset.
    others: alloc::collections::VecDeque<u32>,
}

const PEER_RESET_BIT: u32 = 1 << 31;

impl ClosedStreams {
    pub(crate) fn remember(&mut self, id: u32, how: Closure) {
        let (ring, entry) = match how {
            Closure::ResetByUs => (&mut self.reset_by_us, id),
            Closure::ResetByPeer => (&mut self.others, id | PEER_RESET_BIT),
            Closure::Ended => (&mut self.others, id),
        };
        if ring.len() == REMEMBERED {
            ring.pop_front();
        }
        ring.push_back(entry);
    }

    pub(crate) fn lookup(&self, id: u32) -> Option<Closure> {
        if self.reset_by_us.contains(&id) {
            return Some(Closure::ResetByUs);
        }
        self.others.iter().rev().find(|&&e| e & !PEER_RESET_BIT == id).map(|&e| {
            if e & PEER_RESET_BIT != 0 {
                Closure::ResetByPeer
            } else {
                Closure::Ended
            }
        })
    }
}

/// A stream that is open in at least one direction (or whose end is still queued).
#[derive(Debug)]
pub(crate) struct Stream {
    pub id: u32,
    pub send: SendHalf,
    pub recv: RecvHalf,
    /// Bytes we may still send (the peer's window for this stream).
    pub send_window: i64,
    /// Bytes the peer may still send before we return credit.
    pub recv_window: i64,
    /// DATA bytes handed to the application (in `Data` events) that it has not released:
    /// they count against the connection window until released, or until the stream goes
    /// (see `H2Connection::remove_stream`).
    pub held: u32,
    /// Bytes the application released that we have not returned to the stream window yet.
    pub window_owed: u32,
    /// Body the application handed over, waiting for window.
    pub pending: Bytes,
    /// Trailers to send after `pending`.
    pub trailers: Option<HeaderList>,
    /// Content-Length the peer announced, and DATA bytes received so far.
    pub content_length: Option<u64>,
    pub received: u64,
    /// Client: this stream's request was HEAD, so its response has no content whatever its
    /// Content-Length says (RFC 9110 section 9.3.2, RFC 9113 section 8.1.1).
    pub head_request: bool,
}

impl Stream {
    fn new(id: u32, send: SendHalf, recv: RecvHalf, send_window: i64, recv_window: i64) -> Self {
        Stream {
            id,
            send,
            recv,
            send_window,
            recv_window,
            held: 0,
            window_owed: 0,
            pending: Bytes::new(),
            trailers: None,
            content_length: None,
            received: 0,
            head_request: false,
        }
    }

    /// A stream we open with a request (client); `end` if it has no body.
    pub(crate) fn local(id: u32, end: bool, send_window: i64, recv_window: i64) -> Self {
        let send = if end { SendHalf::Closed } else { SendHalf::Body };
        Stream::new(id, send, RecvHalf::Head, send_window, recv_window)
    }

    /// A stream the peer opened with a request (server); `end` if it has no body.
    pub(crate) fn remote(id: u32, end: bool, continue_owed: bool, send_window: i64, recv_window: i64) -> Self {
        let recv = if end { RecvHalf::Closed } else { RecvHalf::Body };
        Stream::new(id, SendHalf::Head { continue_owed }, recv, send_window, recv_window)
    }

    /// Its RFC 9113 state. Our side counts as closed from the moment the application
    /// ended it, even while END_STREAM waits behind queued data.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn state(&self) -> State {
        match (self.send.is_open(), self.recv == RecvHalf::Closed) {
            (true, false) => State::Open,
            (false, false) => State::HalfClosedLocal,
            (true, true) => State::HalfClosedRemote,
            (false, true) => State::Closed,
        }
    }

    /// Server: the final response head went out (the response started).
    pub(crate) fn response_started(&self) -> bool {
        !matches!(self.send, SendHalf::Head { .. })
    }

    /// Whether something waits to be framed.
    pub(crate) fn has_output(&self) -> bool {
        !self.pending.is_empty() || self.send == SendHalf::Ending
    }

    /// Whether both directions are finished and nothing is queued.
    pub(crate) fn is_done(&self) -> bool {
        self.send == SendHalf::Closed && self.recv == RecvHalf::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_streams_are_remembered_boundedly_and_apart() {
        let mut closed = ClosedStreams::default();
        closed.remember(1, Closure::ResetByUs);
        closed.remember(3, Closure::ResetByPeer);
        for id in (5..5 + 2 * REMEMBERED as u32).step_by(2) {
            closed.remember(id, Closure::Ended);
        }
        assert_eq!(closed.lookup(1), Some(Closure::ResetByUs), "normal closures do not push out our resets");
        assert_eq!(closed.lookup(3), None, "the oldest is forgotten");
        assert_eq!(closed.lookup(7), Some(Closure::Ended));
        closed.remember(9, Closure::ResetByPeer);
        assert_eq!(closed.lookup(9), Some(Closure::ResetByPeer), "the newest entry wins");
        assert!(closed.reset_by_us.len() <= REMEMBERED && closed.others.len() <= REMEMBERED);
    }

    #[test]
    fn transitions_follow_the_table() {
        let s = SendHalf::Head { continue_owed: true };
        assert_eq!(s.on(SendEvent::Continue), SendHalf::Head { continue_owed: false });
        assert_eq!(s.on(SendEvent::FinalHead { end: false }), SendHalf::Body);
        assert_eq!(s.on(SendEvent::FinalHead { end: true }), SendHalf::Closed);
        assert_eq!(SendHalf::Body.on(SendEvent::EndQueued).on(SendEvent::EndWritten), SendHalf::Closed);
        assert_eq!(SendHalf::Closed.on(SendEvent::EndQueued), SendHalf::Closed);
        assert_eq!(RecvHalf::Head.on(RecvEvent::FinalHead { end: true }), RecvHalf::Closed);
        assert_eq!(RecvHalf::Body.on(RecvEvent::End), RecvHalf::Closed);
        assert_eq!(RecvHalf::Closed.on(RecvEvent::FinalHead { end: false }), RecvHalf::Closed);
        assert_eq!(
            receive(Seen::Live(RecvHalf::Closed), Incoming::Headers),
            Verdict::StreamError(ErrorCode::STREAM_CLOSED)
        );
        assert_eq!(
            receive(Seen::Closed(Closure::Ended), Incoming::Data),
            Verdict::ConnectionError(ErrorCode::STREAM_CLOSED)
        );
        assert_eq!(receive(Seen::Closed(Closure::ResetByUs), Incoming::Headers), Verdict::Ignore);
        assert_eq!(receive(Seen::Idle, Incoming::Data), Verdict::ConnectionError(ErrorCode::PROTOCOL_ERROR));
    }
}
