//! A blocking driver: one thread per connection, `std::io::Read + Write`,
//! the wall clock mapped onto [`Instant`]. It shows everything a driver
//! adds to the shared [`cycle`]: a way to wait (a blocking read with a
//! timeout until the next deadline) and the application's handling of
//! events.

use bytes::Bytes;
use sockless_core::cycle::{self, Input, StdIo};
use sockless_core::{Connection, Event, Instant, RequestHead, ResponseHead, StreamId};
use sockless_h1::{ClientConnection, Config, ServerConnection};
use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Instant as StdInstant;

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

/// Waits for input until the connection's next deadline, then reads once
/// into it (EOF becomes `handle_eof`) or fires its timers.
pub fn wait_and_read(conn: &mut impl Connection, io: &mut StdIo<TcpStream>, clock: Clock) -> io::Result<Input> {
    let now = clock.now();
    let wait = match conn.poll_timeout() {
        Some(deadline) if deadline <= now => {
            conn.handle_timeout(now);
            return Ok(Input::WouldBlock);
        }
        Some(deadline) => Some(deadline - now),
        None => None,
    };
    io.0.set_read_timeout(wait)?;
    let input = cycle::read_lent(conn, io, clock.now())?;
    if input == Input::WouldBlock {
        // The read timed out: a deadline passed.
        cycle::fire_timers(conn, clock.now());
    }
    Ok(input)
}

/// What a server does with a complete request.
pub trait Handler {
    /// Answers a request whose whole body was received.
    fn handle(&mut self, head: &RequestHead, body: &[u8]) -> (ResponseHead, Bytes);
}

/// Serves one connection until it closes.
pub fn serve_connection(io: TcpStream, handler: &mut impl Handler, config: Config) -> io::Result<()> {
    io.set_nodelay(true)?;
    let clock = Clock::new();
    let mut io = StdIo(io);
    let mut conn = ServerConnection::new(config, clock.now());
    let mut pending: HashMap<StreamId, (RequestHead, Vec<u8>)> = HashMap::new();
    // Response bodies the connection did not take whole yet (its send
    // buffer is bounded): offered again once the cycle wrote some out.
    let mut unsent: Vec<(StreamId, Bytes)> = Vec::new();
    loop {
        let settled = cycle::settle(&mut conn, &mut io, |conn, event| match event {
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
                    if conn.send_response(stream, &response, body.is_empty()).is_ok() && !body.is_empty() {
                        unsent.push((stream, body));
                    }
                }
            }
            _ => {}
        })?;
        if settled.finished || conn.is_closed() {
            return Ok(());
        }
        let mut offered = false;
        for (stream, rest) in unsent.iter_mut() {
            if let Ok(n) = conn.send_data(*stream, rest.clone(), true) {
                offered |= n > 0;
                *rest = rest.slice(n..);
            } else {
                *rest = Bytes::new();
            }
        }
        unsent.retain(|(_, rest)| !rest.is_empty());
        if offered {
            continue; // write it out before waiting for input
        }
        wait_and_read(&mut conn, &mut io, clock)?;
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
    io: StdIo<TcpStream>,
    conn: ClientConnection,
    clock: Clock,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: std::net::SocketAddr) -> io::Result<Self> {
        let io = TcpStream::connect(addr)?;
        io.set_nodelay(true)?;
        let clock = Clock::new();
        Ok(Client { io: StdIo(io), conn: ClientConnection::new(Config::client(), clock.now()), clock })
    }

    /// Sends a request with `body` (streamed in `piece`-sized parts, chunked
    /// if no Content-Length is set) and collects the response.
    pub fn fetch(&mut self, head: &RequestHead, body: &[u8], piece: usize) -> io::Result<Fetched> {
        let err = |e: sockless_core::Error| io::Error::other(e.to_string());
        let stream = self.conn.send_request(head, body.is_empty()).map_err(err)?;
        let mut rest = Bytes::copy_from_slice(body);
        let mut result = Fetched { head: ResponseHead::new(0), body: Vec::new(), reusable: false };
        let mut outcome: Option<io::Result<()>> = None;
        loop {
            // Offer the body while the connection takes it; what it holds
            // back waits until the cycle wrote some out (the server reads
            // concurrently).
            while !rest.is_empty() {
                let n = self.conn.send_data(stream, rest.slice(..piece.min(rest.len())), false).map_err(err)?;
                if n == 0 {
                    break;
                }
                let _ = rest.split_to(n);
                if rest.is_empty() {
                    self.conn.send_data(stream, Bytes::new(), true).map_err(err)?;
                }
            }
            let settled = cycle::settle(&mut self.conn, &mut self.io, |_conn, event| match event {
                Event::Response { head, .. } => result.head = head,
                Event::Data { data, .. } => result.body.extend_from_slice(&data),
                Event::Ready { reusable } => {
                    result.reusable = reusable;
                    outcome.get_or_insert(Ok(()));
                }
                Event::Error(e) => {
                    outcome.get_or_insert(Err(io::Error::other(e.to_string())));
                }
                Event::Closed(reason) => {
                    outcome.get_or_insert(Err(io::Error::other(format!("closed: {reason:?}"))));
                }
                _ => {}
            })?;
            if let Some(outcome) = outcome.take() {
                return outcome.map(|()| result);
            }
            if settled.finished {
                return Err(io::Error::other("closed"));
            }
            if !rest.is_empty() {
                continue; // the cycle made room: offer more of the body
            }
            // EOF is passed to the connection; its events come next round.
            wait_and_read(&mut self.conn, &mut self.io, self.clock)?;
        }
    }
}
