//! What both roles share: the receive buffer, the transmit queue, the event
//! queue with its byte count, the latest `now`, and the sticky error.

use crate::config::Config;
use alloc::collections::VecDeque;
use bytes::BytesMut;
use sockless_core::InputBuffer;
use sockless_core::TransmitQueue as Transmit;
use sockless_core::{Answer, CloseReason, Error, Event, Instant, ProtocolError, ProtocolErrorKind, UserError};

pub(crate) struct Plumbing {
    pub config: Config,
    pub recv: InputBuffer,
    pub out: Transmit,
    events: VecDeque<Event>,
    /// Body bytes held in `events`.
    event_bytes: usize,
    /// The latest `now` passed in.
    pub now: Instant,
    /// A state change from a command needs the current time: the next
    /// deadline is "now", and the next `handle_*` stamps it.
    pub stamp_needed: bool,
    pub peer_eof: bool,
    pub error: Option<ProtocolError>,
    /// Set once the connection will close after its output is flushed.
    pub close_reason: Option<CloseReason>,
    pub closed_emitted: bool,
    pub upgraded: bool,
}

impl Plumbing {
    pub(crate) fn new(config: Config, now: Instant) -> Self {
        Plumbing {
            recv: InputBuffer::new(config.max_buffered_input.max(config.max_head_bytes + 1), config.read_size),
            config,
            out: Transmit::default(),
            events: VecDeque::new(),
            event_bytes: 0,
            now,
            stamp_needed: false,
            peer_eof: false,
            error: None,
            close_reason: None,
            closed_emitted: false,
            upgraded: false,
        }
    }

    /// Records `now`; returns whether a deferred time stamp is due.
    pub(crate) fn touch(&mut self, now: Instant) -> bool {
        self.now = self.now.max(now);
        core::mem::take(&mut self.stamp_needed)
    }

    pub(crate) fn push_event(&mut self, event: Event) {
        if let Event::Data { data, .. } = &event {
            self.event_bytes += data.len();
        }
        self.events.push_back(event);
    }

    pub(crate) fn pop_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if let Event::Data { data, .. } = &event {
            self.event_bytes -= data.len();
        }
        Some(event)
    }

    /// Whether unpolled events hold as many body bytes as allowed.
    pub(crate) fn backlogged(&self) -> bool {
        self.event_bytes >= self.config.max_buffered_events
    }

    /// Whether input may be taken at all, or the error to return.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if let Some(e) = self.error {
            return Err(Error::Protocol(e));
        }
        if self.upgraded || self.closed_emitted {
            return Err(Error::User(UserError::Closed));
        }
        Ok(())
    }

    /// Records a protocol error, reports it, and decides to close.
    pub(crate) fn fail(
        &mut self,
        kind: ProtocolErrorKind,
        answer: Answer,
        stream: Option<sockless_core::StreamId>,
    ) -> ProtocolError {
        let mut e = ProtocolError::new(kind, answer);
        e.stream = stream;
        if self.error.is_none() {
            self.error = Some(e);
            self.push_event(Event::Error(e));
        }
        self.close_reason.get_or_insert(CloseReason::Error(e));
        e
    }

    /// The sticky error as an input call's result.
    pub(crate) fn result(&self) -> Result<(), Error> {
        match self.error {
            Some(e) => Err(Error::Protocol(e)),
            None => Ok(()),
        }
    }

    /// Emits `Closed` once nothing is left to transmit.
    pub(crate) fn poll_closed(&mut self, finished: bool) -> Option<Event> {
        if finished && !self.closed_emitted && self.out.is_empty() && !self.upgraded {
            if let Some(reason) = self.close_reason {
                self.closed_emitted = true;
                return Some(Event::Closed(reason));
            }
        }
        None
    }
}

/// What a role gives the input half of its `Connection` impl, which is the
/// same for both roles (the functions below).
pub(crate) trait Role {
    fn plumbing(&mut self) -> &mut Plumbing;
    /// Records the time of a call (and stamps deferred timers).
    fn note_time(&mut self, now: Instant);
    /// Parses what the receive buffer holds, as far as the role may.
    fn parse(&mut self);
    /// Whether input is now read and dropped (the connection decided to
    /// close, and answers still queued must be written).
    fn discards_input(&self) -> bool;
}

/// `Connection::handle_input` for either role.
pub(crate) fn handle_input(role: &mut impl Role, now: Instant, input: &[u8]) -> Result<usize, Error> {
    role.note_time(now);
    role.plumbing().check_open()?;
    if role.discards_input() {
        return Ok(input.len());
    }
    let n = role.plumbing().recv.push(input);
    role.parse();
    role.plumbing().result().map(|()| n)
}

/// `Connection::input_buffer` for either role.
pub(crate) fn input_buffer(role: &mut impl Role) -> &mut [u8] {
    let p = role.plumbing();
    if p.check_open().is_err() {
        return &mut [];
    }
    p.recv.lend()
}

/// `Connection::commit_input` for either role.
pub(crate) fn commit_input(role: &mut impl Role, now: Instant, n: usize) -> Result<(), Error> {
    role.note_time(now);
    role.plumbing().recv.commit(n)?;
    after_input(role)
}

/// `Connection::return_input_buffer` for either role.
pub(crate) fn return_input_buffer(role: &mut impl Role, now: Instant, buf: BytesMut) -> Result<(), Error> {
    role.note_time(now);
    role.plumbing().recv.give_back(buf);
    after_input(role)
}

/// What follows bytes arriving in the receive buffer.
fn after_input(role: &mut impl Role) -> Result<(), Error> {
    role.plumbing().check_open()?;
    if role.discards_input() {
        drop(role.plumbing().recv.take_all());
    }
    role.parse();
    role.plumbing().result()
}
