//! A raw HTTP/2 client over `std::net`: frames written by hand (the attacks
//! need frames no well-behaved library sends), HPACK from sockless-h2 for
//! ordinary request heads and for reading response heads. Blocking IO with
//! deadlines: a server that stops answering is an error, never a hang.

use sockless_h2::hpack::{Decoder, DecoderError, Encoder};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

/// The client connection preface.
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 section 6).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub mod flag {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS).
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS).
    pub const PRIORITY: u8 = 0x20;
}

/// Error codes (RFC 9113 section 7).
pub mod code {
    /// NO_ERROR.
    pub const NO_ERROR: u32 = 0x0;
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 0x1;
    /// CANCEL.
    pub const CANCEL: u32 = 0x8;
    /// ENHANCE_YOUR_CALM.
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
}

/// The name of an error code, for figures.
pub fn code_name(code: u32) -> String {
    let name = match code {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => return format!("error {code:#x}"),
    };
    name.to_string()
}

/// One frame, written: the 9-byte header and `payload`.
pub fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    assert!(len < 1 << 24, "a frame payload is at most 2^24 - 1 bytes");
    let mut out = Vec::with_capacity(9 + len);
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// SETTINGS with `(identifier, value)` pairs.
pub fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(pairs.len() * 6);
    for (id, value) in pairs {
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&value.to_be_bytes());
    }
    frame(kind::SETTINGS, 0, 0, &payload)
}

/// WINDOW_UPDATE of `increment` on `stream`.
pub fn window_update(stream: u32, increment: u32) -> Vec<u8> {
    frame(kind::WINDOW_UPDATE, 0, stream, &increment.to_be_bytes())
}

/// RST_STREAM with `code`.
pub fn rst_stream(stream: u32, code: u32) -> Vec<u8> {
    frame(kind::RST_STREAM, 0, stream, &code.to_be_bytes())
}

/// PING with `data`.
pub fn ping(data: [u8; 8]) -> Vec<u8> {
    frame(kind::PING, 0, 0, &data)
}

/// A frame read from the server.
#[derive(Clone, Debug)]
pub struct Frame {
    /// Type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream identifier.
    pub stream: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

/// What the client has seen of one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamSeen {
    /// `:status` of the response head, once it came.
    pub status: Option<u16>,
    /// DATA bytes received.
    pub body: usize,
    /// END_STREAM received.
    pub ended: bool,
    /// RST_STREAM received, with its code.
    pub reset: Option<u32>,
}

impl StreamSeen {
    /// The stream is over from the server's side.
    pub fn done(&self) -> bool {
        self.ended || self.reset.is_some()
    }
}

/// The largest window the client advertises, so that it never has to send
/// WINDOW_UPDATE for a stream (it still does for the connection).
const OUR_WINDOW: u32 = (1 << 31) - 1;

/// A raw HTTP/2 client connection (h2c, prior knowledge) that keeps the
/// flow-control bookkeeping a sender needs: the windows the server gave it.
pub struct H2 {
    /// The socket.
    pub stream: TcpStream,
    inbuf: Vec<u8>,
    decoder: Decoder,
    encoder: Encoder,
    authority: String,
    /// What the client may still send on the connection (the server's
    /// connection receive window, as the client accounts it).
    pub conn_window: i64,
    peer_initial_window: i64,
    peer_max_frame: usize,
    windows: HashMap<u32, i64>,
    next_stream: u32,
    /// GOAWAY received: (last stream id, error code).
    pub goaway: Option<(u32, u32)>,
    /// Per stream, what came back.
    pub seen: HashMap<u32, StreamSeen>,
    pending_block: Option<(u32, u8, Vec<u8>)>,
    unacked_received: u64,
    /// PING acknowledgements received.
    pub ping_acks: u64,
    /// SETTINGS acknowledgements received.
    pub settings_acks: u64,
    /// The connection ended in a TCP reset rather than a clean close (a
    /// server that closes with unread input sends RST, and the client's
    /// kernel then drops what it had not read yet: a GOAWAY can be lost so).
    pub reset_by_peer: bool,
}

impl H2 {
    /// Connects, sends the preface, SETTINGS (push off, the largest stream
    /// window) and a connection WINDOW_UPDATE, and waits until the server's
    /// SETTINGS came (acknowledged) and ours was acknowledged.
    pub fn connect(addr: SocketAddr) -> Result<H2, String> {
        let stream = crate::h1::connect(addr)?;
        let mut h2 = H2 {
            stream,
            inbuf: Vec::new(),
            decoder: Decoder::new(4096),
            encoder: Encoder::new(),
            authority: addr.to_string(),
            conn_window: 65_535,
            peer_initial_window: 65_535,
            peer_max_frame: 16_384,
            windows: HashMap::new(),
            next_stream: 1,
            goaway: None,
            seen: HashMap::new(),
            pending_block: None,
            unacked_received: 0,
            ping_acks: 0,
            settings_acks: 0,
            reset_by_peer: false,
        };
        let mut hello = PREFACE.to_vec();
        hello.extend(settings(&[(0x2, 0), (0x4, OUR_WINDOW)]));
        hello.extend(window_update(0, OUR_WINDOW - 65_535));
        h2.send(&hello)?;
        let deadline = Instant::now() + crate::h1::IO_TIMEOUT;
        let mut server_settings = false;
        while !(server_settings && h2.settings_acks > 0) {
            let f = h2.next_frame(deadline)?.ok_or("the server closed during the handshake")?;
            server_settings |= f.kind == kind::SETTINGS && f.flags & flag::ACK == 0;
            h2.apply(f)?;
        }
        Ok(h2)
    }

    /// Writes raw bytes (blocking, with the socket's write timeout).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("write: {e}"))
    }

    /// The stream id the next request will use.
    pub fn next_stream_id(&self) -> u32 {
        self.next_stream
    }

    /// A request head's HPACK block: `method`, `path` and `extra` fields.
    pub fn head_block(&mut self, method: &str, path: &str, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut block = Vec::new();
        let authority = self.authority.clone();
        let fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", authority.as_str())];
        self.encoder.encode(fields.iter().copied().chain(extra.iter().copied()), &mut block);
        block
    }

    /// Opens the next stream with a request head; returns its id.
    pub fn send_head(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        end_stream: bool,
    ) -> Result<u32, String> {
        let id = self.next_stream;
        self.next_stream += 2;
        let block = self.head_block(method, path, extra);
        let flags = flag::END_HEADERS | if end_stream { flag::END_STREAM } else { 0 };
        self.windows.insert(id, self.peer_initial_window);
        self.seen.insert(id, StreamSeen::default());
        self.send(&frame(kind::HEADERS, flags, id, &block))?;
        Ok(id)
    }

    /// Sends `data` on `id` as flow control allows, reading the server's
    /// frames (WINDOW_UPDATE) while the windows are closed. Returns the bytes
    /// sent: all of them, or fewer when the server ended the stream first (a
    /// response with END_STREAM, or RST_STREAM). Err if no window opens
    /// before `deadline`, naming both windows: that is a stall.
    pub fn send_body(&mut self, id: u32, data: &[u8], end_stream: bool, deadline: Instant) -> Result<usize, String> {
        let mut sent = 0;
        loop {
            if self.seen.get(&id).is_some_and(StreamSeen::done) {
                return Ok(sent);
            }
            let left = data.len() - sent;
            let window = self.conn_window.min(*self.windows.get(&id).unwrap_or(&0)).max(0) as usize;
            let n = left.min(window).min(self.peer_max_frame);
            if n > 0 || left == 0 {
                let last = n == left;
                let flags = if last && end_stream { flag::END_STREAM } else { 0 };
                let f = frame(kind::DATA, flags, id, &data[sent..sent + n]);
                self.send(&f)?;
                self.conn_window -= n as i64;
                if let Some(w) = self.windows.get_mut(&id) {
                    *w -= n as i64;
                }
                sent += n;
                if last {
                    return Ok(sent);
                }
                continue;
            }
            let Some(f) = self.next_frame(deadline).map_err(|e| {
                format!(
                    "stalled after {sent} of {} body bytes on stream {id}: connection window {}, stream window {} ({e})",
                    data.len(),
                    self.conn_window,
                    self.windows.get(&id).unwrap_or(&0)
                )
            })?
            else {
                return Err("the server closed the connection".into());
            };
            self.apply(f)?;
        }
    }

    /// Reads frames until stream `id` is done; returns what it got.
    pub fn finish(&mut self, id: u32, deadline: Instant) -> Result<StreamSeen, String> {
        loop {
            if let Some(seen) = self.seen.get(&id) {
                if seen.done() {
                    return Ok(seen.clone());
                }
            }
            match self.next_frame(deadline)? {
                Some(f) => self.apply(f)?,
                None => return Err(format!("the server closed the connection before stream {id} ended")),
            }
        }
    }

    /// GET `path` and wait for the whole response.
    pub fn get(&mut self, path: &str) -> Result<StreamSeen, String> {
        let id = self.send_head("GET", path, &[], true)?;
        let seen = self.finish(id, Instant::now() + crate::h1::IO_TIMEOUT)?;
        self.forget(id);
        Ok(seen)
    }

    /// Reads the next frame, `Ok(None)` at EOF; Err on a timeout at `deadline`.
    pub fn next_frame(&mut self, deadline: Instant) -> Result<Option<Frame>, String> {
        loop {
            if self.inbuf.len() >= 9 {
                let len = (self.inbuf[0] as usize) << 16 | (self.inbuf[1] as usize) << 8 | self.inbuf[2] as usize;
                if self.inbuf.len() >= 9 + len {
                    let stream =
                        u32::from_be_bytes([self.inbuf[5], self.inbuf[6], self.inbuf[7], self.inbuf[8]]) & 0x7fff_ffff;
                    let f = Frame {
                        kind: self.inbuf[3],
                        flags: self.inbuf[4],
                        stream,
                        payload: self.inbuf[9..9 + len].to_vec(),
                    };
                    self.inbuf.drain(..9 + len);
                    return Ok(Some(f));
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("timed out waiting for a frame".into());
            }
            self.stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.inbuf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    return Err("timed out waiting for a frame".into())
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    self.reset_by_peer = true;
                    return Ok(None);
                }
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Reads and applies frames until `done(self)` holds (`Ok(true)`), or
    /// EOF or `deadline` (`Ok(false)`). An acknowledgement that can no longer
    /// be written (the server closed its side) is not an error here: the
    /// frames already read are what the caller wants to see.
    pub fn read_until(&mut self, deadline: Instant, done: impl Fn(&H2) -> bool) -> Result<bool, String> {
        while !done(self) {
            match self.next_frame(deadline) {
                Ok(Some(f)) => {
                    let _ = self.apply(f);
                }
                Ok(None) => return Ok(false),
                Err(_) if Instant::now() >= deadline => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Takes in one frame from the server: windows, acks, heads, bodies, resets.
    pub fn apply(&mut self, f: Frame) -> Result<(), String> {
        match f.kind {
            kind::SETTINGS if f.flags & flag::ACK != 0 => self.settings_acks += 1,
            kind::SETTINGS => {
                for pair in f.payload.chunks_exact(6) {
                    let id = u16::from_be_bytes([pair[0], pair[1]]);
                    let value = u32::from_be_bytes([pair[2], pair[3], pair[4], pair[5]]);
                    match id {
                        0x4 => {
                            let delta = value as i64 - self.peer_initial_window;
                            self.peer_initial_window = value as i64;
                            self.windows.values_mut().for_each(|w| *w += delta);
                        }
                        0x5 => self.peer_max_frame = value as usize,
                        _ => {}
                    }
                }
                self.send(&frame(kind::SETTINGS, flag::ACK, 0, &[]))?;
            }
            kind::PING if f.flags & flag::ACK != 0 => self.ping_acks += 1,
            kind::PING => self.send(&frame(kind::PING, flag::ACK, 0, &f.payload))?,
            kind::WINDOW_UPDATE if f.payload.len() == 4 => {
                let inc =
                    (u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]) & 0x7fff_ffff) as i64;
                if f.stream == 0 {
                    self.conn_window += inc;
                } else if let Some(w) = self.windows.get_mut(&f.stream) {
                    *w += inc;
                }
            }
            kind::GOAWAY if f.payload.len() >= 8 => {
                let last = u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]);
                self.goaway = Some((last, code));
            }
            kind::RST_STREAM if f.payload.len() == 4 => {
                let code = u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]);
                self.seen.entry(f.stream).or_default().reset = Some(code);
            }
            kind::HEADERS => {
                let mut body = &f.payload[..];
                if f.flags & flag::PADDED != 0 {
                    let pad = *body.first().ok_or("empty padded HEADERS")? as usize;
                    body = body.get(1..body.len().saturating_sub(pad)).ok_or("bad HEADERS padding")?;
                }
                if f.flags & flag::PRIORITY != 0 {
                    body = body.get(5..).ok_or("short HEADERS priority")?;
                }
                self.pending_block = Some((f.stream, f.flags, body.to_vec()));
                if f.flags & flag::END_HEADERS != 0 {
                    self.end_block()?;
                }
            }
            kind::CONTINUATION => {
                let (_, _, block) = self.pending_block.as_mut().ok_or("CONTINUATION without HEADERS")?;
                block.extend_from_slice(&f.payload);
                if f.flags & flag::END_HEADERS != 0 {
                    self.end_block()?;
                }
            }
            kind::DATA => {
                let mut len = f.payload.len();
                if f.flags & flag::PADDED != 0 {
                    len = len.saturating_sub(1 + *f.payload.first().unwrap_or(&0) as usize);
                }
                let seen = self.seen.entry(f.stream).or_default();
                seen.body += len;
                seen.ended |= f.flags & flag::END_STREAM != 0;
                // Streams have the largest window; the connection's is given back
                // in large steps so it never runs out.
                self.unacked_received += f.payload.len() as u64;
                if self.unacked_received >= 64 << 20 {
                    let inc = self.unacked_received as u32;
                    self.unacked_received = 0;
                    self.send(&window_update(0, inc))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end_block(&mut self) -> Result<(), String> {
        let Some((id, flags, block)) = self.pending_block.take() else { return Ok(()) };
        let mut status = None;
        self.decoder
            .decode(&block, 1 << 20, |name: &[u8], value: &[u8], _| {
                if name == b":status" {
                    status = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
                }
                Ok::<(), DecoderError>(())
            })
            .map_err(|e| format!("HPACK from the server: {e:?}"))?;
        let seen = self.seen.entry(id).or_default();
        // A 1xx head is followed by the final one; keep the final status.
        if seen.status.is_none_or(|s| s < 200) {
            seen.status = status;
        }
        seen.ended |= flags & flag::END_STREAM != 0;
        Ok(())
    }

    /// Forgets a finished stream's bookkeeping.
    pub fn forget(&mut self, id: u32) {
        self.seen.remove(&id);
        self.windows.remove(&id);
    }
}
