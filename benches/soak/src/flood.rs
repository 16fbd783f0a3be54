//! Writing to a server that is not being read from: the client side of
//! every "never reads" attack.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Writes `frames` on `stream` without ever reading, until all are written or
/// the server stops taking bytes for `stall` (it stopped reading: back
/// pressure) or closes. Returns how many frames went out whole and why it stopped.
pub fn flood(stream: &mut TcpStream, frames: impl Iterator<Item = Vec<u8>>, stall: Duration) -> (u64, FloodEnd) {
    if stream.set_nonblocking(true).is_err() {
        return (0, FloodEnd::Closed);
    }
    let mut sent = 0;
    let mut end = FloodEnd::AllWritten;
    'frames: for f in frames {
        let mut off = 0;
        let mut blocked_since: Option<Instant> = None;
        while off < f.len() {
            match stream.write(&f[off..]) {
                Ok(0) => {
                    end = FloodEnd::Closed;
                    break 'frames;
                }
                Ok(n) => {
                    off += n;
                    blocked_since = None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let since = *blocked_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= stall {
                        end = FloodEnd::Stalled;
                        break 'frames;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => {
                    end = FloodEnd::Closed;
                    break 'frames;
                }
            }
        }
        sent += 1;
    }
    let _ = stream.set_nonblocking(false);
    (sent, end)
}

/// Why [`flood`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloodEnd {
    /// Every frame was written.
    AllWritten,
    /// The server took no bytes for the stall time: it stopped reading.
    Stalled,
    /// The connection was closed or reset.
    Closed,
}
