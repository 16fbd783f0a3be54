//! `sockless serve --driver epoll|uring`: the same connections and handlers
//! as the async drivers, on sockless-epoll's loop threads or on
//! sockless-uring's (the same loops on io_uring completions).

use super::args::Mode;
use super::serve::{connection_at, handler, Running};
use super::Failure;
use sockless_epoll::EpollOptions;
use sockless_rt::{ServerOptions, ShutdownSignal};
use sockless_tls::rustls;
use std::net::SocketAddr;
use std::sync::Arc;

/// Starts the epoll server, or with `uring` the io_uring one (`threads`
/// loop threads, one per core by default); returns once every loop listens. The returned thread waits for
/// the server and carries the shutdown signal to the loops.
pub fn start(
    uring: bool,
    mode: Mode,
    tls: Option<Arc<rustls::ServerConfig>>,
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    addr: SocketAddr,
    threads: Option<usize>,
) -> Result<Running, Failure> {
    let shutdown = ShutdownSignal::new();
    let options = EpollOptions {
        threads: threads.unwrap_or(0),
        server: ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() },
        ..EpollOptions::default()
    };
    // A TLS configuration that cannot make a connection fails here, once,
    // rather than on every accepted connection.
    connection_at(&tls, sockless_core::Instant::ZERO).map_err(|e| Failure::new(7, format!("TLS set-up: {e}")))?;
    let make = move |now| match connection_at(&tls, now) {
        Ok(conn) => conn,
        Err(e) => unreachable!("the TLS set-up was checked at start: {e}"),
    };
    // The epoll loops hand no transport over after an upgrade, so the tunnel
    // of `--echo` never starts there; its task would run on a thread of its own.
    let spawn: super::serve::Spawn = Arc::new(|task| {
        std::thread::spawn(move || smol::block_on(task));
    });
    let server = if uring {
        let options =
            sockless_uring::UringOptions { threads: options.threads, server: options.server, backlog: options.backlog };
        sockless_uring::serve(addr, make, handler(mode, spawn), options)
            .map_err(|e| Failure::new(7, format!("io_uring server on {addr}: {e}")))?
    } else {
        sockless_epoll::serve(addr, make, handler(mode, spawn), options)
            .map_err(|e| Failure::new(7, format!("bind {addr}: {e}")))?
    };
    let addr = server.local_addr();
    let thread = std::thread::spawn(move || server.join());
    Ok(Running { addr, shutdown, thread, chain })
}
