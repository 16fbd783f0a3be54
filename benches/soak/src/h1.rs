//! A raw HTTP/1.1 client over `std::net`: requests written by hand,
//! responses read with httparse. Every read and write has a timeout, so a
//! server that stops answering is an error, never a hang.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The request the ordinary clients send.
pub const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n";

/// Connects with [`IO_TIMEOUT`] on connect, reads and writes, and `TCP_NODELAY`.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(IO_TIMEOUT)).map_err(|e| e.to_string())?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(s)
}

/// A response's status and what the client needs to know about its framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Bytes of body read.
    pub body_len: usize,
    /// The server said `Connection: close`.
    pub close: bool,
}

/// One keep-alive connection with its read buffer (bytes of the next
/// response may arrive with the previous one).
pub struct Client {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Result<Client, String> {
        Ok(Client { stream: connect(addr)?, buf: Vec::new() })
    }

    /// Wraps a connected socket.
    pub fn from_stream(stream: TcpStream) -> Client {
        Client { stream, buf: Vec::new() }
    }

    /// Sends [`GET`] and reads the response.
    pub fn get(&mut self) -> Result<Response, String> {
        self.stream.write_all(GET).map_err(|e| format!("write: {e}"))?;
        self.read_response()
    }

    /// Reads one response (head and `Content-Length` body; HEAD-less GETs
    /// only, which is all the suite sends).
    pub fn read_response(&mut self) -> Result<Response, String> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = parsed.code.unwrap_or(0);
                    let mut length = 0usize;
                    let mut close = false;
                    for h in parsed.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            length = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .ok_or("bad content-length")?;
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = h.value.eq_ignore_ascii_case(b"close");
                        }
                    }
                    while self.buf.len() < head_len + length {
                        self.fill()?;
                    }
                    self.buf.drain(..head_len + length);
                    return Ok(Response { status, body_len: length, close });
                }
                Ok(httparse::Status::Partial) => self.fill()?,
                Err(e) => return Err(format!("bad response head: {e}")),
            }
        }
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err("the server closed the connection".into()),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                Err(format!("no answer within {} s", IO_TIMEOUT.as_secs()))
            }
            Err(e) => Err(format!("read: {e}")),
        }
    }
}

/// Connects, sends one GET and returns its status: "is the server serving?".
pub fn probe(addr: SocketAddr) -> Result<u16, String> {
    Client::connect(addr)?.get().map(|r| r.status)
}

/// Whether the peer has closed `stream` already, without waiting.
pub fn is_closed(stream: &mut TcpStream) -> Result<bool, String> {
    stream.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut chunk = [0u8; 4096];
    let result = loop {
        match stream.read(&mut chunk) {
            Ok(0) => break Ok(true),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break Ok(false),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break Ok(true),
            Err(e) => break Err(format!("read: {e}")),
        }
    };
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    result
}
