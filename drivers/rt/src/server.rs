//! The server: an accept loop that runs one connection task per
//! connection, a ceiling on open connections, and graceful shutdown.

use crate::idle::Connections;
use crate::pump::{Ended, Facts, Mode, Pump, ServerCtx, Shared, ABORT, SHUTDOWN};
use crate::sync::{Notify, Semaphore, Watch};
use crate::{Accept, Clock, Io, Listener, Request, Response, Runtime};
use sockless_core::{Connection, Instant};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// Tells a server to shut down gracefully. Clones share one signal.
///
/// ```
/// let signal = sockless_rt::ShutdownSignal::new();
/// let for_server = signal.clone();
/// signal.trigger();
/// assert!(for_server.is_triggered());
/// ```
#[derive(Clone, Default)]
pub struct ShutdownSignal(Arc<Notify>);

impl ShutdownSignal {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        ShutdownSignal::default()
    }

    /// Starts the graceful shutdown of every server watching this signal.
    pub fn trigger(&self) {
        self.0.update(|_| 1);
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.0.get() != 0
    }
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal").field("triggered", &self.is_triggered()).finish()
    }
}

/// How a server runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Most connections open at once. A client arriving at the ceiling
    /// makes room: the longest-idle connection (no exchange in flight) is
    /// closed, as nginx closes keep-alive connections; when every
    /// connection is busy the client waits (accepted, then further ones in
    /// the listen backlog) until one closes or goes idle. While the evicted
    /// ones close, the count may pass the ceiling by the number being
    /// closed. Default 10 000.
    pub max_connections: usize,
    /// Triggers graceful shutdown: stop accepting, tell every connection to
    /// finish (HTTP/2 GOAWAY, HTTP/1.1 `Connection: close`), and wait for
    /// in-flight requests up to [`drain_timeout`](Self::drain_timeout).
    pub shutdown: ShutdownSignal,
    /// How long graceful shutdown waits before the remaining connections are
    /// closed abruptly. Default 30 s.
    pub drain_timeout: Duration,
    /// Set `TCP_NODELAY` on accepted connections (the pump writes whole
    /// responses in vectored writes, so Nagle's algorithm only adds
    /// latency). Default `true`.
    pub nodelay: bool,
    /// Most handlers running at once across the server (a bounded worker
    /// pool); `None` (the default) runs every stream's handler as soon as
    /// its request arrives.
    pub max_concurrent_handlers: Option<usize>,
    /// HTTP/1.1: most received bytes held for one unread body; beyond it the
    /// connection stops reading its transport until the handler reads.
    /// HTTP/2 needs no such cap: the stream and connection windows bound
    /// what a client may send, and the connection keeps reading so that a
    /// slow handler never stalls the other streams. Default 256 KiB.
    pub max_buffered_body: usize,
    /// Where the server reports what went wrong in the application: a
    /// handler that panicked (its request is answered 500 and the server
    /// serves on). Default: standard error.
    pub error_log: ErrorLog,
    /// The `Server` field added to responses whose handler set none;
    /// `None` (the default) sends no `Server` field. (Every response gets a
    /// `Date` field, RFC 9110 section 6.6.1, unless its handler set one.)
    pub server_header: Option<String>,
    /// Lingering close, as nginx's `lingering_close`: when the server ends
    /// a connection while the client may still be sending (an HTTP/1.1
    /// 400, 413 or 431 answered mid-request, an HTTP/2 GOAWAY after a
    /// flood), it writes the answer, shuts down its write side, then reads
    /// and discards the client's input until the client closes its side,
    /// this long passes, or [`linger_max_bytes`](Self::linger_max_bytes)
    /// were discarded; only then does it close. Closing with unread input
    /// makes the kernel send a reset, and the client's kernel then throws
    /// the answer away before the client reads it. A lingering connection
    /// still counts against [`max_connections`](Self::max_connections)
    /// (for this long at most). Not after a protocol switch: the transport
    /// then belongs to the application. Zero closes at once. Default 2 s.
    pub linger: Duration,
    /// Most bytes a lingering close (see [`linger`](Self::linger)) reads
    /// and discards before it closes anyway. Default 16 MiB.
    pub linger_max_bytes: usize,
}

/// Where a server reports the application's failures (a handler that
/// panicked); [`ErrorLog::stderr`] by default. Clones share one sink.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let log = sockless_rt::ErrorLog::new(move |msg: &str| sink.lock().unwrap().push(msg.to_string()));
/// let options = sockless_rt::ServerOptions { error_log: log, ..Default::default() };
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct ErrorLog(Arc<dyn Fn(&str) + Send + Sync>);

impl ErrorLog {
    /// A log that hands each message to `sink`.
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> ErrorLog {
        ErrorLog(Arc::new(sink))
    }

    /// A log that prints each message on standard error.
    pub fn stderr() -> ErrorLog {
        ErrorLog::new(|msg| eprintln!("sockless: {msg}"))
    }

    /// Reports `message`.
    pub fn log(&self, message: &str) {
        (self.0)(message)
    }
}

impl Default for ErrorLog {
    fn default() -> Self {
        ErrorLog::stderr()
    }
}

impl fmt::Debug for ErrorLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ErrorLog")
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            max_connections: 10_000,
            shutdown: ShutdownSignal::new(),
            drain_timeout: Duration::from_secs(30),
            nodelay: true,
            max_concurrent_handlers: None,
            max_buffered_body: 256 * 1024,
            error_log: ErrorLog::default(),
            server_header: None,
            linger: Duration::from_secs(2),
            linger_max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// How often a client waiting at the ceiling looks again for an idle
/// connection to make room (a busy one may have gone idle).
const EVICTION_RETRY: Duration = Duration::from_millis(250);

/// Counts a live connection; the count drops when its task ends or is dropped.
struct Live(Arc<Notify>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.update(|n| n.saturating_sub(1));
    }
}

/// Serves connections from `listener` until `options.shutdown` is
/// triggered and the connections drained.
///
/// `make_connection(now)` builds the protocol connection for each accepted
/// transport (an HTTP/1.1 or HTTP/2 server, possibly under TLS); `now` is
/// on the clock the driver then keeps feeding it. Each request (each
/// HTTP/2 stream) runs `handler` in its own task, so a slow handler never
/// delays the other streams of its connection. [`serve_with`] is the same
/// with a `make_connection` that sees the peer, can attach per-connection
/// state, and may fail.
///
/// Returns an error only if the listener fails for good; transient accept
/// errors (a connection reset before it was accepted, file descriptors
/// exhausted) are retried after a pause.
pub async fn serve<R, L, M, C, H, F>(
    rt: R,
    listener: L,
    make_connection: M,
    handler: H,
    options: ServerOptions,
) -> io::Result<()>
where
    R: Runtime,
    L: Listener,
    M: Fn(Instant) -> C,
    C: Connection + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let make = move |accept: &mut Accept| Ok::<C, std::convert::Infallible>(make_connection(accept.now));
    serve_with(rt, listener, make, handler, options).await
}

/// [`serve`], with a `make_connection` that sees each accepted connection
/// ([`Accept`]: the instant to create it at, the peer's and our address),
/// may attach per-connection state to it (`accept.extensions`, which every
/// request on it then carries in [`ConnectionInfo::extensions`](crate::ConnectionInfo::extensions)),
/// and may fail: a TLS configuration error, a peer refused by an allow
/// list. A failure is reported to `options.error_log` and that connection
/// is closed; the server serves on.
///
/// ```no_run
/// use sockless_rt::{serve_with, Accept, Listener, Request, Response, Runtime, ServerOptions};
/// use sockless_core::ResponseHead;
///
/// #[derive(Clone)]
/// struct Tenant(&'static str);
///
/// async fn run<R: Runtime, L: Listener>(rt: R, listener: L) -> std::io::Result<()> {
///     let make = |accept: &mut Accept| {
///         if !accept.peer_addr.ip().is_loopback() {
///             return Err("only local clients");
///         }
///         accept.extensions.insert(Tenant("local"));
///         Ok(sockless_h1::ServerConnection::new(sockless_h1::Config::server(), accept.now))
///     };
///     let handler = |req: Request| async move {
///         let tenant = req.connection().and_then(|c| c.extensions().get::<Tenant>()).map_or("?", |t| t.0);
///         Response::new(ResponseHead::new(200), format!("hello, {tenant}"))
///     };
///     serve_with(rt, listener, make, handler, ServerOptions::default()).await
/// }
/// ```
pub async fn serve_with<R, L, M, C, E, H, F>(
    rt: R,
    mut listener: L,
    make_connection: M,
    handler: H,
    options: ServerOptions,
) -> io::Result<()>
where
    R: Runtime,
    L: Listener,
    M: Fn(&mut Accept) -> Result<C, E>,
    E: fmt::Display,
    C: Connection + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let clock = Clock::new(rt.now());
    let handler = Arc::new(handler);
    let rules = crate::framing::ResponseRules::new(&options).0;
    let ctx = Arc::new(ServerCtx {
        log: options.error_log.clone(),
        rules,
        linger: options.linger,
        linger_max_bytes: options.linger_max_bytes,
    });
    let pool = options.max_concurrent_handlers.map(Semaphore::new);
    let flags = Arc::new(Notify::default());
    let live = Arc::new(Notify::default());
    let mut shutdown_id = None;
    let mut live_id = None;
    let max = options.max_connections.max(1);

    enum Next<T> {
        Accepted(io::Result<T>),
        Shutdown,
    }
    let connections = Connections::default();
    // At the ceiling with every connection busy: the client accepted and
    // waiting for room, and when to look for an idle connection again.
    let mut waiting = None;
    let mut retry: Option<Pin<Box<R::Sleep>>> = None;
    loop {
        let next = poll_fn(|cx| {
            if options.shutdown.0.poll_get(cx, &mut shutdown_id) != 0 {
                return Poll::Ready(Next::Shutdown);
            }
            let full = live.poll_get(cx, &mut live_id) >= max; // woken when a connection closes
            if let Some(accepted) = waiting.take() {
                let retry_due = retry.as_mut().is_none_or(|r| r.as_mut().poll(cx).is_ready());
                if !full || (retry_due && connections.evict_longest_idle()) {
                    retry = None;
                    return Poll::Ready(Next::Accepted(Ok(accepted)));
                }
                if retry_due {
                    let mut again = Box::pin(rt.sleep_until(rt.now() + EVICTION_RETRY));
                    let _ = again.as_mut().poll(cx);
                    retry = Some(again);
                }
                waiting = Some(accepted);
                return Poll::Pending;
            }
            match listener.poll_accept(cx) {
                // Room is made by closing the longest-idle connection; if
                // none is idle the client waits, accepted, for room.
                Poll::Ready(Ok(accepted)) if full && !connections.evict_longest_idle() => {
                    waiting = Some(accepted);
                    let mut again = Box::pin(rt.sleep_until(rt.now() + EVICTION_RETRY));
                    let _ = again.as_mut().poll(cx);
                    retry = Some(again);
                    Poll::Pending
                }
                polled => polled.map(Next::Accepted),
            }
        })
        .await;
        match next {
            Next::Shutdown => break,
            Next::Accepted(Ok((io, peer_addr))) => {
                if options.nodelay {
                    let _ = io.set_nodelay(true);
                }
                let now = clock.at(rt.now());
                let local_addr = io.local_addr();
                let mut accept = Accept { now, peer_addr, local_addr, extensions: Default::default() };
                let conn = match make_connection(&mut accept) {
                    Ok(conn) => conn,
                    Err(e) => {
                        options.error_log.log(&format!("connection from {peer_addr} not served: {e}"));
                        continue; // its transport closes as it drops
                    }
                };
                let mode = Mode::Server {
                    handler: handler.clone(),
                    slot: None,
                    pool: pool.clone(),
                    flags: flags.clone(),
                    watch: Watch::default(),
                    ctx: ctx.clone(),
                    info: Facts::Accepted(Box::new(accept)),
                };
                let shared = Arc::new(Shared::default());
                connections.add(&shared);
                let pump = Pump::new(rt.clone(), io, conn, clock, shared, mode, options.max_buffered_body);
                live.update(|n| n + 1);
                let guard = Live(live.clone());
                rt.spawn(async move {
                    let mut pump = pump;
                    if let Ended::Upgraded = (&mut pump).await {
                        pump.hand_over();
                    }
                    drop(guard);
                });
            }
            Next::Accepted(Err(e)) if is_fatal(&e) => {
                options.shutdown.0.forget(shutdown_id);
                live.forget(live_id);
                return Err(e);
            }
            Next::Accepted(Err(_)) => sleep(&rt, Duration::from_millis(20)).await,
        }
    }
    options.shutdown.0.forget(shutdown_id);
    drop(listener);

    // Graceful shutdown: every connection finishes its in-flight requests.
    flags.update(|f| f | SHUTDOWN);
    let drained = wait_until_zero(&rt, &live, &mut live_id, options.drain_timeout).await;
    if !drained {
        flags.update(|f| f | ABORT);
        let _ = wait_until_zero(&rt, &live, &mut live_id, Duration::from_secs(1)).await;
    }
    live.forget(live_id);
    Ok(())
}

fn is_fatal(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported | io::ErrorKind::NotConnected)
}

async fn sleep<R: Runtime>(rt: &R, d: Duration) {
    let mut s = Box::pin(rt.sleep_until(rt.now() + d));
    poll_fn(|cx| s.as_mut().poll(cx).map(drop)).await
}

/// Waits until `live` reaches zero or `timeout` passes; `true` if it did.
async fn wait_until_zero<R: Runtime>(rt: &R, live: &Notify, id: &mut Option<u64>, timeout: Duration) -> bool {
    let mut timer = Box::pin(rt.sleep_until(rt.now() + timeout));
    poll_fn(|cx: &mut Context<'_>| {
        if live.poll_get(cx, id) == 0 {
            Poll::Ready(true)
        } else if timer.as_mut().poll(cx).is_ready() {
            Poll::Ready(false)
        } else {
            Poll::Pending
        }
    })
    .await
}
