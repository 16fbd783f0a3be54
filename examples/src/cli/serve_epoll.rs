//! `sockless serve --driver epoll`: the same connections and handlers as
//! the async drivers, on sockless-epoll's loop threads.

use super::args::Mode;
use super::serve::{handler, maker, Running};
use super::Failure;
use sockless_epoll::EpollOptions;
use sockless_rt::{ServerOptions, ShutdownSignal};
use sockless_tls::rustls;
use std::net::SocketAddr;
use std::sync::Arc;

/// Starts the epoll server (`threads` loop threads, one per core by
/// default); returns once every loop listens. The returned thread waits for
/// the server and carries the shutdown signal to the loops.
pub fn start(
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
    let server = sockless_epoll::serve(addr, maker(tls), handler(mode), options)
        .map_err(|e| Failure::new(7, format!("bind {addr}: {e}")))?;
    let addr = server.local_addr();
    let thread = std::thread::spawn(move || server.join());
    Ok(Running { addr, shutdown, thread, chain })
}
