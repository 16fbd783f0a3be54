//! The tower contract on sockless: readiness and backpressure, service and
//! body errors, timeouts and graceful shutdown, over real sockets on tokio
//! and smol.

mod common;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use common::{exchange, get as get_raw, with_h2_client, Rt, Server, Trickle};
use sockless_core::{Method, RequestHead};
use sockless_tower::RequestBody;
use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_service::Service;

type Response = http::Response<Body>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A service that is not ready the first time it is asked (it wakes its
/// caller and says `Pending`), and counts how often each happened.
#[derive(Clone, Default)]
struct SlowToReady {
    asked: Arc<AtomicUsize>,
    called: Arc<AtomicUsize>,
    ready: bool,
}

impl Service<http::Request<RequestBody>> for SlowToReady {
    type Response = Response;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<RequestBody>) -> Self::Future {
        assert!(self.ready, "called before it was ready");
        self.called.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Ok(http::Response::new(Body::from("ready now"))))
    }
}

fn a_service_not_ready_at_once_is_waited_for(rt: Rt) {
    let service = SlowToReady::default();
    let (asked, called) = (service.asked.clone(), service.called.clone());
    let server = Server::start(rt, service);
    for _ in 0..3 {
        let raw = get_raw(server.addr, "/", "");
        assert_eq!((raw.status, raw.text().as_str()), (200, "ready now"));
    }
    server.stop();
    // Each request's clone was asked twice (Pending, then Ready) and called once.
    assert_eq!((asked.load(Ordering::SeqCst), called.load(Ordering::SeqCst)), (6, 3));
}

/// Gates for a handler: it says it started, then waits to be released.
#[derive(Clone, Default)]
struct Gate {
    inside: Arc<AtomicUsize>,
    most_inside: Arc<AtomicUsize>,
    started: Arc<AtomicUsize>,
    open: Arc<AtomicBool>,
}

impl Gate {
    /// Waits (polling, woken at once: any runtime) until the gate opens.
    async fn pass(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_inside.fetch_max(now, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
        poll_fn(|cx| {
            if self.open.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        // Yield once more with the gate open, so that a second request
        // would overlap this one if the limit let it in.
        let mut yielded = false;
        poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }

    fn wait_started(&self, n: usize) {
        while self.started.load(Ordering::SeqCst) < n {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn concurrency_limit_holds_requests_back(rt: Rt) {
    let gate = Gate::default();
    let handler_gate = gate.clone();
    let router = Router::new().route(
        "/",
        get(move || {
            let gate = handler_gate.clone();
            async move {
                gate.pass().await;
                "done"
            }
        }),
    );
    // Around the whole application: its poll_ready is what holds requests back.
    let app = ServiceBuilder::new().concurrency_limit(1).service(router.with_state(()));
    let server = Server::start(rt, app);
    let addr = server.addr;
    // Four requests at once, over HTTP/2 streams of one connection.
    let results = std::thread::spawn(move || {
        with_h2_client(addr, |client| async move {
            let send = |path: &str| {
                let head = RequestHead::new(Method::Get, format!("http://{addr}{path}"));
                client.send(sockless_rt::Request::new(head, sockless_rt::Body::empty()))
            };
            let (a, b, c, d) = tokio::join!(send("/"), send("/"), send("/"), send("/"));
            [a, b, c, d].map(|r| r.unwrap().head.status)
        })
    });
    gate.wait_started(1);
    // Only one is let in while the gate is shut.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(gate.started.load(Ordering::SeqCst), 1);
    gate.open.store(true, Ordering::SeqCst);
    assert_eq!(results.join().unwrap(), [200; 4]);
    assert_eq!(gate.most_inside.load(Ordering::SeqCst), 1);
}

/// A service that fails: in `poll_ready`, in its future, or in its body
/// (before anything was sent, or after part of it was).
#[derive(Clone, Copy)]
enum Failing {
    Ready,
    Call,
}

impl Service<http::Request<RequestBody>> for Failing {
    type Response = Response;
    type Error = std::io::Error;
    type Future = BoxFuture<Result<Response, std::io::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), std::io::Error>> {
        match self {
            Failing::Ready => Poll::Ready(Err(std::io::Error::other("not today"))),
            Failing::Call => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, _req: http::Request<RequestBody>) -> Self::Future {
        Box::pin(async { Err(std::io::Error::other("the service failed")) })
    }
}

fn service_errors_become_500(rt: Rt) {
    for failing in [Failing::Ready, Failing::Call] {
        let server = Server::start(rt, failing);
        let raw = get_raw(server.addr, "/", "");
        assert_eq!(raw.status, 500);
        assert_eq!(raw.header("content-length"), Some("0"));
    }
}

fn failing_bodies() -> Router {
    Router::new()
        .route("/fails-at-once", get(|| async { Body::new(Trickle::new(&[]).failing().first_at_once()) }))
        .route("/fails-midway", get(|| async { Body::new(Trickle::new(&["first part, "]).failing()) }))
        .route("/", get(|| async { "fine" }))
}

fn a_body_error_before_anything_went_out_is_a_500(rt: Rt) {
    let server = Server::start(rt, failing_bodies());
    // The body's first word is its error: the service's 200 never went out.
    let raw = get_raw(server.addr, "/fails-at-once", "");
    assert_eq!(raw.status, 500);
    assert_eq!(raw.header("content-length"), Some("0"));
}

fn a_body_error_midway_closes_the_h1_connection(rt: Rt) {
    let server = Server::start(rt, failing_bodies());
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    // Keep-alive: were the body ended cleanly, the connection would stay open.
    stream.write_all(b"GET /fails-midway HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("the server closes the connection");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.contains("first part, "), "{text:?}");
    assert!(!text.ends_with("0\r\n\r\n"), "a broken body was ended as if whole: {text:?}");
}

fn a_body_error_midway_resets_the_h2_stream(rt: Rt) {
    let server = Server::start(rt, failing_bodies());
    let addr = server.addr;
    with_h2_client(addr, |client| async move {
        let send = |path: &str| {
            let head = RequestHead::new(Method::Get, format!("http://{addr}{path}"));
            client.send(sockless_rt::Request::new(head, sockless_rt::Body::empty()))
        };
        let response = send("/fails-midway").await.unwrap();
        assert_eq!(response.head.status, 200);
        let error = response.body.collect(1 << 20).await.expect_err("the stream is reset");
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
        // The connection serves on.
        let fine = send("/").await.unwrap();
        assert_eq!(&fine.body.collect(100).await.unwrap()[..], b"fine");
    });
}

fn graceful_shutdown_completes_the_request_in_flight(rt: Rt) {
    let gate = Gate::default();
    let handler_gate = gate.clone();
    let app = Router::new().route(
        "/slow",
        get(move || {
            let gate = handler_gate.clone();
            async move {
                gate.pass().await;
                "finished"
            }
        }),
    );
    let server = Server::start(rt, app);
    let addr = server.addr;
    let in_flight = std::thread::spawn(move || get_raw(addr, "/slow", ""));
    gate.wait_started(1);
    server.shutdown.trigger();
    // New connections are no longer accepted once the accept loop stopped.
    let refused = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(5));
        std::net::TcpStream::connect(addr).is_err()
    });
    assert!(refused, "the listener stayed open after shutdown");
    gate.open.store(true, Ordering::SeqCst);
    let raw = in_flight.join().unwrap();
    assert_eq!((raw.status, raw.text().as_str()), (200, "finished"));
    server.stop(); // returns: the server drained
}

fn connect_info_gives_the_peer_address(rt: Rt) {
    use axum::extract::ConnectInfo;
    use std::net::SocketAddr;
    let app =
        Router::new().route("/", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }));
    let server = Server::start_make(rt, app.into_make_service_with_connect_info::<SocketAddr>());
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let me = stream.local_addr().unwrap();
    // Two requests on one connection, then a second connection: each sees its own peer.
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(text.matches(&me.to_string()).count(), 2, "{text}");
    let other = get_raw(server.addr, "/", "");
    assert_eq!(other.status, 200);
    assert_ne!(other.text(), me.to_string());
    assert!(other.text().starts_with("127.0.0.1:"), "{}", other.text());
}

/// A make-service that has to wait cannot run in the accept loop: that
/// connection is refused (and logged); the server serves on.
fn a_make_service_that_waits_refuses_the_connection(rt: Rt) {
    #[derive(Clone)]
    struct Waits(Arc<AtomicUsize>);
    impl Service<std::net::SocketAddr> for Waits {
        type Response = SlowToReady;
        type Error = Infallible;
        type Future = BoxFuture<Result<SlowToReady, Infallible>>;
        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _peer: std::net::SocketAddr) -> Self::Future {
            // Every other connection waits.
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n % 2 == 0 {
                    std::future::pending::<()>().await;
                }
                Ok(SlowToReady::default())
            })
        }
    }
    let server = Server::start_make(rt, Waits(Arc::default()));
    let mut refused = std::net::TcpStream::connect(server.addr).unwrap();
    let _ = refused.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut bytes = Vec::new();
    let _ = refused.read_to_end(&mut bytes);
    assert!(bytes.is_empty(), "a refused connection was answered: {bytes:?}");
    assert_eq!(get_raw(server.addr, "/", "").text(), "ready now");
}

on_every_runtime!(
    connect_info_gives_the_peer_address,
    a_make_service_that_waits_refuses_the_connection,
    a_service_not_ready_at_once_is_waited_for,
    concurrency_limit_holds_requests_back,
    service_errors_become_500,
    a_body_error_before_anything_went_out_is_a_500,
    a_body_error_midway_closes_the_h1_connection,
    a_body_error_midway_resets_the_h2_stream,
    graceful_shutdown_completes_the_request_in_flight,
    a_panicking_service_answers_500_and_the_server_serves_on,
    axums_websocket_upgrade_answers_426,
);

/// tower-http's TimeoutLayer sleeps on tokio's timer: tokio only.
#[test]
fn timeout_layer_answers_408_on_tokio() {
    let app = Router::new()
        .route("/never", get(std::future::pending::<&'static str>))
        .route("/", get(|| async { "quick" }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(100),
        ));
    let server = Server::start(Rt::Tokio, app);
    assert_eq!(get_raw(server.addr, "/never", "").status, 408);
    assert_eq!(get_raw(server.addr, "/", "").text(), "quick");
}

/// A service behind tower's `ServiceBuilder` with several layers, as
/// applications stack them, and one that reads its request body.
#[test]
fn a_service_builder_stack_reads_the_request_body() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    let service = ServiceBuilder::new().concurrency_limit(8).service_fn(move |req: http::Request<RequestBody>| {
        let seen = seen.clone();
        async move {
            let body = http_body_util::BodyExt::collect(req.into_body()).await?.to_bytes();
            seen.lock().unwrap().push(body.clone());
            Ok::<_, std::io::Error>(http::Response::new(http_body_util::Full::new(body)))
        }
    });
    let server = Server::start(Rt::Smol, service);
    let raw =
        exchange(server.addr, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    assert_eq!((raw.status, raw.text().as_str()), (200, "hello"));
    assert_eq!(raw.header("content-length"), Some("5"));
    server.stop();
    assert_eq!(&bodies.lock().unwrap()[..], [&b"hello"[..]]);
}

fn a_panicking_service_answers_500_and_the_server_serves_on(rt: Rt) {
    let app = Router::new()
        .route(
            "/panics",
            get(|| async {
                if true {
                    panic!("a handler bug");
                }
                "unreachable"
            }),
        )
        .route("/", get(|| async { "still here" }));
    let server = Server::start(rt, app.with_state(()));
    assert_eq!(get_raw(server.addr, "/panics", "").status, 500);
    assert_eq!(get_raw(server.addr, "/", "").text(), "still here");
}

/// axum's WebSocketUpgrade needs hyper's private upgrade extension: on
/// sockless it rejects the handshake with 426, as docs/tower.md says.
fn axums_websocket_upgrade_answers_426(rt: Rt) {
    let app = Router::new()
        .route("/ws", get(|ws: axum::extract::WebSocketUpgrade| async move { ws.on_upgrade(|_socket| async {}) }));
    let server = Server::start(rt, app.with_state(()));
    let raw = exchange(
        server.addr,
        b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert_eq!(raw.status, 426);
}
