//! The io_uring driver over loopback TCP, the epoll driver's scenarios on
//! completion IO (the connections, handlers and timers are the same code;
//! what differs is every byte moving through owned buffers): the scenarios
//! of the async drivers' testkit that fit (keep-alive, pipelining, a streamed upload echoed back,
//! concurrent h2c streams, TLS with ALPN, cancellation, graceful shutdown,
//! the connection ceiling), every protocol through the auto-selecting
//! sockless-http server connection. Clients are sockless's own on tokio, or
//! raw sockets where the bytes on the wire are the point.

use sockless_core::{Bytes, Connection, Instant, Method, RequestHead, ResponseHead};
use sockless_rt::{Body, ClientHandle, Request, Response, ServerOptions};
use sockless_tls::rustls;
use sockless_uring::{serve, Server, UringOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Whether this kernel lets us use io_uring; a test that cannot run says
/// why and passes (CI prints which).
fn available() -> bool {
    match sockless_uring::probe() {
        Ok(flags) => {
            eprintln!("io_uring available, ring set up with {flags:?}");
            true
        }
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}

type Reply = Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// What the test handler shares with the test.
#[derive(Default)]
struct State {
    /// `/slow` waits until this body ends.
    gate: Mutex<Option<Body>>,
    /// Handlers dropped before they answered (cancelled).
    cancelled: AtomicUsize,
    /// Handlers that started.
    started: AtomicUsize,
}

/// Counts a handler dropped before it answered.
struct OnCancel(Arc<State>, bool);

impl Drop for OnCancel {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `/hello`, `/echo` (the request body streamed back), `/slow` (waits for
/// the gate), `/hang` (never answers).
fn handler(state: Arc<State>) -> impl Fn(Request) -> Reply + Send + Sync + 'static {
    move |req: Request| -> Reply {
        let state = state.clone();
        state.started.fetch_add(1, Ordering::SeqCst);
        let path = String::from_utf8_lossy(req.head.path()).into_owned();
        match path.as_str() {
            "/echo" => Box::pin(async move { Response::new(ResponseHead::new(200), req.body) }),
            "/slow" => Box::pin(async move {
                let gate = state.gate.lock().unwrap().take();
                if let Some(mut gate) = gate {
                    let _ = gate.next_chunk().await;
                }
                Response::new(ResponseHead::new(200), "slow")
            }),
            "/hang" => Box::pin(async move {
                let _guard = OnCancel(state, false);
                std::future::pending::<()>().await;
                unreachable!()
            }),
            _ => Box::pin(std::future::ready(Response::new(
                ResponseHead::new(200).header("content-length", "13"),
                Bytes::from_static(b"Hello, World!"),
            ))),
        }
    }
}

type Conn = Box<dyn Connection>;

fn cleartext(now: Instant) -> Conn {
    Box::new(sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), now))
}

fn start(state: &Arc<State>, server: ServerOptions, threads: usize) -> Server {
    let options = UringOptions { threads, server, ..UringOptions::default() };
    serve("127.0.0.1:0".parse().unwrap(), cleartext, handler(state.clone()), options).expect("serve")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn get(path: &str) -> Request {
    let head = RequestHead::new(Method::Get, format!("http://localhost{path}")).header("Host", "localhost");
    Request::new(head, Body::empty())
}

/// Reads from `s` until `count` complete `Hello, World!` responses came.
fn read_hellos(s: &mut TcpStream, count: usize) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while text.matches("Hello, World!").count() < count {
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "closed early: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    text
}

fn stop(server: Server) {
    server.shutdown();
    server.join().expect("the server stops");
}

#[test]
fn http11_keep_alive_and_pipelining() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let server = start(&state, ServerOptions::default(), 2);
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let text = read_hellos(&mut s, 1);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    }
    // 16 requests in one write: 16 responses, in order, on the same connection.
    let sixteen = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n".repeat(16);
    s.write_all(sixteen.as_bytes()).unwrap();
    let text = read_hellos(&mut s, 16);
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 16, "{text}");
    drop(s);
    stop(server);
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// A 1 MB upload, streamed in 16 KiB chunks, is echoed back as it arrives,
/// twice on one connection (the body's backpressure keeps what the server
/// holds bounded).
#[test]
fn http11_streamed_echo_1mb() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let server = start(&state, ServerOptions::default(), 1);
    let addr = server.local_addr();
    runtime().block_on(async {
        let conn = sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        for _ in 0..2 {
            let data = pattern(1 << 20);
            let (mut tx, body) = Body::channel();
            let head = RequestHead::new(Method::Post, "http://localhost/echo").header("Host", "localhost");
            let sender = tokio::spawn({
                let data = data.clone();
                async move {
                    for chunk in data.chunks(16 * 1024) {
                        tx.send(Bytes::copy_from_slice(chunk)).await.unwrap();
                    }
                    tx.finish();
                }
            });
            let response = client.send(Request::new(head, body)).await.unwrap();
            assert_eq!(response.head.status, 200);
            let echoed = response.body.collect(2 << 20).await.unwrap();
            sender.await.unwrap();
            assert!(echoed == data, "echo differs ({} bytes back)", echoed.len());
        }
    });
    stop(server);
}

/// Twenty h2c streams on one connection (prior knowledge): the first waits
/// for the other nineteen, which are answered meanwhile.
#[test]
fn h2c_streams_run_concurrently() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let (gate_tx, gate_rx) = Body::channel();
    *state.gate.lock().unwrap() = Some(gate_rx);
    let server = start(&state, ServerOptions::default(), 1);
    let addr = server.local_addr();
    runtime().block_on(async {
        let conn = sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        let slow = tokio::spawn(fetch(client.clone(), "/slow"));
        // The slow handler is running before the others start.
        while state.started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let fast: Vec<_> = (0..19).map(|_| tokio::spawn(fetch(client.clone(), "/hello"))).collect();
        for f in fast {
            assert_eq!(f.await.unwrap(), "Hello, World!");
        }
        assert!(!slow.is_finished(), "the slow stream still waits");
        gate_tx.finish();
        assert_eq!(slow.await.unwrap(), "slow");
    });
    stop(server);
}

async fn fetch(client: ClientHandle, path: &'static str) -> String {
    let response = client.send(get(path)).await.expect("response");
    let body = response.body.collect(1 << 20).await.expect("body");
    String::from_utf8(body.to_vec()).unwrap()
}

/// h2c by Upgrade from HTTP/1.1, on the same listener.
#[test]
fn h2c_upgrade() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let server = start(&state, ServerOptions::default(), 1);
    let addr = server.local_addr();
    runtime().block_on(async {
        let conn = sockless_http::ClientConnection::h2c_upgrade(
            sockless_h1::Config::client(),
            sockless_h2::Config::client(),
            Instant::ZERO,
        );
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        for _ in 0..3 {
            assert_eq!(fetch(client.clone(), "/hello").await, "Hello, World!");
        }
    });
    stop(server);
}

fn tls_configs(alpn: &[u8]) -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let (chain, key) = sockless_tls::self_signed_localhost().unwrap();
    let server_alpn: [&[u8]; 2] = [sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11];
    let server = sockless_tls::server_config(chain.clone(), key, &server_alpn, None).unwrap();
    let mut store = rustls::RootCertStore::empty();
    store.add(chain[0].clone()).unwrap();
    let client = sockless_tls::client_config(sockless_tls::Roots::Store(store), &[alpn], None).unwrap();
    (server, client)
}

/// TLS with ALPN, h2 and http/1.1: the protocol the client offers is the
/// one served.
#[test]
fn tls_with_alpn() {
    if !available() {
        return;
    }
    for alpn in [sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11] {
        let (server_tls, client_tls) = tls_configs(alpn);
        let make = move |now: Instant| -> Conn {
            let inner = move |hs: &sockless_tls::Handshake, now: Instant| {
                sockless_http::ServerConnection::for_alpn(
                    sockless_http::ServerConfig::default(),
                    now,
                    hs.alpn.as_deref(),
                )
            };
            Box::new(sockless_tls::Tls::server(server_tls.clone(), now, inner).unwrap())
        };
        let state = Arc::new(State::default());
        let options = UringOptions { threads: 1, ..UringOptions::default() };
        let server = serve("127.0.0.1:0".parse().unwrap(), make, handler(state), options).unwrap();
        let addr = server.local_addr();
        runtime().block_on(async {
            let inner = move |hs: &sockless_tls::Handshake, now: Instant| {
                sockless_http::ClientConnection::for_alpn(
                    sockless_h1::Config::client(),
                    sockless_h2::Config::client(),
                    now,
                    hs.alpn.as_deref(),
                )
            };
            let conn = sockless_tls::Tls::client(client_tls, "localhost", Instant::ZERO, inner).unwrap();
            let client = sockless_tokio::connect(addr, conn).await.unwrap();
            let response = client.send(get("/hello")).await.unwrap();
            let version = response.head.version;
            let body = response.body.collect(1024).await.unwrap();
            assert_eq!(&body[..], b"Hello, World!");
            let h2 = alpn == sockless_tls::ALPN_H2;
            assert_eq!(version == sockless_core::Version::Http2, h2, "{version:?} for ALPN {alpn:?}");
            // And a streamed echo under TLS.
            let head = RequestHead::new(Method::Post, "https://localhost/echo").header("Host", "localhost");
            let data = pattern(200_000);
            let response = client.send(Request::new(head, data.clone())).await.unwrap();
            assert!(response.body.collect(1 << 20).await.unwrap() == data);
        });
        stop(server);
    }
}

/// A stream the client gives up on (HTTP/2 RST_STREAM) drops its handler
/// where it waits; the connection goes on.
#[test]
fn a_reset_stream_cancels_its_handler() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let server = start(&state, ServerOptions::default(), 1);
    let addr = server.local_addr();
    runtime().block_on(async {
        let conn = sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        let hang = client.send(get("/hang"));
        assert!(tokio::time::timeout(Duration::from_millis(300), hang).await.is_err());
        // The dropped send future reset the stream.
        for _ in 0..200 {
            if state.cancelled.load(Ordering::SeqCst) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(state.cancelled.load(Ordering::SeqCst), 1, "the handler was dropped");
        assert_eq!(fetch(client.clone(), "/hello").await, "Hello, World!");
    });
    stop(server);
}

/// Graceful shutdown with a request in flight: it completes (HTTP/1.1
/// announces the close), the server stops accepting and returns.
#[test]
fn graceful_shutdown_drains_in_flight_requests() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let (gate_tx, gate_rx) = Body::channel();
    *state.gate.lock().unwrap() = Some(gate_rx);
    let server = start(&state, ServerOptions::default(), 2);
    let addr = server.local_addr();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    while state.started.load(Ordering::SeqCst) == 0 {
        std::thread::yield_now();
    }
    server.shutdown();
    // The gate opens only once every loop has begun shutting down (their
    // listeners are closed then); opened earlier, the handler could answer
    // before its loop heard of the shutdown.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_ok() {
        assert!(std::time::Instant::now() < deadline, "the server still accepts 10 s after shutdown");
        std::thread::sleep(Duration::from_millis(5));
    }
    gate_tx.finish();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.to_ascii_lowercase().contains("connection: close"), "{text}");
    assert!(text.ends_with("\r\n\r\nslow"), "{text}");
    server.join().unwrap();
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}

/// With a ceiling of one connection a second one waits in the backlog until
/// the first closes.
#[test]
fn the_connection_ceiling_holds_further_connections_back() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let server = start(&state, ServerOptions { max_connections: 1, ..ServerOptions::default() }, 1);
    let addr = server.local_addr();
    let mut first = TcpStream::connect(addr).unwrap();
    first.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_hellos(&mut first, 1);
    let mut second = TcpStream::connect(addr).unwrap(); // the kernel completes the handshake
    second.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    second.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    let mut buf = [0u8; 64];
    assert!(second.read(&mut buf).is_err(), "not served while the first is open");
    drop(first);
    let text = read_hellos(&mut second, 1);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    drop(second);
    stop(server);
}

/// With a worker pool the handlers run off the loop thread and their
/// answers come back to it; a blocking handler does not stop the loop.
#[test]
fn worker_pool_runs_blocking_handlers_off_the_loop() {
    if !available() {
        return;
    }
    let options = ServerOptions { max_concurrent_handlers: Some(2), ..ServerOptions::default() };
    let loop_threads = Arc::new(Mutex::new(Vec::new()));
    let seen = loop_threads.clone();
    let handler = move |req: Request| {
        seen.lock().unwrap().push(std::thread::current().name().unwrap_or_default().to_string());
        if req.head.path() == b"/block" {
            std::thread::sleep(Duration::from_millis(200)); // a blocking call
        }
        std::future::ready(Response::new(ResponseHead::new(200).header("content-length", "2"), "ok"))
    };
    let uring = UringOptions { threads: 1, server: options, ..UringOptions::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), cleartext, handler, uring).unwrap();
    let addr = server.local_addr();
    let mut blocked = TcpStream::connect(addr).unwrap();
    blocked.write_all(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut other = TcpStream::connect(addr).unwrap();
    other.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    for s in [&mut other, &mut blocked] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].ends_with(b"ok"), "{}", String::from_utf8_lossy(&buf[..n]));
    }
    let names = loop_threads.lock().unwrap().clone();
    assert!(names.iter().all(|n| n.starts_with("sockless-worker-")), "{names:?}");
    drop((blocked, other));
    stop(server);
}

/// A future that completes after `d`, woken by a thread of its own (the
/// loop threads have no timers for handlers; a test needs only a few).
fn delay(d: Duration) -> impl std::future::Future<Output = ()> {
    let done = Arc::new(Mutex::new((false, None::<std::task::Waker>)));
    let timer = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let waker = {
            let mut s = timer.lock().unwrap();
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    });
    std::future::poll_fn(move |cx| {
        let mut s = done.lock().unwrap();
        if s.0 {
            return std::task::Poll::Ready(());
        }
        s.1 = Some(cx.waker().clone());
        std::task::Poll::Pending
    })
}

/// HTTP/1.1: a handler that reads a 1 MB request body slowly; the server
/// holds at most its cap (plus one read) of unread body, never the whole
/// body, by no longer reading the socket, and reads again when woken.
#[test]
fn http11_backpressure_bounds_an_unread_body() {
    if !available() {
        return;
    }
    const CAP: usize = 64 * 1024;
    let handler = |mut req: Request| async move {
        let (mut total, mut max_buffered) = (0usize, 0usize);
        while let Some(chunk) = req.body.next_chunk().await {
            let chunk = chunk.expect("request body");
            max_buffered = max_buffered.max(req.body.buffered() + chunk.len());
            total += chunk.len();
            delay(Duration::from_millis(1)).await;
        }
        Response::new(ResponseHead::new(200), format!("{total} {max_buffered}").into_bytes())
    };
    let server = ServerOptions { max_buffered_body: CAP, ..ServerOptions::default() };
    let options = UringOptions { threads: 1, server, ..UringOptions::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), cleartext, handler, options).unwrap();
    let addr = server.local_addr();
    let text = runtime().block_on(async {
        let conn = sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        let head = RequestHead::new(Method::Post, "http://localhost/slow").header("Host", "localhost");
        let response = client.send(Request::new(head, pattern(1 << 20))).await.unwrap();
        assert_eq!(response.head.status, 200, "{:?}", response.head);
        String::from_utf8(response.body.collect(64).await.unwrap().to_vec()).unwrap()
    });
    let mut parts = text.split(' ').map(|n| n.parse::<usize>().unwrap());
    let (total, max_buffered) = (parts.next().unwrap(), parts.next().unwrap());
    assert_eq!(total, 1 << 20);
    assert!(max_buffered <= CAP + 80 * 1024, "server buffered {max_buffered} bytes of unread body");
    stop(server);
}

/// HTTP/2: a 2 MB request body nobody reads yet holds up only its own
/// stream: ten other requests on the connection complete meanwhile; once
/// the handler reads, the window is given back and the whole body arrives.
#[test]
fn h2c_an_unread_body_does_not_stall_other_streams() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let (gate_tx, gate_rx) = Body::channel();
    *state.gate.lock().unwrap() = Some(gate_rx);
    let gate = state.clone();
    let handler = move |req: Request| -> Reply {
        if req.head.path() != b"/hold" {
            return Box::pin(std::future::ready(Response::new(ResponseHead::new(200), "fast")));
        }
        let gate = gate.clone();
        gate.started.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let waiting = gate.gate.lock().unwrap().take();
            if let Some(mut g) = waiting {
                let _ = g.next_chunk().await;
            }
            let n = req.body.collect(4 << 20).await.map_or(0, |b| b.len());
            Response::new(ResponseHead::new(200), n.to_string().into_bytes())
        })
    };
    let options = UringOptions { threads: 1, ..UringOptions::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), cleartext, handler, options).unwrap();
    let addr = server.local_addr();
    runtime().block_on(async {
        let conn = sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        let head = RequestHead::new(Method::Post, "http://localhost/hold").header("Host", "localhost");
        let held = tokio::spawn({
            let client = client.clone();
            async move {
                let response = client.send(Request::new(head, pattern(2 << 20))).await.unwrap();
                String::from_utf8(response.body.collect(64).await.unwrap().to_vec()).unwrap()
            }
        });
        while state.started.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            assert_eq!(fetch(client.clone(), "/other").await, "fast");
        }
        gate_tx.finish();
        assert_eq!(held.await.unwrap(), (2 << 20).to_string());
    });
    stop(server);
}

/// A handler that panics (at once, after waiting, or on a worker) gets its
/// request a 500, as on the async drivers, and costs neither the loop thread
/// nor the connection: over HTTP/2 and HTTP/1.1 the same connection goes on.
#[test]
fn a_panicking_handler_is_answered_500_and_the_loop_goes_on() {
    if !available() {
        return;
    }
    fn panicking(req: Request) -> Reply {
        match req.head.path() {
            b"/now" => panic!("handler panics at once"),
            b"/later" => Box::pin(async {
                delay(Duration::from_millis(10)).await;
                panic!("handler panics after waiting")
            }),
            _ => Box::pin(std::future::ready(Response::new(ResponseHead::new(200), "fine"))),
        }
    }
    for workers in [None, Some(1)] {
        let server = ServerOptions { max_concurrent_handlers: workers, ..ServerOptions::default() };
        let options = UringOptions { threads: 1, server, ..UringOptions::default() };
        let server = serve("127.0.0.1:0".parse().unwrap(), cleartext, panicking, options).unwrap();
        let addr = server.local_addr();
        runtime().block_on(async {
            let conn = sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO);
            let client = sockless_tokio::connect(addr, conn).await.unwrap();
            for path in ["/now", "/later"] {
                let response = client.send(get(path)).await.expect("a 500, not a reset");
                assert_eq!(response.head.status, 500, "{path} ({workers:?})");
                assert_eq!(fetch(client.clone(), "/ok").await, "fine", "the connection goes on");
            }
        });
        // HTTP/1.1: the panicked request gets its 500 and the keep-alive
        // connection serves the next one.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /now HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        assert!(text.starts_with("HTTP/1.1 500 "), "{workers:?}: {text}");
        let second = text.find("HTTP/1.1 200 OK").unwrap_or_else(|| panic!("{workers:?}: no second answer: {text}"));
        assert!(text[second..].contains("fine"), "{workers:?}: {text}");
        stop(server);
    }
}

/// Past the drain timeout, connections whose receives are still in flight
/// (and whose handlers still wait) are closed: the loop cancels what the
/// kernel holds, keeps each connection's buffers until the cancellations
/// complete, drops the handlers, and only then stops. A loop that freed a
/// slot before its completions came, or forgot one, would hang here (or
/// never stop), rather than hand every peer its end of stream.
#[test]
fn the_drain_timeout_cancels_in_flight_receives_and_the_loop_stops() {
    if !available() {
        return;
    }
    let state = Arc::new(State::default());
    let options = ServerOptions { drain_timeout: Duration::from_millis(200), ..ServerOptions::default() };
    let server = start(&state, options, 1);
    let addr = server.local_addr();
    let mut peers: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            s
        })
        .collect();
    while state.started.load(Ordering::SeqCst) < 20 {
        std::thread::yield_now();
    }
    server.shutdown();
    server.join().expect("the loop stops once the kernel gave everything back");
    for s in &mut peers {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    assert_eq!(state.cancelled.load(Ordering::SeqCst), 20, "every waiting handler was dropped");
    assert!(TcpStream::connect(addr).is_err(), "no longer accepting");
}
