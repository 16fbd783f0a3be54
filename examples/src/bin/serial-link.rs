//! A custom transport with no socket at all: an HTTP/1.1 client and server,
//! each on its own thread, talking over a serial-like byte channel that
//! carries at most 16 bytes per transfer (a UART FIFO). This is what an
//! embedded user writes: move bytes between the link and the connection,
//! feed it the time, and follow the Connection contract's loop.

use sockless_core::cycle::{self, Input, Transfer, Transport};
use sockless_core::{Bytes, Connection, Event, Method, RequestHead, ResponseHead};
use sockless_examples::blocking::Clock;
use sockless_h1::{ClientConnection, Config, ServerConnection};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// One end of the serial line.
struct Serial {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
    /// Part of the last transfer the connection's buffer had no room for.
    pending: Vec<u8>,
    /// How long the next read waits for a transfer.
    wait: Duration,
}

const FIFO: usize = 16;

impl Serial {
    fn pair() -> (Serial, Serial) {
        let (a_tx, b_rx) = channel();
        let (b_tx, a_rx) = channel();
        let end = |tx, rx| Serial { tx, rx, pending: Vec::new(), wait: Duration::ZERO };
        (end(a_tx, a_rx), end(b_tx, b_rx))
    }

    /// Waits for the next transfer or the connection's deadline, and feeds
    /// what came; `false` once the line is gone.
    fn receive(&mut self, conn: &mut impl Connection, clock: Clock) -> bool {
        self.wait = conn
            .poll_timeout()
            .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(clock.now().as_nanos())))
            .unwrap_or(Duration::from_secs(5));
        match cycle::read_lent(conn, self, clock.now()) {
            Ok(Input::Eof) => false,
            Ok(Input::WouldBlock) => {
                cycle::fire_timers(conn, clock.now());
                true
            }
            Ok(_) => true,
            Err(never) => match never {},
        }
    }
}

/// The line as the shared cycle's transport: a write moves at most one
/// FIFO's worth, a read waits up to `wait` for the next transfer.
impl Transport for Serial {
    type Error = std::convert::Infallible;

    fn read(&mut self, buf: &mut [u8]) -> Result<Transfer, Self::Error> {
        if self.pending.is_empty() {
            match self.rx.recv_timeout(self.wait) {
                Ok(bytes) => self.pending = bytes,
                Err(RecvTimeoutError::Timeout) => return Ok(Transfer::WouldBlock),
                Err(RecvTimeoutError::Disconnected) => return Ok(Transfer::Done(0)),
            }
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(Transfer::Done(n))
    }

    fn write_vectored(&mut self, bufs: &[&[u8]]) -> Result<Transfer, Self::Error> {
        let first = bufs.first().copied().unwrap_or_default();
        let k = first.len().min(FIFO);
        let _ = self.tx.send(first[..k].to_vec());
        Ok(Transfer::Done(k))
    }
}

fn server(mut line: Serial) {
    let clock = Clock::new();
    let mut conn = ServerConnection::new(Config::server(), clock.now());
    loop {
        let settled = cycle::settle(&mut conn, &mut line, |conn, event| {
            if let Event::EndStream { stream } = event {
                let head = ResponseHead::new(200).header("Content-Type", "text/plain");
                conn.send_response(stream, &head, false).unwrap();
                conn.send_data(stream, Bytes::from_static(b"temperature=21.5C\n"), true).unwrap();
            }
        });
        if settled.map_or(true, |s| s.finished) || !line.receive(&mut conn, clock) {
            return;
        }
    }
}

fn main() {
    let (mut client_end, server_end) = Serial::pair();
    let server_thread = std::thread::spawn(move || server(server_end));
    let clock = Clock::new();
    let mut conn = ClientConnection::new(Config::client(), clock.now());
    let mut transfers = 0;
    for i in 0..3 {
        let head = RequestHead::new(Method::Get, format!("/sensor/{i}")).header("Host", "device");
        let stream = conn.send_request(&head, true).unwrap();
        let mut body = Vec::new();
        let mut ready = false;
        while !ready {
            let settled = cycle::settle(&mut conn, &mut client_end, |_conn, event| match event {
                Event::Data { data, .. } => body.extend_from_slice(&data),
                Event::Ready { .. } => ready = true,
                Event::Error(e) => panic!("{e}"),
                _ => {}
            });
            if ready || settled.map_or(true, |s| s.finished) {
                break;
            }
            client_end.receive(&mut conn, clock);
            transfers += 1;
        }
        print!("GET /sensor/{i} on stream {stream}: {}", String::from_utf8_lossy(&body));
    }
    println!("{transfers} serial transfers of at most {FIFO} bytes, no socket involved");
    drop(client_end);
    server_thread.join().unwrap();
}
