//! A blocking driver: one thread per connection, `std::io::Read + Write`,
//! the wall clock mapped onto [`Instant`]. It shows everything a driver
//! does: read into the connection, transmit vectored, poll events, sleep
//! until the next deadline.

use bytes::Bytes;
use sockless_core::{Connection, Event, Instant, RequestHead, ResponseHead, StreamId};
use sockless_h1::{ClientConnection, Config, ServerConnection};
use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant as StdInstant};

/// Maps the process's monotonic clock onto sockless [`Instant`]s.
#[derive(Clone, Copy, Debug)]
pub struct Clock(StdInstant);

impl Clock {
    /// A clock whose epoch is now.
    pub fn new() -> Self {
        Clock(StdInstant::now())
    }

    /// The current instant.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes everything the connection has queued, as vectored writes.
pub fn flush(conn: &mut impl Connection, io: &mut impl Write) -> io::Result<()> {
    loop {
        let mut slices: [&[u8]; 32] = [&[]; 32];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            return io.flush();
        }
        let io_slices: Vec<IoSlice<'_>> = slices[..n].iter().map(|s| IoSlice::new(s)).collect();
        let written = io.write_vectored(&io_slices)?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        conn.advance_transmit(written);
    }
}

/// Reads once into the connection's lent buffer (EOF becomes `handle_eof`).
/// Returns `Ok(false)` on EOF.
pub fn read_once(conn: &mut impl Connection, io: &mut TcpStream, clock: Clock) -> io::Result<bool> {
    let deadline = conn.poll_timeout();
    let wait = deadline.map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(clock.now().as_nanos())));
    if wait == Some(Duration::ZERO) {
        conn.handle_timeout(clock.now());
        return Ok(true);
    }
    io.set_read_timeout(wait)?;
    let buf = conn.input_buffer();
    if buf.is_empty() {
        // Backpressure: the application must make progress first.
        return Ok(true);
    }
    match io.read(buf) {
        Ok(0) => {
            conn.handle_eof(clock.now());
            Ok(false)
        }
        Ok(n) => {
            let _ = conn.commit_input(clock.now(), n);
            Ok(true)
        }
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            let _ = conn.commit_input(clock.now(), 0);
            conn.handle_timeout(clock.now());
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// What a server does with a complete request.
pub trait Handler {
    /// Answers a request whose whole body was received.
    fn handle(&mut self, head: &RequestHead, body: &[u8]) -> (ResponseHead, Bytes);
}

/// Serves one connection until it closes.
pub fn serve_connection(mut io: TcpStream, handler: &mut impl Handler, config: Config) -> io::Result<()> {
    io.set_nodelay(true)?;
    let clock = Clock::new();
    let mut conn = ServerConnection::new(config, clock.now());
    let mut pending: HashMap<StreamId, (RequestHead, Vec<u8>)> = HashMap::new();
    loop {
        flush(&mut conn, &mut io)?;
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Request { stream, head, .. } => {
                    let _ = conn.read_body(stream);
                    pending.insert(stream, (head, Vec::new()));
                }
                Event::Data { stream, data } => {
                    if let Some((_, body)) = pending.get_mut(&stream) {
                        body.extend_from_slice(&data);
                    }
                }
                Event::EndStream { stream } => {
                    if let Some((head, body)) = pending.remove(&stream) {
                        let (response, body) = handler.handle(&head, &body);
                        let response = response.header("Content-Length", body.len().to_string());
                        if conn.send_response(stream, &response, body.is_empty()).is_ok() {
                            // The connection takes what fits in its send buffer;
                            // a blocking driver writes that out and offers the rest.
                            let mut rest = body;
                            while !rest.is_empty() {
                                match conn.send_data(stream, rest.clone(), true) {
                                    Ok(n) => rest = rest.slice(n..),
                                    Err(_) => break,
                                }
                                flush(&mut conn, &mut io)?;
                            }
                        }
                    }
                }
                Event::Closed(_) | Event::Upgrade { .. } => {
                    flush(&mut conn, &mut io)?;
                    return Ok(());
                }
                _ => {}
            }
            flush(&mut conn, &mut io)?;
        }
        if conn.is_closed() {
            return Ok(());
        }
        read_once(&mut conn, &mut io, clock)?;
    }
}

/// Accepts connections forever, one thread each.
pub fn serve<H: Handler + Send + 'static>(listener: TcpListener, mut make: impl FnMut() -> H) {
    for stream in listener.incoming().flatten() {
        let mut handler = make();
        std::thread::spawn(move || serve_connection(stream, &mut handler, Config::server()));
    }
}

/// A complete response as the blocking client collects it.
#[derive(Debug)]
pub struct Fetched {
    /// The final response head.
    pub head: ResponseHead,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the connection can carry another request.
    pub reusable: bool,
}

/// A persistent blocking HTTP/1.1 client connection.
pub struct Client {
    io: TcpStream,
    conn: ClientConnection,
    clock: Clock,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: std::net::SocketAddr) -> io::Result<Self> {
        let io = TcpStream::connect(addr)?;
        io.set_nodelay(true)?;
        let clock = Clock::new();
        Ok(Client { io, conn: ClientConnection::new(Config::client(), clock.now()), clock })
    }

    /// Sends a request with `body` (streamed in `piece`-sized parts, chunked
    /// if no Content-Length is set) and collects the response.
    pub fn fetch(&mut self, head: &RequestHead, body: &[u8], piece: usize) -> io::Result<Fetched> {
        let err = |e: sockless_core::Error| io::Error::other(e.to_string());
        let stream = self.conn.send_request(head, body.is_empty()).map_err(err)?;
        let mut rest = Bytes::copy_from_slice(body);
        let mut result = Fetched { head: ResponseHead::new(0), body: Vec::new(), reusable: false };
        loop {
            while !rest.is_empty() {
                let n = self.conn.send_data(stream, rest.slice(..piece.min(rest.len())), false).map_err(err)?;
                if n == 0 {
                    // The send buffer is full: a blocking client writes it
                    // out before reading (the server reads concurrently).
                    flush(&mut self.conn, &mut self.io)?;
                    continue;
                }
                let _ = rest.split_to(n);
                if rest.is_empty() {
                    self.conn.send_data(stream, Bytes::new(), true).map_err(err)?;
                }
            }
            flush(&mut self.conn, &mut self.io)?;
            while let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Response { head, .. } => result.head = head,
                    Event::Data { data, .. } => result.body.extend_from_slice(&data),
                    Event::Ready { reusable } => {
                        result.reusable = reusable;
                        return Ok(result);
                    }
                    Event::Error(e) => return Err(io::Error::other(e.to_string())),
                    Event::Closed(reason) => return Err(io::Error::other(format!("closed: {reason:?}"))),
                    _ => {}
                }
            }
            if !read_once(&mut self.conn, &mut self.io, self.clock)? {
                // EOF: the events it caused are polled on the next round.
            }
        }
    }
}
