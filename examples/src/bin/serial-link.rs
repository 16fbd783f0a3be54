//! A custom transport with no socket at all: an HTTP/1.1 client and server,
//! each on its own thread, talking over a serial-like byte channel that
//! carries at most 16 bytes per transfer (a UART FIFO). This is what an
//! embedded user writes: move bytes between the link and the connection,
//! feed it the time, and follow the Connection contract's loop.

use sockless_core::{Bytes, Connection, Event, Method, RequestHead, ResponseHead};
use sockless_examples::blocking::Clock;
use sockless_h1::{ClientConnection, Config, ServerConnection};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// One end of the serial line.
struct Serial {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

const FIFO: usize = 16;

impl Serial {
    fn pair() -> (Serial, Serial) {
        let (a_tx, b_rx) = channel();
        let (b_tx, a_rx) = channel();
        (Serial { tx: a_tx, rx: a_rx }, Serial { tx: b_tx, rx: b_rx })
    }

    /// Writes everything the connection has queued, FIFO-sized.
    fn transmit(&self, conn: &mut impl Connection) {
        loop {
            let mut slices: [&[u8]; 8] = [&[]; 8];
            let n = conn.poll_transmit(&mut slices);
            if n == 0 {
                return;
            }
            let first = slices[0];
            let k = first.len().min(FIFO);
            let _ = self.tx.send(first[..k].to_vec());
            conn.advance_transmit(k);
        }
    }

    /// Waits for the next transfer or the connection's deadline.
    fn receive(&self, conn: &mut impl Connection, clock: Clock) -> bool {
        let wait = conn
            .poll_timeout()
            .map(|d| Duration::from_nanos(d.as_nanos().saturating_sub(clock.now().as_nanos())))
            .unwrap_or(Duration::from_secs(5));
        match self.rx.recv_timeout(wait) {
            Ok(bytes) => {
                let _ = conn.handle_input(clock.now(), &bytes);
                true
            }
            Err(RecvTimeoutError::Timeout) => {
                conn.handle_timeout(clock.now());
                true
            }
            Err(RecvTimeoutError::Disconnected) => {
                conn.handle_eof(clock.now());
                false
            }
        }
    }
}

fn server(line: Serial) {
    let clock = Clock::new();
    let mut conn = ServerConnection::new(Config::server(), clock.now());
    loop {
        line.transmit(&mut conn);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::EndStream { stream } => {
                    let head = ResponseHead::new(200).header("Content-Type", "text/plain");
                    conn.send_response(stream, &head, false).unwrap();
                    conn.send_data(stream, Bytes::from_static(b"temperature=21.5C\n"), true).unwrap();
                }
                Event::Closed(_) => {
                    line.transmit(&mut conn);
                    return;
                }
                _ => {}
            }
            line.transmit(&mut conn);
        }
        if !line.receive(&mut conn, clock) {
            return;
        }
    }
}

fn main() {
    let (client_end, server_end) = Serial::pair();
    let server_thread = std::thread::spawn(move || server(server_end));
    let clock = Clock::new();
    let mut conn = ClientConnection::new(Config::client(), clock.now());
    let mut transfers = 0;
    for i in 0..3 {
        let head = RequestHead::new(Method::Get, format!("/sensor/{i}")).header("Host", "device");
        let stream = conn.send_request(&head, true).unwrap();
        let mut body = Vec::new();
        'exchange: loop {
            client_end.transmit(&mut conn);
            while let Some(event) = conn.poll_event() {
                match event {
                    Event::Data { data, .. } => body.extend_from_slice(&data),
                    Event::Ready { .. } => break 'exchange,
                    Event::Error(e) => panic!("{e}"),
                    _ => {}
                }
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
