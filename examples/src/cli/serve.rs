//! `sockless serve`: HTTP/1.1 and h2c (prior knowledge and Upgrade), or
//! HTTPS with ALPN h2 / http/1.1, on the chosen runtime.

use super::args::{Driver, Mode, ServeArgs};
use super::{json, tls, Failure};
use bytes::Bytes;
use sockless_core::{Connection, Instant, ResponseHead, Version};
use sockless_rt::{Accept, Body, Request, Response, ServerOptions, ShutdownSignal};
use sockless_tls::rustls;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// Most request body `--echo` reads.
const ECHO_LIMIT: usize = 16 << 20;

/// A running server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Stops it gracefully.
    pub shutdown: ShutdownSignal,
    /// Its thread; joins when it stopped.
    pub thread: std::thread::JoinHandle<std::io::Result<()>>,
    /// The certificate chain, when serving TLS.
    pub chain: Vec<sockless_tls::rustls::pki_types::CertificateDer<'static>>,
}

type Conn = Box<dyn Connection + Send>;

/// Builds the protocol connection for each accepted transport; a TLS
/// set-up failure is that connection's error (logged, the server serves on).
pub(super) fn maker(
    tls: Option<Arc<rustls::ServerConfig>>,
) -> impl Fn(&mut Accept) -> Result<Conn, sockless_tls::TlsError> + Send + Sync + 'static {
    move |accept| connection_at(&tls, accept.now)
}

/// The protocol connection for a transport accepted at `now`: HTTP/1.1 and
/// h2c, or TLS with ALPN around them.
pub(super) fn connection_at(
    tls: &Option<Arc<rustls::ServerConfig>>,
    now: Instant,
) -> Result<Conn, sockless_tls::TlsError> {
    // One configuration for every connection (each holds a pointer to it).
    static CONFIG: std::sync::OnceLock<Arc<sockless_http::ServerConfig>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(Default::default).clone();
    Ok(match tls {
        None => Box::new(sockless_http::ServerConnection::cleartext_shared(config, now)),
        Some(tls) => {
            let inner = move |hs: &sockless_tls::Handshake, now: Instant| {
                sockless_http::ServerConnection::for_alpn_shared(config, now, hs.alpn.as_deref())
            };
            Box::new(sockless_tls::Tls::server(tls.clone(), now, inner)?)
        }
    })
}

/// A handler's answer: most are ready at once (hello, a file) and are then
/// not boxed, which saves an allocation per request; `echo` has to wait for
/// the request body.
pub enum Reply {
    /// The response, known at once.
    Ready(std::future::Ready<Response>),
    /// A response still being computed.
    Later(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for Reply {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Response> {
        match self.get_mut() {
            Reply::Ready(r) => Pin::new(r).poll(cx),
            Reply::Later(f) => f.as_mut().poll(cx),
        }
    }
}

/// Runs a task on the server's runtime (a CONNECT tunnel outlives its
/// handler).
pub type Spawn = Arc<dyn Fn(Pin<Box<dyn Future<Output = ()> + Send>>) + Send + Sync>;

/// The handler for `mode`; `spawn` runs `--echo`'s CONNECT tunnels.
pub fn handler(mode: Mode, spawn: Spawn) -> impl Fn(Request) -> Reply + Send + Sync + 'static {
    // Built once; each response clones it (what a framework does for a static
    // answer). Frozen: a clone is a reference count, and the writer copies its
    // fields at once.
    let mut hello = ResponseHead::new(200).header("content-type", "text/plain").header("content-length", "13");
    hello.headers.freeze();
    move |req: Request| -> Reply {
        match &mode {
            Mode::Hello => {
                Reply::Ready(std::future::ready(Response::new(hello.clone(), Bytes::from_static(b"Hello, World!"))))
            }
            Mode::Echo if req.head.method == sockless_core::Method::Connect => tunnel(req, &spawn),
            Mode::Echo => Reply::Later(Box::pin(echo(req))),
            Mode::Dir(root) => Reply::Ready(std::future::ready(file(root, &req))),
        }
    }
}

/// `--echo` answers CONNECT with 200, then echoes the tunnel's bytes.
fn tunnel(mut req: Request, spawn: &Spawn) -> Reply {
    let Some(upgrade) = req.upgrade() else {
        let response = if req.head.version == Version::Http2 {
            // HTTP/2 CONNECT: the tunnel is the stream's body, echoed back.
            Response::new(ResponseHead::new(200), req.body)
        } else {
            // HTTP/1.1 inside TLS, or on a driver that does not hand
            // transports over (epoll): there is no transport to tunnel on.
            Response::new(
                ResponseHead::new(501),
                "CONNECT needs a transport this connection cannot hand over (TLS, or the epoll driver)\n",
            )
        };
        return Reply::Ready(std::future::ready(response));
    };
    spawn(Box::pin(async move {
        let Ok(mut tunnel) = upgrade.await else { return };
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = tunnel.read(&mut buf).await {
            if tunnel.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        let _ = tunnel.shutdown().await;
    }));
    Reply::Ready(std::future::ready(Response::new(ResponseHead::new(200), Body::empty())))
}

async fn echo(req: Request) -> Response {
    let Request { head, mut body, .. } = req;
    let mut data = Vec::new();
    while let Some(chunk) = body.next_chunk().await {
        match chunk {
            Ok(c) if data.len() + c.len() <= ECHO_LIMIT => data.extend_from_slice(&c),
            Ok(_) => return Response::new(ResponseHead::new(413).header("content-length", "0"), Body::empty()),
            Err(_) => return Response::new(ResponseHead::new(400).header("content-length", "0"), Body::empty()),
        }
    }
    let trailers = body.trailers().unwrap_or_default();
    let version = if head.version == Version::Http2 { "HTTP/2" } else { "HTTP/1.1" };
    let target: &[u8] = if head.version == Version::Http2 { head.path() } else { &head.target };
    let text = format!(
        "{{\"method\":{},\"target\":{},\"version\":\"{version}\",\"headers\":{},\"body_b64\":\"{}\",\"trailers\":{}}}\n",
        json::string(head.method.as_bytes()),
        json::string(target),
        json::pairs(head.headers.iter()),
        json::base64(&data),
        json::pairs(trailers.iter()),
    );
    let head = ResponseHead::new(200)
        .header("content-type", "application/json")
        .header("content-length", text.len().to_string());
    Response::new(head, Bytes::from(text))
}

fn file(root: &std::path::Path, req: &Request) -> Response {
    let not_found = || Response::new(ResponseHead::new(404).header("content-length", "0"), Body::empty());
    let path = String::from_utf8_lossy(req.head.path()).into_owned();
    let path = path.split('?').next().unwrap_or("/");
    if path.split('/').any(|seg| seg == "..") {
        return not_found();
    }
    let mut full = root.join(path.trim_start_matches('/'));
    if full.is_dir() {
        full = full.join("index.html");
    }
    match std::fs::read(&full) {
        Ok(bytes) => Response::new(
            ResponseHead::new(200).header("content-length", bytes.len().to_string()),
            if req.head.method == sockless_core::Method::Head { Bytes::new() } else { Bytes::from(bytes) },
        ),
        Err(_) => not_found(),
    }
}

/// Starts a server on its own thread and runtime; returns once it listens.
pub fn start(
    driver: Driver,
    mode: Mode,
    tls: bool,
    addr: SocketAddr,
    threads: Option<usize>,
) -> Result<Running, Failure> {
    let (tls_config, chain) = if tls {
        let (c, chain) = tls::server_config(None, None)?;
        (Some(c), chain)
    } else {
        (None, Vec::new())
    };
    start_with(driver, mode, tls_config, chain, addr, threads)
}

fn start_with(
    driver: Driver,
    mode: Mode,
    tls: Option<Arc<rustls::ServerConfig>>,
    chain: Vec<sockless_tls::rustls::pki_types::CertificateDer<'static>>,
    addr: SocketAddr,
    threads: Option<usize>,
) -> Result<Running, Failure> {
    if matches!(driver, Driver::Epoll | Driver::Uring) {
        return super::serve_epoll::start(driver == Driver::Uring, mode, tls, chain, addr, threads);
    }
    let listener = std::net::TcpListener::bind(addr).map_err(|e| Failure::new(7, format!("bind {addr}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| Failure::new(7, e.to_string()))?;
    listener.set_nonblocking(true).map_err(|e| Failure::new(7, e.to_string()))?;
    let shutdown = ShutdownSignal::new();
    let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
    let make = maker(tls);
    let thread = std::thread::spawn(move || -> std::io::Result<()> {
        match driver {
            Driver::Tokio => {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                if let Some(n) = threads {
                    builder.worker_threads(n.max(1));
                }
                let rt = builder.enable_all().build()?;
                let runtime = rt.handle().clone();
                let handle = handler(mode, Arc::new(move |task| drop(runtime.spawn(task))));
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    sockless_tokio::serve_with(listener, make, handle, options).await
                })
            }
            Driver::Smol => {
                if let Some(n) = threads {
                    std::env::set_var("SMOL_THREADS", n.to_string());
                }
                let listener = sockless_smol::SmolListener::from_std(listener)?;
                let handle = handler(mode, Arc::new(|task| smol::spawn(task).detach()));
                smol::block_on(sockless_smol::serve_with(listener, make, handle, options))
            }
            Driver::AsyncStd => {
                if let Some(n) = threads {
                    std::env::set_var("ASYNC_STD_THREAD_COUNT", n.to_string());
                }
                let listener = sockless_smol::SmolListener::from_std(listener)?;
                let handle = handler(mode, Arc::new(|task| drop(async_std::task::spawn(task))));
                async_std::task::block_on(sockless_rt::serve_with(AsyncStdRuntime, listener, make, handle, options))
            }
            Driver::Epoll | Driver::Uring => unreachable!("served by serve_epoll"),
        }
    });
    Ok(Running { addr, shutdown, thread, chain })
}

/// async-std as a sockless runtime: its executor, async-io's timers (the
/// reactor async-std itself runs on).
#[derive(Clone, Copy, Debug)]
pub struct AsyncStdRuntime;

impl sockless_rt::Runtime for AsyncStdRuntime {
    type Sleep = async_io::Timer;

    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, future: F) {
        drop(async_std::task::spawn(future));
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
        async_io::Timer::at(deadline)
    }
}

/// `sockless serve`: runs until Ctrl-C, then shuts down gracefully.
pub fn run(args: ServeArgs) -> Result<(), Failure> {
    let (tls, chain) = if args.tls {
        let (c, chain) = tls::server_config(args.cert.as_deref(), args.key.as_deref())?;
        (Some(c), chain)
    } else {
        (None, Vec::new())
    };
    let running = start_with(args.driver, args.mode, tls, chain, args.addr, args.threads)?;
    let scheme = if args.tls { "https" } else { "http" };
    println!("listening on {scheme}://{}", running.addr);
    let signal = running.shutdown.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            if rt.block_on(tokio::signal::ctrl_c()).is_ok() {
                signal.trigger();
            }
        }
    });
    match running.thread.join() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Failure::new(1, format!("server: {e}"))),
        Err(_) => Err(Failure::new(1, "server thread panicked")),
    }
}
