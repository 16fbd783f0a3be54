//! # sockless-uring
//!
//! sockless on io_uring, Linux's completion IO: loop threads (one per core
//! by default), each with its own ring, its own SO_REUSEPORT listener
//! under a multishot accept, and its connections in a slab. Every receive
//! fills the connection's own input buffer
//! ([`take_input_buffer`](sockless_core::Connection::take_input_buffer))
//! and every send writes the connection's owned output chunks
//! ([`poll_transmit_owned`](sockless_core::Connection::poll_transmit_owned));
//! the kernel holds both until their completions arrive, which is the
//! model of Windows IO completion ports too (docs/drivers.md maps one onto
//! the other). One `io_uring_enter` per loop iteration submits what the
//! round queued and waits, with the timer wheel's next expiry as its
//! timeout.
//!
//! Everything above the bytes is sockless-epoll's: the connections'
//! handlers (`Fn(Request) -> impl Future<Output = Response>`, streamed
//! [`Body`]s with backpressure, cancellation on reset), the worker pool, the
//! timer wheel, the inbox, graceful shutdown and the connection ceiling.
//!
//! ```no_run
//! use sockless_core::{Bytes, Instant, ResponseHead};
//! use sockless_rt::{Request, Response};
//! use sockless_uring::{serve, UringOptions};
//!
//! fn main() -> std::io::Result<()> {
//!     // Every protocol: HTTP/1.1, h2c by prior knowledge or Upgrade.
//!     let make = |now: Instant| {
//!         sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), now)
//!     };
//!     let hello = |_req: Request| {
//!         let head = ResponseHead::new(200).header("content-length", "13");
//!         std::future::ready(Response::new(head, Bytes::from_static(b"Hello, World!")))
//!     };
//!     // Fails at once, saying why, where the kernel refuses io_uring.
//!     let server = serve("127.0.0.1:8080".parse().unwrap(), make, hello, UringOptions::default())?;
//!     println!("listening on {}", server.local_addr());
//!     server.join()
//! }
//! ```
#![cfg(target_os = "linux")]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod event_loop;
mod ring;

pub use ring::{probe, RingFlags};
pub use sockless_epoll::Server;
pub use sockless_rt::{Body, Request, Response, ServerOptions, ShutdownSignal};

use event_loop::{Loop, Setup};
use sockless_core::{Connection, Instant};
use sockless_epoll::inbox::Inbox;
use sockless_epoll::workers::Workers;
use sockless_rt::Clock;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{mpsc, Arc};

/// How the io_uring server runs.
#[derive(Clone, Debug)]
pub struct UringOptions {
    /// Loop threads; `0` (the default) is one per available core.
    pub threads: usize,
    /// What the other drivers take too: the connection ceiling (shared
    /// evenly by the loops; a loop at its share cancels its accept),
    /// graceful shutdown and its drain timeout, TCP_NODELAY, the HTTP/1.1
    /// body cap, and
    /// [`max_concurrent_handlers`](ServerOptions::max_concurrent_handlers),
    /// the size of a worker pool that runs every handler off the loops.
    pub server: ServerOptions,
    /// The listen backlog of each loop's listener.
    pub backlog: i32,
}

impl Default for UringOptions {
    fn default() -> Self {
        UringOptions { threads: 0, server: ServerOptions::default(), backlog: 1024 }
    }
}

/// Serves `addr` on io_uring loop threads until the shutdown signal in
/// `options.server` is triggered and the connections drained.
///
/// `make_connection(now)` builds the protocol connection for each accepted
/// socket on the loop thread that accepted it; `handler` answers each
/// request (each HTTP/2 stream), as on every other driver. Returns once
/// every loop has its ring and listens, or fails with
/// [`io::ErrorKind::Unsupported`] and the reason where the kernel refuses
/// io_uring (see [`probe`]).
pub fn serve<M, C, H, F>(addr: SocketAddr, make_connection: M, handler: H, options: UringOptions) -> io::Result<Server>
where
    M: Fn(Instant) -> C + Send + Sync + 'static,
    C: Connection + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let n = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // The first listener picks the port; the others share it.
    let first = sockless_epoll::sock::listener(addr, options.backlog)?;
    let addr = sockless_epoll::sock::local_addr(&first)?;
    let mut listeners = vec![first];
    for _ in 1..n {
        listeners.push(sockless_epoll::sock::listener(addr, options.backlog)?);
    }
    let workers = match options.server.max_concurrent_handlers {
        Some(w) => Some(Arc::new(Workers::new(w)?)),
        None => None,
    };
    let make = Arc::new(make_connection);
    let handler = Arc::new(handler);
    let clock = Clock::new(std::time::Instant::now());
    let per_loop = options.server.max_connections.div_ceil(n).max(1);
    let mut threads = Vec::new();
    let mut inboxes = Vec::new();
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
    for (i, listener) in listeners.into_iter().enumerate() {
        let inbox = Arc::new(Inbox::new()?);
        inboxes.push(inbox.clone());
        let setup = Setup {
            listener,
            inbox,
            make: make.clone(),
            handler: handler.clone(),
            workers: workers.clone(),
            options: options.server.clone(),
            max_connections: per_loop,
            clock,
        };
        let ready = ready_tx.clone();
        let t = std::thread::Builder::new().name(format!("sockless-uring-{i}")).spawn(move || {
            // The ring is made on the thread that submits to it (a
            // single-issuer ring belongs to the thread that made it).
            let ring = match ring::new_ring() {
                Ok((ring, _)) => {
                    let _ = ready.send(Ok(()));
                    ring
                }
                Err(e) => {
                    let copy = io::Error::new(e.kind(), e.to_string());
                    let _ = ready.send(Err(e));
                    return Err(copy);
                }
            };
            Loop::new(ring, setup).run()
        })?;
        threads.push(t);
    }
    drop(ready_tx);
    let server = Server::from_parts(addr, threads, inboxes, options.server.shutdown.clone());
    for _ in 0..n {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                server.shutdown();
                let _ = server.join();
                return Err(e);
            }
            Err(_) => return Err(io::Error::other("a loop thread died at start-up")),
        }
    }
    Ok(server)
}
