//! [`Tls<C>`]: a rustls connection in front of any sockless [`Connection`],
//! itself a [`Connection`].

use crate::error::{TlsError, TlsErrorKind};
use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ServerConfig};
use sockless_core::{
    CloseReason, Connection, Duration, Error, ErrorCode, Event, HeaderList, InputBuffer, Instant, ProtocolError,
    RequestHead, ResponseHead, StreamId, UserError,
};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, BufRead, IoSlice, Write};
use std::sync::Arc;

/// Limits and timers of a [`Tls`] connection. Every field has a safe default
/// ([`Config::default`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The handshake must complete within this time of the connection's
    /// creation; otherwise a `close_notify` is sent and the connection closes
    /// with [`TlsErrorKind::HandshakeTimeout`]. Default 10 s (the header-read
    /// timeout's default).
    pub handshake_timeout: Duration,
    /// Ciphertext queued for the transport, in bytes. While this much waits,
    /// no more output is taken from the inner connection (whose own send caps
    /// then push back on the application). Default 64 KiB.
    pub max_transmit_buffer: usize,
    /// Ciphertext held in the buffer lent by `input_buffer` /
    /// `take_input_buffer` and not yet decrypted because the inner connection
    /// is not taking input; the lent buffer shrinks to nothing when it is
    /// full. Copy-in input (`handle_input`) leaves what is not taken with the
    /// driver instead. Default 64 KiB.
    pub max_input_buffer: usize,
    /// How much a lent or taken input buffer offers per read. Default 16 KiB.
    pub read_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            handshake_timeout: Duration::from_secs(10),
            max_transmit_buffer: 64 * 1024,
            max_input_buffer: 64 * 1024,
            read_size: 16 * 1024,
        }
    }
}

/// What the handshake negotiated: handed to the factory that makes the inner
/// connection, and kept in [`Tls::handshake`].
#[derive(Clone, Debug, PartialEq)]
pub struct Handshake {
    /// The ALPN protocol both sides agreed on (`b"h2"`, `b"http/1.1"`), if any.
    pub alpn: Option<Vec<u8>>,
    /// Server: the name the client asked for (SNI), if it sent one.
    /// Client: the server name it connected to.
    pub sni: Option<String>,
    /// The peer's certificate chain, leaf first: the server's on a client;
    /// on a server, the client's when it presented one (mTLS), else empty.
    pub peer_certificates: Vec<CertificateDer<'static>>,
    /// The TLS version in use.
    pub protocol_version: Option<rustls::ProtocolVersion>,
    /// The cipher suite in use.
    pub cipher_suite: Option<rustls::CipherSuite>,
}

impl Handshake {
    /// Whether HTTP/2 was negotiated through ALPN.
    pub fn is_h2(&self) -> bool {
        self.alpn.as_deref() == Some(crate::ALPN_H2)
    }
}

type MakeInner<C> = Box<dyn FnOnce(&Handshake, Instant) -> C + Send>;

/// TLS as a sans-IO layer: ciphertext in, ciphertext out, and in between an
/// inner [`Connection`] (HTTP/1.1, HTTP/2, ...) that sees only plaintext.
/// `Tls<C>` is itself a [`Connection`], so every driver carries it.
///
/// # Lifecycle
///
/// * **Handshake.** Until the handshake completes there is no inner
///   connection: no events, and commands return
///   [`UserError::Busy`]. The handshake must finish within
///   [`Config::handshake_timeout`].
/// * **Inner connection.** When it completes, the factory given to
///   [`Tls::server`] / [`Tls::client`] is called with the negotiated
///   [`Handshake`] (ALPN, SNI, peer certificates) and `now`, and makes the
///   inner connection, so it can choose HTTP/2 or HTTP/1.1 by ALPN. From then
///   on input is decrypted and handed to it, its output encrypted, its events
///   passed through unchanged, and commands forwarded to it. A client emits
///   one [`Event::Ready`]` { reusable: true }` when the handshake completes
///   (the connection can carry a request now); a server emits nothing extra.
/// * **Close.** When the inner connection emits [`Event::Closed`], a TLS
///   `close_notify` is sent, and the `Closed` event is passed on once it is
///   flushed. A `close_notify` from the peer is the inner connection's end of
///   input (`handle_eof`); so is a transport EOF without one (many peers
///   never send it): [`Tls::received_close_notify`] tells them apart.
/// * **Failure.** Any TLS failure (handshake or later) makes rustls queue the
///   fatal alert for the peer, then is reported as [`Event::Error`] and
///   [`Event::Closed`]`(CloseReason::Error(..))`, is returned by every later
///   input call (sticky), and is kept, with its precise reason, in
///   [`Tls::last_error`]. See [`TlsError::to_protocol_error`] for the core
///   error kind used.
///
/// # Limits of the layer
///
/// * An inner [`Event::Upgrade`] (HTTP/1.1 `101`, `CONNECT`) passes through,
///   but the transport cannot be handed over: the bytes of the new protocol
///   are inside TLS. Tunnels over TLS need a layer of their own.
/// * The factory must be `Send` (so is the `Tls` when `C` is), and runs once.
///
/// # Buffers and copies
///
/// Encryption copies by nature: ciphertext is copied into rustls, decrypted
/// in place, and handed to the inner connection straight from rustls'
/// receive buffer (the inner connection then copies what it takes). No
/// ciphertext is read while decrypted bytes the inner connection refused are
/// pending, so at most one read's worth of plaintext waits there; it is
/// offered again whenever the inner connection may take it. Output of the
/// inner connection is encrypted into one ciphertext buffer (at most about
/// [`Config::max_transmit_buffer`]) offered as a single slice. The lent and
/// owned input buffers hold ciphertext and are copied into rustls too.
pub struct Tls<C> {
    tls: rustls::Connection,
    cfg: Config,
    client_name: Option<String>,
    make_inner: Option<MakeInner<C>>,
    inner: Option<C>,
    handshake: Option<Handshake>,
    started: Instant,
    now: Instant,
    /// Ciphertext of the lent / owned input buffers not yet taken by rustls.
    input: InputBuffer,
    /// Ciphertext handed out as owned chunks (completion IO) and not yet
    /// sent: it goes before `out`.
    sealed: VecDeque<Bytes>,
    sealed_len: usize,
    /// Ciphertext to transmit, from `out_pos` on.
    out: Vec<u8>,
    out_pos: usize,
    /// Our own events (a client's `Ready`), ahead of the inner connection's.
    events: VecDeque<Event>,
    error: Option<TlsError>,
    error_unreported: Option<ProtocolError>,
    /// The inner connection's sticky input error.
    inner_error: Option<ProtocolError>,
    /// The inner connection refuses input (closed or upgraded): plaintext is dropped.
    inner_refuses_input: bool,
    /// The inner connection emitted `Closed` (or, after a failure, ran out of events).
    inner_done: bool,
    inner_eof_sent: bool,
    close_reason: Option<CloseReason>,
    close_notify_sent: bool,
    closed_emitted: bool,
    peer_eof: bool,
    eof_read: bool,
    peer_close_notify: bool,
    /// Output was queued outside of an input call: the next deadline is "now"
    /// so that the driver goes round its loop once more.
    needs_turn: bool,
}

impl<C: Connection> Tls<C> {
    /// A server: answers a client's handshake with `config`, then calls
    /// `make_inner` with what was negotiated and the current time to make the
    /// inner connection (typically a server connection of the ALPN protocol).
    pub fn server(
        config: Arc<ServerConfig>,
        now: Instant,
        make_inner: impl FnOnce(&Handshake, Instant) -> C + Send + 'static,
    ) -> Result<Self, TlsError> {
        let conn = rustls::ServerConnection::new(config).map_err(TlsError::config)?;
        Ok(Self::new(conn.into(), None, now, Box::new(make_inner)))
    }

    /// A client: starts a handshake with `server_name` (a DNS name or an IP
    /// address; sent as SNI when a name, and verified against the server's
    /// certificate) using `config`, then calls `make_inner` to make the inner
    /// connection. The ClientHello is ready to transmit at once.
    pub fn client(
        config: Arc<ClientConfig>,
        server_name: &str,
        now: Instant,
        make_inner: impl FnOnce(&Handshake, Instant) -> C + Send + 'static,
    ) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| TlsError::new(TlsErrorKind::InvalidServerName, true))?;
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| TlsError::from_rustls(e, true))?;
        Ok(Self::new(conn.into(), Some(server_name.to_owned()), now, Box::new(make_inner)))
    }

    fn new(tls: rustls::Connection, client_name: Option<String>, now: Instant, make_inner: MakeInner<C>) -> Self {
        let cfg = Config::default();
        Tls {
            tls,
            input: InputBuffer::new(cfg.max_input_buffer, cfg.read_size),
            cfg,
            client_name,
            make_inner: Some(make_inner),
            inner: None,
            handshake: None,
            started: now,
            now,
            sealed: VecDeque::new(),
            sealed_len: 0,
            out: Vec::new(),
            out_pos: 0,
            events: VecDeque::new(),
            error: None,
            error_unreported: None,
            inner_error: None,
            inner_refuses_input: false,
            inner_done: false,
            inner_eof_sent: false,
            close_reason: None,
            close_notify_sent: false,
            closed_emitted: false,
            peer_eof: false,
            eof_read: false,
            peer_close_notify: false,
            needs_turn: false,
        }
    }

    /// Replaces the limits and timers; call it right after construction,
    /// before any input (the handshake deadline counts from creation).
    pub fn with_config(mut self, cfg: Config) -> Self {
        self.input = InputBuffer::new(cfg.max_input_buffer, cfg.read_size);
        self.cfg = cfg;
        self
    }

    /// The limits and timers in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// What the handshake negotiated, once it completed.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// Whether the handshake is still under way (not completed, not failed).
    pub fn is_handshaking(&self) -> bool {
        self.inner.is_none() && self.error.is_none() && self.close_reason.is_none()
    }

    /// Whether this is the client end.
    pub fn is_client(&self) -> bool {
        matches!(self.tls, rustls::Connection::Client(_))
    }

    /// The TLS failure that closed the connection, with its precise reason.
    pub fn last_error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }

    /// Whether the peer ended its side with a TLS `close_notify` (rather than
    /// just closing the transport, which a truncation attacker can fake).
    pub fn received_close_notify(&self) -> bool {
        self.peer_close_notify
    }

    /// The inner connection, once the handshake completed.
    pub fn inner(&self) -> Option<&C> {
        self.inner.as_ref()
    }

    /// The inner connection, for calls beyond the [`Connection`] trait. Input,
    /// output and events must still go through the `Tls`.
    pub fn inner_mut(&mut self) -> Option<&mut C> {
        self.inner.as_mut()
    }

    /// The rustls connection (for keying material export, the negotiated
    /// parameters, ...).
    pub fn rustls(&self) -> &rustls::Connection {
        &self.tls
    }

    // ----- internals -----

    fn touch(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn sticky(&self) -> Option<ProtocolError> {
        self.error.as_ref().map(TlsError::to_protocol_error).or(self.inner_error)
    }

    fn result<T>(&self, ok: T) -> Result<T, Error> {
        match self.sticky() {
            Some(e) => Err(Error::Protocol(e)),
            None => Ok(ok),
        }
    }

    /// What both transmit paths do first: move the inner connection's
    /// output through rustls.
    fn turn_for_transmit(&mut self) {
        self.needs_turn = false;
        self.pump();
        if self.progress() {
            self.pump();
        }
    }

    fn pending_out(&self) -> usize {
        self.sealed_len + self.out.len() - self.out_pos
    }

    fn flushed(&self) -> bool {
        self.pending_out() == 0 && !self.tls.wants_write()
    }

    /// Moves rustls' queued records into `out`.
    fn flush_tls(&mut self) {
        if !self.tls.wants_write() {
            return;
        }
        if self.out_pos > 0 {
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// Records a TLS failure: reported once, closes the connection.
    fn fail(&mut self, err: TlsError) {
        if self.error.is_some() {
            return;
        }
        let pe = err.to_protocol_error();
        self.error = Some(err);
        self.error_unreported = Some(pe);
        self.close_reason.get_or_insert(CloseReason::Error(pe));
        self.make_inner = None;
        self.close_notify_sent = true;
        self.flush_tls();
        self.needs_turn = true;
    }

    /// Ends the connection in order: `close_notify`, then `Closed(reason)`
    /// once flushed.
    fn close_with(&mut self, reason: CloseReason) {
        self.close_reason.get_or_insert(reason);
        self.make_inner = None;
        if !self.close_notify_sent {
            self.close_notify_sent = true;
            self.tls.send_close_notify();
        }
        self.flush_tls();
        self.needs_turn = true;
    }

    fn complete_handshake(&mut self) {
        let Some(make_inner) = self.make_inner.take() else { return };
        let sni = match &self.tls {
            rustls::Connection::Server(s) => s.server_name().map(str::to_owned),
            rustls::Connection::Client(_) => self.client_name.clone(),
        };
        let hs = Handshake {
            alpn: self.tls.alpn_protocol().map(<[u8]>::to_vec),
            sni,
            peer_certificates: self.tls.peer_certificates().map(<[_]>::to_vec).unwrap_or_default(),
            protocol_version: self.tls.protocol_version(),
            cipher_suite: self.tls.negotiated_cipher_suite().map(|s| s.suite()),
        };
        self.inner = Some(make_inner(&hs, self.now));
        self.handshake = Some(hs);
        if self.is_client() {
            self.events.push_back(Event::Ready { reusable: true });
        }
    }

    /// Decrypts what `read_tls` took; completes the handshake; notes a
    /// received `close_notify`; turns a rustls error into a failure.
    fn process(&mut self) {
        match self.tls.process_new_packets() {
            Ok(state) => {
                if state.peer_has_closed() {
                    self.peer_close_notify = true;
                }
                if self.inner.is_none() && self.make_inner.is_some() {
                    if !self.tls.is_handshaking() {
                        self.complete_handshake();
                    } else if self.peer_close_notify {
                        self.fail(TlsError::new(TlsErrorKind::ClosedDuringHandshake, true));
                    }
                }
            }
            Err(e) => {
                let during = self.inner.is_none();
                self.fail(TlsError::from_rustls(e, during));
            }
        }
    }

    /// Whether decrypted bytes wait for the inner connection.
    fn plaintext_pending(&mut self) -> bool {
        matches!(self.tls.reader().fill_buf(), Ok(b) if !b.is_empty())
    }

    /// Hands decrypted bytes to the inner connection as far as it takes
    /// them, and its end of input once everything was delivered. Returns
    /// whether anything moved.
    fn feed_inner(&mut self) -> bool {
        if self.error.is_some() {
            return false;
        }
        let Some(inner) = self.inner.as_mut() else { return false };
        let now = self.now;
        let mut moved = false;
        loop {
            let mut reader = self.tls.reader();
            match reader.fill_buf() {
                Ok(chunk) if !chunk.is_empty() => {
                    if self.inner_refuses_input || self.inner_error.is_some() || self.inner_done {
                        let n = chunk.len();
                        reader.consume(n);
                        moved = true;
                        continue;
                    }
                    match inner.handle_input(now, chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            reader.consume(n);
                            moved = true;
                        }
                        Err(Error::Protocol(e)) => self.inner_error = Some(e),
                        Err(Error::User(_)) => self.inner_refuses_input = true,
                    }
                }
                // Ok(empty): close_notify received and every byte delivered.
                // UnexpectedEof: the transport closed without one.
                Ok(_) => {
                    if !self.inner_eof_sent && !self.inner_done {
                        self.inner_eof_sent = true;
                        inner.handle_eof(now);
                        moved = true;
                    }
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    if !self.inner_eof_sent && !self.inner_done {
                        self.inner_eof_sent = true;
                        inner.handle_eof(now);
                        moved = true;
                    }
                    break;
                }
                Err(_) => break,
            }
        }
        moved
    }

    /// Reads ciphertext from `data` for as long as every decrypted byte went
    /// on to the inner connection; returns how much was taken.
    fn ingest(&mut self, data: &[u8]) -> usize {
        let mut taken = 0;
        loop {
            self.feed_inner();
            // While we close, records are still read (to see the peer's
            // close_notify); their plaintext is dropped.
            if self.error.is_some() || self.peer_close_notify {
                break;
            }
            if taken == data.len() || self.plaintext_pending() {
                break;
            }
            match self.tls.read_tls(&mut &data[taken..]) {
                Ok(0) => break,
                Ok(n) => taken += n,
                Err(e) => {
                    let during = self.inner.is_none();
                    let e = rustls::Error::General(format!("reading TLS records: {e}"));
                    self.fail(TlsError::from_rustls(e, during));
                    break;
                }
            }
            self.process();
        }
        taken
    }

    /// Makes what progress buffered input allows: ciphertext left in the lent
    /// buffer, plaintext the inner connection refused before, the peer's EOF.
    /// Returns whether anything moved.
    fn progress(&mut self) -> bool {
        let mut moved = false;
        if !self.input.is_empty() {
            let mut buf = std::mem::take(self.input.bytes_mut());
            let n = self.ingest(&buf);
            if self.error.is_some() || self.peer_close_notify {
                buf.clear();
            } else {
                buf.advance(n);
            }
            *self.input.bytes_mut() = buf;
            moved |= n > 0;
        }
        moved |= self.feed_inner();
        if self.peer_eof && !self.eof_read && self.input.is_empty() && self.error.is_none() {
            if self.inner.is_none() {
                self.eof_read = true;
                if self.close_reason.is_none() {
                    self.fail(TlsError::new(TlsErrorKind::ClosedDuringHandshake, true));
                }
                return true;
            }
            if let Ok(0) = self.tls.read_tls(&mut io::empty()) {
                self.eof_read = true;
                moved |= self.feed_inner();
            }
        }
        moved
    }

    /// Encrypts the inner connection's output into `out` (up to the cap).
    fn pump(&mut self) {
        loop {
            self.flush_tls();
            let pending = self.pending_out();
            if self.error.is_some() || self.inner_done || pending >= self.cfg.max_transmit_buffer {
                break;
            }
            let Some(inner) = self.inner.as_mut() else { break };
            let budget = self.cfg.max_transmit_buffer - pending;
            let mut slices: [&[u8]; 16] = [&[]; 16];
            let n = inner.poll_transmit(&mut slices);
            if n == 0 {
                break;
            }
            let mut io = [IoSlice::new(&[]); 16];
            let (mut k, mut total) = (0, 0);
            for s in &slices[..n] {
                if total >= budget {
                    break;
                }
                let take = s.len().min(budget - total);
                io[k] = IoSlice::new(&s[..take]);
                k += 1;
                total += take;
            }
            let written = self.tls.writer().write_vectored(&io[..k]).unwrap_or(0);
            inner.advance_transmit(written);
            if written == 0 {
                self.flush_tls();
                break;
            }
        }
    }

    /// Input that arrived in the lent or owned buffer.
    fn after_buffered_input(&mut self) -> Result<(), Error> {
        if self.closed_emitted && self.error.is_none() {
            self.input.bytes_mut().clear();
            return Err(UserError::Closed.into());
        }
        if self.error.is_some() || self.peer_close_notify {
            self.input.bytes_mut().clear();
        } else {
            self.progress();
        }
        self.result(())
    }

    fn active_inner(&mut self) -> Result<&mut C, Error> {
        if self.error.is_some() || self.inner_done || self.closed_emitted || self.close_reason.is_some() {
            return Err(UserError::Closed.into());
        }
        self.inner.as_mut().ok_or(Error::User(UserError::Busy))
    }
}

impl<C: Connection> Connection for Tls<C> {
    fn handle_input(&mut self, now: Instant, input: &[u8]) -> Result<usize, Error> {
        self.touch(now);
        if let Some(e) = self.sticky() {
            return Err(Error::Protocol(e));
        }
        if self.closed_emitted {
            return Err(UserError::Closed.into());
        }
        // Nothing is read after the peer's close_notify.
        if self.peer_close_notify {
            return Ok(input.len());
        }
        self.progress();
        if !self.input.is_empty() {
            return self.result(0);
        }
        let mut n = self.ingest(input);
        if self.peer_close_notify {
            n = input.len();
        }
        self.result(n)
    }

    fn handle_eof(&mut self, now: Instant) {
        self.touch(now);
        if self.closed_emitted || self.peer_eof {
            return;
        }
        self.peer_eof = true;
        self.progress();
    }

    fn input_buffer(&mut self) -> &mut [u8] {
        if self.closed_emitted || self.error.is_some() || self.peer_close_notify {
            return &mut [];
        }
        self.input.lend()
    }

    fn commit_input(&mut self, now: Instant, n: usize) -> Result<(), Error> {
        self.touch(now);
        self.input.commit(n)?;
        self.after_buffered_input()
    }

    fn take_input_buffer(&mut self) -> BytesMut {
        self.input.take()
    }

    fn return_input_buffer(&mut self, now: Instant, buf: BytesMut) -> Result<(), Error> {
        self.touch(now);
        self.input.give_back(buf);
        self.after_buffered_input()
    }

    fn poll_transmit<'a>(&'a mut self, out: &mut [&'a [u8]]) -> usize {
        self.turn_for_transmit();
        let mut n = 0;
        for chunk in &self.sealed {
            if n == out.len() {
                return n;
            }
            out[n] = chunk;
            n += 1;
        }
        if self.out_pos < self.out.len() && n < out.len() {
            out[n] = &self.out[self.out_pos..];
            n += 1;
        }
        n
    }

    fn advance_transmit(&mut self, n: usize) {
        let mut n = n.min(self.pending_out());
        while n > 0 {
            let Some(front) = self.sealed.front_mut() else {
                self.out_pos += n;
                break;
            };
            let k = n.min(front.len());
            front.advance(k);
            self.sealed_len -= k;
            n -= k;
            if front.is_empty() {
                self.sealed.pop_front();
            }
        }
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }

    /// The ciphertext written so far changes hands as one `Bytes` (its
    /// allocation, not a copy), queued behind what was handed out before.
    fn poll_transmit_owned(&mut self, out: &mut Vec<Bytes>, max: usize) -> usize {
        self.turn_for_transmit();
        if self.out_pos < self.out.len() {
            let chunk = Bytes::from(std::mem::take(&mut self.out)).slice(self.out_pos..);
            self.out_pos = 0;
            self.sealed_len += chunk.len();
            self.sealed.push_back(chunk);
        }
        let n = self.sealed.len().min(max);
        out.extend(self.sealed.iter().take(n).cloned());
        n
    }

    fn poll_event(&mut self) -> Option<Event> {
        if self.closed_emitted {
            return None;
        }
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        while !self.inner_done {
            let Some(inner) = self.inner.as_mut() else { break };
            match inner.poll_event() {
                Some(Event::Closed(reason)) => {
                    self.inner_done = true;
                    if self.error.is_none() {
                        self.close_with(reason);
                    }
                }
                Some(e) => return Some(e),
                None if self.error.is_some() => self.inner_done = true,
                None => {
                    // Plaintext the inner connection refused may fit now that
                    // its events were read; what it answers needs a turn.
                    if !self.progress() {
                        break;
                    }
                    self.needs_turn = true;
                }
            }
        }
        if let Some(e) = self.error_unreported.take() {
            return Some(Event::Error(e));
        }
        if let Some(reason) = self.close_reason {
            if self.inner_done || self.inner.is_none() {
                if self.flushed() {
                    self.closed_emitted = true;
                    return Some(Event::Closed(reason));
                }
                self.needs_turn = true;
            }
        }
        None
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.closed_emitted {
            return None;
        }
        if self.needs_turn {
            return Some(self.now);
        }
        if self.error.is_some() || self.close_reason.is_some() {
            return None;
        }
        match &self.inner {
            None => Some(self.started + self.cfg.handshake_timeout),
            Some(inner) if !self.inner_done => inner.poll_timeout(),
            Some(_) => None,
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        self.needs_turn = false;
        if self.closed_emitted || self.error.is_some() {
            return;
        }
        if self.inner.is_none() {
            if self.close_reason.is_none() && now >= self.started + self.cfg.handshake_timeout {
                self.tls.send_close_notify();
                self.fail(TlsError::new(TlsErrorKind::HandshakeTimeout, true));
            }
            return;
        }
        if !self.inner_done {
            if let Some(inner) = self.inner.as_mut() {
                inner.handle_timeout(now);
            }
        }
    }

    fn send_request(&mut self, head: &RequestHead, end_stream: bool) -> Result<StreamId, Error> {
        self.active_inner()?.send_request(head, end_stream)
    }

    fn send_response(&mut self, stream: StreamId, head: &ResponseHead, end_stream: bool) -> Result<(), Error> {
        self.active_inner()?.send_response(stream, head, end_stream)
    }

    fn send_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool) -> Result<usize, Error> {
        self.active_inner()?.send_data(stream, data, end_stream)
    }

    fn send_trailers(&mut self, stream: StreamId, trailers: &HeaderList) -> Result<(), Error> {
        self.active_inner()?.send_trailers(stream, trailers)
    }

    fn read_body(&mut self, stream: StreamId) -> Result<(), Error> {
        self.active_inner()?.read_body(stream)
    }

    fn release_capacity(&mut self, stream: StreamId, n: usize) -> Result<(), Error> {
        self.active_inner()?.release_capacity(stream, n)
    }

    fn flow_controlled(&self) -> bool {
        self.inner.as_ref().is_some_and(C::flow_controlled)
    }

    fn reset_stream(&mut self, stream: StreamId, code: ErrorCode) -> Result<(), Error> {
        self.active_inner()?.reset_stream(stream, code)
    }

    fn ping(&mut self, now: Instant) -> Result<(), Error> {
        self.touch(now);
        self.active_inner()?.ping(now)
    }

    /// Graceful shutdown: forwarded to the inner connection (which closes
    /// when its streams are done, then `close_notify` follows); during the
    /// handshake the connection closes at once with `close_notify` and
    /// [`CloseReason::Done`].
    fn shutdown(&mut self, now: Instant) {
        self.touch(now);
        if self.closed_emitted || self.error.is_some() || self.close_reason.is_some() {
            return;
        }
        match self.inner.as_mut() {
            Some(inner) if !self.inner_done => inner.shutdown(now),
            Some(_) => {}
            None => self.close_with(CloseReason::Done),
        }
    }

    fn failure_detail(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.error.as_ref().map(|e| e as _)
    }

    fn tls_facts(&self) -> Option<sockless_core::TlsFacts> {
        let hs = self.handshake()?;
        Some(sockless_core::TlsFacts {
            alpn: hs.alpn.as_deref().map(Bytes::copy_from_slice),
            sni: hs.sni.clone(),
            peer_certificates: hs.peer_certificates.iter().map(|c| Bytes::copy_from_slice(c)).collect(),
        })
    }

    fn is_closed(&self) -> bool {
        self.closed_emitted
            || (self.close_reason.is_some()
                && self.error_unreported.is_none()
                && (self.inner_done || self.inner.is_none())
                && self.flushed())
    }
}

impl<C> fmt::Debug for Tls<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("client", &matches!(self.tls, rustls::Connection::Client(_)))
            .field("handshake", &self.handshake)
            .field("inner", &self.inner.as_ref().map(|_| ()))
            .field("error", &self.error)
            .field("close_reason", &self.close_reason)
            .field("pending_out", &(self.sealed_len + self.out.len() - self.out_pos))
            .field("closed_emitted", &self.closed_emitted)
            .finish_non_exhaustive()
    }
}
