//! # sockless-epoll
//!
//! sockless without an async runtime, on Linux: loop threads (one per core
//! by default, optionally pinned), each with its own SO_REUSEPORT listener,
//! its own epoll instance, its connections in a slab, a timer wheel whose
//! next expiry is the `epoll_wait` timeout, a pool of input buffers that
//! idle connections give theirs back to, and an inbox woken through an
//! eventfd. Every connection runs the shared sans-IO
//! [cycle](sockless_rt::cycle); handlers are the async drivers' own
//! (`Fn(Request) -> impl Future<Output = Response>`, streamed [`Body`]s
//! with backpressure, cancellation when a stream is reset), polled on the
//! thread that owns the connection. [`ClientLoops`] carries client
//! connections on loops of their own, and its [`Client`] can be used from
//! plain blocking threads ([`Client::send_blocking`]).
//!
//! ```no_run
//! use sockless_core::{Bytes, Instant, ResponseHead};
//! use sockless_epoll::{serve, EpollOptions};
//! use sockless_rt::{Request, Response};
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
//!     let server = serve("127.0.0.1:8080".parse().unwrap(), make, hello, EpollOptions::default())?;
//!     println!("listening on {}", server.local_addr());
//!     server.join()
//! }
//! ```
#![cfg(target_os = "linux")]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod client;
// The loop's parts, public for sockless-uring, which runs the same
// connections, handlers, timers and inbox on completions: not this crate's
// API, and not kept stable.
#[doc(hidden)]
pub mod conn;
mod event_loop;
#[doc(hidden)]
pub mod inbox;
#[doc(hidden)]
pub mod reply;
#[doc(hidden)]
pub mod sock;
#[doc(hidden)]
pub mod wheel;
#[doc(hidden)]
pub mod workers;

pub use client::{Client, ClientLoops};
pub use reply::block_on;
pub use sockless_rt::{Body, Request, Response, ServerOptions, ShutdownSignal};

use event_loop::{Loop, Setup};
use inbox::{Inbox, Msg};
use sockless_core::{Connection, Instant};
use sockless_rt::Clock;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How the epoll server runs.
#[derive(Clone, Debug)]
pub struct EpollOptions {
    /// Loop threads; `0` (the default) is one per available core.
    pub threads: usize,
    /// Pins loop thread `i` to the `i`-th CPU of the process's affinity set.
    pub pin: bool,
    /// What the async drivers take too: the connection ceiling (shared
    /// evenly by the loops), graceful shutdown and its drain timeout,
    /// TCP_NODELAY, the HTTP/1.1 body cap, and
    /// [`max_concurrent_handlers`](ServerOptions::max_concurrent_handlers),
    /// which here is the size of a worker pool that runs every handler off
    /// the loop threads (for handlers that block or burn CPU); `None` polls
    /// handlers on the loop thread that owns the connection.
    pub server: ServerOptions,
    /// The listen backlog of each loop's listener.
    pub backlog: i32,
}

impl Default for EpollOptions {
    fn default() -> Self {
        EpollOptions { threads: 0, pin: false, server: ServerOptions::default(), backlog: 1024 }
    }
}

/// A running epoll server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    threads: Vec<JoinHandle<io::Result<()>>>,
    inboxes: Vec<Arc<Inbox>>,
    shutdown: ShutdownSignal,
}

impl std::fmt::Debug for Inbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inbox")
    }
}

impl Server {
    /// A server from its running loops, for sockless-uring, whose loops
    /// stop, drain and report the same way.
    #[doc(hidden)]
    pub fn from_parts(
        addr: SocketAddr,
        threads: Vec<JoinHandle<io::Result<()>>>,
        inboxes: Vec<Arc<Inbox>>,
        shutdown: ShutdownSignal,
    ) -> Server {
        Server { addr, threads, inboxes, shutdown }
    }

    /// The address the listeners are bound to (the port chosen when port 0
    /// was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The signal that shuts the server down gracefully (the one in the
    /// options): stop accepting, tell every connection to finish (HTTP/2
    /// GOAWAY, HTTP/1.1 `Connection: close`), close what is left after the
    /// drain timeout.
    pub fn shutdown_signal(&self) -> ShutdownSignal {
        self.shutdown.clone()
    }

    /// Starts graceful shutdown now.
    pub fn shutdown(&self) {
        self.shutdown.trigger();
        self.inboxes.iter().for_each(|i| i.post(Msg::Shutdown));
    }

    /// Waits until the server stopped. While it waits it watches the
    /// shutdown signal (every 50 ms), so that a signal triggered from
    /// elsewhere reaches the loops, which never wake up for it on their own.
    pub fn join(self) -> io::Result<()> {
        let mut told = false;
        while !self.threads.iter().all(|t| t.is_finished()) {
            if !told && self.shutdown.is_triggered() {
                told = true;
                self.inboxes.iter().for_each(|i| i.post(Msg::Shutdown));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut result = Ok(());
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a loop thread panicked")),
            }
        }
        result
    }
}

/// Serves `addr` on epoll loop threads until the shutdown signal in
/// `options.server` is triggered and the connections drained.
///
/// `make_connection(now)` builds the protocol connection for each accepted
/// socket on the loop thread that accepted it (so the connection need not
/// be `Send`); `handler` answers each request (each HTTP/2 stream), as on
/// the async drivers. Returns once every loop listens.
pub fn serve<M, C, H, F>(addr: SocketAddr, make_connection: M, handler: H, options: EpollOptions) -> io::Result<Server>
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
    let first = sock::listener(addr, options.backlog)?;
    let addr = sock::local_addr(&first)?;
    let mut listeners = vec![first];
    for _ in 1..n {
        listeners.push(sock::listener(addr, options.backlog)?);
    }
    let workers = match options.server.max_concurrent_handlers {
        Some(w) => Some(Arc::new(workers::Workers::new(w)?)),
        None => None,
    };
    let cpus = if options.pin { allowed_cpus() } else { Vec::new() };
    let make = Arc::new(make_connection);
    let handler = Arc::new(handler);
    let clock = Clock::new(std::time::Instant::now());
    let per_loop = options.server.max_connections.div_ceil(n).max(1);
    let mut threads = Vec::new();
    let mut inboxes = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let inbox = Arc::new(Inbox::new()?);
        inboxes.push(inbox.clone());
        let setup = Setup {
            epoll: event_loop::epoll_for(Some(&listener), &inbox)?,
            listener: Some(listener),
            attach: None,
            inbox,
            make: make.clone(),
            handler: handler.clone(),
            workers: workers.clone(),
            options: options.server.clone(),
            max_connections: per_loop,
            clock,
        };
        let cpu = cpus.get(i % cpus.len().max(1)).copied();
        let t = std::thread::Builder::new().name(format!("sockless-epoll-{i}")).spawn(move || {
            if let Some(cpu) = cpu {
                let mut set = rustix::thread::CpuSet::new();
                set.set(cpu);
                let _ = rustix::thread::sched_setaffinity(None, &set);
            }
            Loop::new(setup).run()
        })?;
        threads.push(t);
    }
    Ok(Server { addr, threads, inboxes, shutdown: options.server.shutdown })
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        Err(_) => Vec::new(),
    }
}
