//! Runtime-independent integration tests: each adapter runs them over real
//! loopback TCP with its own runtime (feature `testkit`; not a stable API).

use crate::body::Oneshot;
use crate::{serve, Body, ClientHandle, Io, Listener, Request, Response, Runtime, ServerOptions, ShutdownSignal};
use sockless_core::{Bytes, Connection, Instant, Method, RequestHead, ResponseHead};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

/// A boxed future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a runtime adapter gives the tests.
pub trait Env: Clone + Send + Sync + 'static {
    /// The runtime.
    type Rt: Runtime;
    /// Its TCP listener.
    type Listener: Listener;
    /// Its TCP stream, as a client.
    type Stream: Io;
    /// The runtime handle.
    fn rt(&self) -> Self::Rt;
    /// Binds a listener on 127.0.0.1, port 0.
    fn bind(&self) -> io::Result<(Self::Listener, SocketAddr)>;
    /// Connects to `addr`.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<Self::Stream>>;
}

/// Runs `f`, panicking if it takes longer than `limit`.
pub async fn with_timeout<R: Runtime, T>(rt: &R, limit: Duration, f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut timer = Box::pin(rt.sleep_until(rt.now() + limit));
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(v);
        }
        if timer.as_mut().poll(cx).is_ready() {
            panic!("test timed out after {limit:?}");
        }
        Poll::Pending
    })
    .await
}

/// Whether `f` completes within `limit`.
pub async fn completes_within<R: Runtime, T>(rt: &R, limit: Duration, f: impl Future<Output = T>) -> Option<T> {
    let mut f = std::pin::pin!(f);
    let mut timer = Box::pin(rt.sleep_until(rt.now() + limit));
    poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Sleeps on the runtime.
pub async fn sleep<R: Runtime>(rt: &R, d: Duration) {
    let mut timer = Box::pin(rt.sleep_until(rt.now() + d));
    poll_fn(|cx| timer.as_mut().poll(cx).map(drop)).await
}

/// Spawns `f` and returns a future of its output.
pub fn spawn<R: Runtime, T: Send + 'static>(rt: &R, f: impl Future<Output = T> + Send + 'static) -> BoxFuture<T> {
    let slot = Oneshot::new();
    let put = slot.clone();
    rt.spawn(async move { put.put(f.await) });
    Box::pin(async move { poll_fn(|cx| slot.poll_take(cx)).await.expect("task finished without a value") })
}

/// Waits for every future, polling them together.
pub async fn join_all<T>(futures: Vec<BoxFuture<T>>) -> Vec<T> {
    let mut futures: Vec<Option<BoxFuture<T>>> = futures.into_iter().map(Some).collect();
    let mut out: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futures.iter_mut().zip(out.iter_mut()) {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *o = Some(v);
                        *f = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future completed")).collect()
}

fn h1_server(now: Instant) -> sockless_h1::ServerConnection {
    sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now)
}

fn h2_server(now: Instant) -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::server(sockless_h2::Config::server(), now)
}

async fn client<E: Env, C: Connection + Send + 'static>(env: &E, addr: SocketAddr, conn: C) -> ClientHandle {
    let io = env.connect(addr).await.expect("connect");
    io.set_nodelay(true).expect("nodelay");
    ClientHandle::spawn(&env.rt(), io, conn)
}

fn h1_client() -> sockless_h1::ClientConnection {
    sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO)
}

fn h2_client() -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO)
}

fn get(path: &str) -> Request {
    let head = RequestHead::new(Method::Get, format!("http://localhost{path}")).header("Host", "localhost");
    Request::new(head, Body::empty())
}

/// Runs `serve` as a task; the returned future completes when it returns.
fn start_server<E, M, C, H, F>(
    env: &E,
    make: M,
    handler: H,
    options: ServerOptions,
) -> (SocketAddr, BoxFuture<io::Result<()>>)
where
    E: Env,
    M: Fn(Instant) -> C + Send + 'static,
    C: Connection + Send + 'static,
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let (listener, addr) = env.bind().expect("bind");
    let rt = env.rt();
    let done = spawn(&rt, serve(rt.clone(), listener, make, handler, options));
    (addr, done)
}

fn pattern(len: usize) -> Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}

/// HTTP/1.1 server and client: a 1 MB request body streamed in 16 KiB
/// chunks is echoed back as the response body, twice on one connection.
pub async fn h1_streamed_echo_1mb<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(30), async {
        let echo = |req: Request| async move { Response::new(ResponseHead::new(200), req.body) };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h1_server, echo, options);
        let client = client(&env, addr, h1_client()).await;
        let data = pattern(1 << 20);
        for _ in 0..2 {
            let (mut tx, body) = Body::channel();
            let chunks = data.clone();
            let producer = spawn(&rt, async move {
                for chunk in chunks.chunks(16 * 1024) {
                    tx.send(Bytes::copy_from_slice(chunk)).await.expect("send body");
                }
                tx.finish();
            });
            let head = RequestHead::new(Method::Post, "/echo").header("Host", "localhost");
            let response = client.send(Request::new(head, body)).await.expect("response");
            assert_eq!(response.head.status, 200);
            let echoed = response.body.collect(2 << 20).await.expect("response body");
            producer.await;
            assert_eq!(echoed.len(), data.len());
            assert!(echoed == data, "echoed body differs");
        }
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// HTTP/2 (prior knowledge): 20 concurrent requests on one connection; the
/// slow one completes only after the 19 others, which proves the streams
/// run concurrently (served one after another, this would never finish).
pub async fn h2_concurrent_streams<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let (gate_tx, gate_rx) = Body::channel();
        let gate = Arc::new(Mutex::new(Some(gate_rx)));
        let handler = move |req: Request| {
            let gate = gate.clone();
            async move {
                if req.head.path() == b"/slow" {
                    let gate_rx = gate.lock().unwrap().take();
                    if let Some(mut rx) = gate_rx {
                        let _ = rx.next_chunk().await; // opened once the others are done
                    }
                    return Response::new(ResponseHead::new(200), "slow");
                }
                Response::new(ResponseHead::new(200), Body::from(req.head.path().to_vec()))
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, handler, options);
        let client = client(&env, addr, h2_client()).await;
        let finished = Arc::new(Mutex::new(Vec::new()));
        let gate_tx = Arc::new(Mutex::new(Some(gate_tx)));
        let mut requests = Vec::new();
        for i in 0..20 {
            let client = client.clone();
            let finished = finished.clone();
            let gate_tx = gate_tx.clone();
            let path = if i == 0 { "/slow".to_string() } else { format!("/fast/{i}") };
            requests.push(spawn(&rt, async move {
                let response = client.send(get(&path)).await.expect("response");
                let body = response.body.collect(1024).await.expect("body");
                let mut done = finished.lock().unwrap();
                done.push(path.clone());
                if done.len() == 19 {
                    if let Some(tx) = gate_tx.lock().unwrap().take() {
                        tx.finish();
                    }
                }
                (path, body)
            }));
        }
        for (path, body) in join_all(requests).await {
            let expected: &[u8] = if path == "/slow" { b"slow" } else { path.as_bytes() };
            assert_eq!(&body[..], expected);
        }
        assert_eq!(finished.lock().unwrap().last().map(String::as_str), Some("/slow"));
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Graceful shutdown with a request in flight: the request completes, the
/// server stops accepting, and `serve` returns once the connection drained.
pub async fn graceful_shutdown<E, S, C>(env: E, make_server: fn(Instant) -> S, make_client: fn() -> C, h2: bool)
where
    E: Env,
    S: Connection + Send + 'static,
    C: Connection + Send + 'static,
{
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let (started_tx, mut started_rx) = Body::channel();
        let started_tx = Arc::new(Mutex::new(Some(started_tx)));
        let handler_rt = rt.clone();
        let handler = move |_req: Request| {
            let rt = handler_rt.clone();
            let started = started_tx.lock().unwrap().take();
            async move {
                if let Some(tx) = started {
                    tx.finish();
                }
                sleep(&rt, Duration::from_millis(300)).await;
                Response::new(ResponseHead::new(200), "done")
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions {
            shutdown: shutdown.clone(),
            drain_timeout: Duration::from_secs(10),
            ..ServerOptions::default()
        };
        let (addr, server) = start_server(&env, make_server, handler, options);
        let client = client(&env, addr, make_client()).await;
        let in_flight = {
            let client = client.clone();
            spawn(&rt, async move {
                let response = client.send(get("/slow")).await?;
                let close = response.head.headers.get("connection").map(<[u8]>::to_ascii_lowercase);
                let body = response.body.collect(1024).await?;
                Ok::<_, io::Error>((response.head.status, body, close))
            })
        };
        assert!(started_rx.next_chunk().await.is_none(), "handler started");
        shutdown.trigger();
        let (status, body, close) = in_flight.await.expect("in-flight request completes");
        assert_eq!(status, 200);
        assert_eq!(&body[..], b"done");
        if !h2 {
            assert_eq!(close.as_deref(), Some(&b"close"[..]), "HTTP/1.1 announces the close");
        }
        server.await.expect("serve returns after draining");
        assert!(env.connect(addr).await.is_err(), "no longer accepting");
    })
    .await
}
/// The connection ceiling: with `max_connections = 1` and the first
/// connection busy (its request in a handler), a second connection is not
/// served until the first one closes; with the first connection idle, the
/// second one is served at once and the idle one closed to make room.
pub async fn max_connections<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let (gate_tx, gate_rx) = Body::channel();
        let gate = Arc::new(Mutex::new(Some(gate_rx)));
        let (started_tx, mut started_rx) = Body::channel();
        let started_tx = Arc::new(Mutex::new(Some(started_tx)));
        let handler = move |req: Request| {
            let gate = gate.clone();
            let started = started_tx.clone();
            async move {
                if req.head.path() == b"/hold" {
                    if let Some(tx) = started.lock().unwrap().take() {
                        tx.finish();
                    }
                    let gate_rx = gate.lock().unwrap().take();
                    if let Some(mut rx) = gate_rx {
                        let _ = rx.next_chunk().await;
                    }
                }
                Response::new(ResponseHead::new(200), "ok")
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), max_connections: 1, ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h1_server, handler, options);
        let first = client(&env, addr, h1_client()).await;
        let held = {
            let first = first.clone();
            spawn(&rt, async move { first.send(get("/hold")).await.map(|r| r.head.status) })
        };
        assert!(started_rx.next_chunk().await.is_none(), "the first request is in its handler");

        let second = client(&env, addr, h1_client()).await;
        let mut waiting = {
            let second = second.clone();
            spawn(&rt, async move { second.send(get("/2")).await.map(|r| r.head.status) })
        };
        // Over the ceiling: not served while the first connection is busy.
        let early = completes_within(&rt, Duration::from_millis(600), &mut waiting).await;
        assert!(early.is_none(), "second connection served over the ceiling");
        gate_tx.finish(); // the first request is answered...
        assert_eq!(held.await.expect("first connection served"), 200);
        drop(first);
        let status = waiting.await.expect("second connection served");
        assert_eq!(status, 200); // ...and the second one is accepted

        // The second connection is idle now: a third client takes its place.
        let third = client(&env, addr, h1_client()).await;
        let status = third.send(get("/3")).await.expect("third connection served").head.status;
        assert_eq!(status, 200);
        for _ in 0..500 {
            if second.is_closed() {
                break;
            }
            sleep(&rt, Duration::from_millis(10)).await;
        }
        assert!(second.is_closed(), "the idle connection was closed to make room");
        drop((second, third));
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// A handler that reads a 1 MB request body slowly: the server holds at
/// most its cap (plus one read) of unread body, never the whole body.
pub async fn backpressure<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(30), async {
        const CAP: usize = 64 * 1024;
        let handler_rt = rt.clone();
        let handler = move |mut req: Request| {
            let rt = handler_rt.clone();
            async move {
                let mut total = 0usize;
                let mut max_buffered = 0usize;
                while let Some(chunk) = req.body.next_chunk().await {
                    max_buffered = max_buffered.max(req.body.buffered() + chunk.as_ref().map_or(0, Bytes::len));
                    total += chunk.expect("request body").len();
                    sleep(&rt, Duration::from_millis(1)).await;
                }
                Response::new(ResponseHead::new(200), format!("{total} {max_buffered}").into_bytes())
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), max_buffered_body: CAP, ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h1_server, handler, options);
        let client = client(&env, addr, h1_client()).await;
        let head = RequestHead::new(Method::Post, "/slow-reader").header("Host", "localhost");
        let response = client.send(Request::new(head, pattern(1 << 20))).await.expect("response");
        let body = response.body.collect(64).await.expect("body");
        let text = String::from_utf8(body.to_vec()).unwrap();
        let mut parts = text.split(' ').map(|n| n.parse::<usize>().unwrap());
        let (total, max_buffered) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(total, 1 << 20);
        // The cap plus what one round of input (the connection's own input
        // buffer, 72 KiB by default) can add.
        assert!(max_buffered <= CAP + 80 * 1024, "server buffered {max_buffered} bytes of unread body");
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// A bounded worker pool: with `max_concurrent_handlers = 2`, eight
/// concurrent HTTP/2 requests all complete and at most two handlers ever run
/// at once.
pub async fn worker_pool<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let running = Arc::new(Mutex::new((0usize, 0usize))); // (now, most)
        let handler_rt = rt.clone();
        let counts = running.clone();
        let handler = move |_req: Request| {
            let rt = handler_rt.clone();
            let counts = counts.clone();
            async move {
                {
                    let mut c = counts.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                sleep(&rt, Duration::from_millis(20)).await;
                counts.lock().unwrap().0 -= 1;
                Response::new(ResponseHead::new(200), "ok")
            }
        };
        let shutdown = ShutdownSignal::new();
        let options =
            ServerOptions { shutdown: shutdown.clone(), max_concurrent_handlers: Some(2), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, handler, options);
        let client = client(&env, addr, h2_client()).await;
        let requests = (0..8)
            .map(|i| {
                let client = client.clone();
                spawn(&rt, async move { client.send(get(&format!("/{i}"))).await.map(|r| r.head.status) })
            })
            .collect();
        for status in join_all(requests).await {
            assert_eq!(status.expect("response"), 200);
        }
        let most = running.lock().unwrap().1;
        assert!((1..=2).contains(&most), "{most} handlers ran at once");
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// HTTP/2: a body nobody reads yet holds up only its own stream. On the
/// server a handler sits on a 2 MB request body; on the client a 2 MB
/// response body lies unread. Both are over the driver's body cap, and
/// still ten other requests on the same connection complete; the unread
/// bytes are bounded by the stream's flow-control window (1 MB), not by
/// stopping input (which would stall every stream on the connection).
pub async fn h2_unread_bodies_do_not_stall_other_streams<E: Env>(env: E) {
    h2_unread_bodies(env, 16 * 1024).await
}

/// The same with a body cap above the stream window (8 MB against 1 MB):
/// the cap is never reached, so only the window holds the peer back, and
/// the connection must still be woken when the handler reads, to give the
/// window back (or the held 2 MB body would never arrive whole).
pub async fn h2_window_returned_with_a_cap_above_it<E: Env>(env: E) {
    h2_unread_bodies(env, 8 << 20).await
}

async fn h2_unread_bodies<E: Env>(env: E, cap: usize) {
    const BIG: usize = 2 << 20;
    const WINDOW: usize = 1 << 20; // sockless-h2's default initial window
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(30), async {
        let (gate_tx, gate_rx) = Body::channel();
        let gate = Arc::new(Mutex::new(Some(gate_rx)));
        let handler = move |mut req: Request| {
            let gate = gate.clone();
            async move {
                match req.head.path() {
                    b"/hold" => {
                        let gate_rx = gate.lock().unwrap().take();
                        if let Some(mut rx) = gate_rx {
                            let _ = rx.next_chunk().await; // opened once the others are done
                        }
                        let (mut total, mut most) = (0usize, 0usize);
                        while let Some(chunk) = req.body.next_chunk().await {
                            let chunk = chunk.expect("request body");
                            most = most.max(req.body.buffered() + chunk.len());
                            total += chunk.len();
                        }
                        Response::new(ResponseHead::new(200), format!("{total} {most}").into_bytes())
                    }
                    b"/big" => Response::new(ResponseHead::new(200), pattern(BIG)),
                    path => Response::new(ResponseHead::new(200), Body::from(path.to_vec())),
                }
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), max_buffered_body: cap, ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, handler, options);
        let client = client(&env, addr, h2_client()).await;

        // The server's handler holds its request body unread.
        let held = {
            let client = client.clone();
            spawn(&rt, async move {
                let head = RequestHead::new(Method::Post, "http://localhost/hold").header("Host", "localhost");
                let response = client.send(Request::new(head, pattern(BIG))).await.expect("response to /hold");
                response.body.collect(64).await.expect("body of /hold")
            })
        };
        // The client holds a response body unread.
        let big = client.send(get("/big")).await.expect("response to /big");
        sleep(&rt, Duration::from_millis(200)).await; // both windows fill up

        let fast = (0..10)
            .map(|i| {
                let client = client.clone();
                spawn(&rt, async move {
                    let response = client.send(get(&format!("/fast/{i}"))).await.expect("response");
                    response.body.collect(64).await.expect("body")
                })
            })
            .collect();
        let answered = completes_within(&rt, Duration::from_secs(5), join_all(fast)).await;
        let answered = answered.expect("other streams are served while two bodies lie unread");
        for (i, body) in answered.iter().enumerate() {
            assert_eq!(&body[..], format!("/fast/{i}").as_bytes());
        }

        gate_tx.finish();
        // Once read, the held body arrives whole without delay: each read
        // wakes the connection to return window credit (else it waits for
        // some unrelated wake-up, seconds later).
        let held = completes_within(&rt, Duration::from_secs(5), held).await;
        let held = held.expect("the held body arrives once the handler reads it");
        let text = String::from_utf8(held.to_vec()).unwrap();
        let mut parts = text.split(' ').map(|n| n.parse::<usize>().unwrap());
        let (total, most) = (parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(total, BIG);
        assert!(most <= WINDOW, "server held {most} unread bytes, more than the stream window");
        let body = big.body.collect(BIG).await.expect("body of /big");
        assert!(body == pattern(BIG), "body of /big differs");

        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Sets its flag when dropped.
struct DropFlag(Arc<Mutex<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = true;
    }
}

/// Waits (up to 5 s) for `flag` to be set.
async fn wait_for<R: Runtime>(rt: &R, flag: &Arc<Mutex<bool>>) -> bool {
    for _ in 0..500 {
        if *flag.lock().unwrap() {
            return true;
        }
        sleep(rt, Duration::from_millis(10)).await;
    }
    false
}

/// Cancellation, as hyper users expect it: a client that stops waiting for
/// a response (its `send` future dropped, as a timeout does) cancels the
/// request, and the server drops the handler's future where it waits. On
/// HTTP/2 the stream is reset and the connection serves on; and a client
/// that drops a response body it stopped reading resets that stream, so the
/// server's body sender sees the reader gone. On HTTP/1.1 the client
/// closes the connection, and a server configured without half-close
/// (`half_close: false`, hyper's default) takes that as the client going
/// away.
pub async fn cancellation<E: Env>(env: E, h2: bool) {
    if h2 {
        cancellation_over(env, h2_server, h2_client, true).await
    } else {
        let h1_server = |now| {
            let config = sockless_h1::Config { half_close: false, ..sockless_h1::Config::server() };
            sockless_h1::ServerConnection::new(config, now)
        };
        cancellation_over(env, h1_server, h1_client, false).await
    }
}

async fn cancellation_over<E, S, C>(env: E, make_server: fn(Instant) -> S, make_client: fn() -> C, h2: bool)
where
    E: Env,
    S: Connection + Send + 'static,
    C: Connection + Send + 'static,
{
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(30), async {
        let (started_tx, mut started_rx) = Body::channel();
        let started_tx = Arc::new(Mutex::new(Some(started_tx)));
        let handler_dropped = Arc::new(Mutex::new(false));
        let sender_broke = Arc::new(Mutex::new(false));
        let (dropped, broke) = (handler_dropped.clone(), sender_broke.clone());
        let handler_rt = rt.clone();
        let handler = move |req: Request| {
            let started = started_tx.lock().unwrap().take();
            let guard = DropFlag(dropped.clone());
            let broke = broke.clone();
            let rt = handler_rt.clone();
            async move {
                match req.head.path() {
                    b"/wait" => {
                        if let Some(tx) = started {
                            tx.finish();
                        }
                        std::future::pending::<()>().await; // until cancelled
                        drop(guard);
                        Response::new(ResponseHead::new(200), "never")
                    }
                    b"/endless" => {
                        let (mut tx, body) = Body::channel_with_capacity(16 * 1024);
                        rt.spawn(async move {
                            while tx.send(pattern(16 * 1024)).await.is_ok() {}
                            *broke.lock().unwrap() = true;
                        });
                        Response::new(ResponseHead::new(200), body)
                    }
                    _ => Response::new(ResponseHead::new(200), "ok"),
                }
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, make_server, handler, options);
        let client = client(&env, addr, make_client()).await;

        // The caller gives up on /wait once its handler runs.
        let waiting = completes_within(&rt, Duration::from_secs(60), client.send(get("/wait")));
        let gave_up = completes_within(&rt, Duration::from_secs(10), async {
            let mut waiting = std::pin::pin!(waiting);
            poll_fn(|cx| {
                let _ = waiting.as_mut().poll(cx); // sends the request, then keeps waiting
                Poll::Ready(())
            })
            .await;
            assert!(started_rx.next_chunk().await.is_none(), "handler started");
            // `waiting` is dropped here, before any response
        })
        .await;
        assert!(gave_up.is_some(), "the /wait handler started");
        assert!(wait_for(&rt, &handler_dropped).await, "the server dropped the cancelled handler's future");
        if !h2 {
            assert!(client.is_closed(), "cancelling an HTTP/1.1 exchange closes the connection");
        } else {
            // The connection serves on.
            let response = client.send(get("/after")).await.expect("response after a cancelled stream");
            assert_eq!(&response.body.collect(64).await.expect("body")[..], b"ok");
            // A response body dropped half-read cancels its stream.
            let response = client.send(get("/endless")).await.expect("response to /endless");
            let mut body = response.body;
            body.next_chunk().await.expect("a chunk").expect("a chunk");
            drop(body);
            assert!(wait_for(&rt, &sender_broke).await, "the server's body sender saw the reader gone");
            let response = client.send(get("/last")).await.expect("response after a dropped body");
            assert_eq!(response.head.status, 200);
        }
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Writes `request` on a new connection to `addr`, then reads until the
/// server closes it (or 10 s pass); returns what the server sent.
pub async fn raw_exchange<E: Env>(env: &E, addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut io = env.connect(addr).await.expect("connect");
    write_all(&mut io, request).await.expect("write request");
    let rt = env.rt();
    let mut out = Vec::new();
    let _ = completes_within(&rt, Duration::from_secs(10), read_to_end(&mut io, &mut out)).await;
    out
}

/// Writes all of `bytes` to `io`.
pub async fn write_all<I: Io>(io: &mut I, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        let n = poll_fn(|cx| io.poll_write_vectored(cx, &[io::IoSlice::new(bytes)])).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
    }
    poll_fn(|cx| io.poll_flush(cx)).await
}

/// Reads from `io` into `out` until end of stream (or an error).
pub async fn read_to_end<I: Io>(io: &mut I, out: &mut Vec<u8>) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match poll_fn(|cx| io.poll_read(cx, &mut buf)).await? {
            0 => return Ok(()),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A handler answering HEAD, 204 and 304 with a body anyway (and `/last`
/// with "done"): the driver drops those bodies.
fn bodies_where_none_belong(req: Request) -> std::future::Ready<Response> {
    let response = match req.head.path() {
        b"/known" => Response::new(ResponseHead::new(200), "hello"),
        b"/streamed" => {
            let (tx, body) = Body::channel();
            drop(tx);
            Response::new(ResponseHead::new(200), body)
        }
        b"/204" => Response::new(ResponseHead::new(204), "not sent"),
        b"/304" => Response::new(ResponseHead::new(304), "not sent"),
        b"/103" => Response::new(ResponseHead::new(103), "not sent"),
        _ => Response::new(ResponseHead::new(200), "done"),
    };
    std::future::ready(response)
}

/// HTTP/1.1: responses that may not have a body (to HEAD, 204, 304) go out
/// as a head alone even when the handler gave a body, and the keep-alive
/// connection serves the requests pipelined after them. HEAD gets the
/// Content-Length the body would have had. A 1xx returned as the final
/// response becomes a 500.
pub async fn h1_no_body_responses<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h1_server, bodies_where_none_belong, options);
        let request = b"HEAD /known HTTP/1.1\r\nHost: x\r\n\r\n\
                        HEAD /streamed HTTP/1.1\r\nHost: x\r\n\r\n\
                        GET /204 HTTP/1.1\r\nHost: x\r\n\r\n\
                        GET /304 HTTP/1.1\r\nHost: x\r\n\r\n\
                        GET /103 HTTP/1.1\r\nHost: x\r\n\r\n\
                        GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let reply = String::from_utf8(raw_exchange(&env, addr, request).await).expect("text");
        let heads: Vec<&str> = reply.split("HTTP/1.1 ").skip(1).collect();
        assert_eq!(heads.len(), 6, "every pipelined request answered: {reply}");
        assert!(heads[0].starts_with("200"), "{reply}");
        assert!(heads[0].to_ascii_lowercase().contains("content-length: 5\r\n"), "{reply}");
        for (i, status) in [(0, "200"), (1, "200"), (2, "204"), (3, "304"), (4, "500")] {
            assert!(heads[i].starts_with(status), "response {i}: {reply}");
            assert!(heads[i].ends_with("\r\n\r\n"), "response {i} has no body: {reply}");
        }
        assert!(heads[5].starts_with("200") && heads[5].contains("done"), "{reply}");
        assert!(!reply.contains("not sent") && !reply.contains("hello"), "{reply}");
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// HTTP/2: the same responses end their streams with the head (no DATA,
/// which the client would take as a protocol error), and the connection
/// serves on.
pub async fn h2_no_body_responses<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, bodies_where_none_belong, options);
        let client = client(&env, addr, h2_client()).await;
        let head = |path: &str| {
            let head = RequestHead::new(Method::Head, format!("http://localhost{path}")).header("Host", "localhost");
            Request::new(head, Body::empty())
        };
        let cases = [(head("/streamed"), 200), (get("/204"), 204), (get("/304"), 304), (get("/103"), 500)];
        for (request, status) in cases {
            let response = client.send(request).await.expect("response");
            assert_eq!(response.head.status, status);
            assert!(response.body.collect(64).await.expect("body").is_empty(), "{status} has no body");
        }
        let response = client.send(get("/last")).await.expect("response after the bodiless ones");
        assert_eq!(&response.body.collect(64).await.expect("body")[..], b"done");
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Pending once (waking its task at once), then ready: makes a handler wait,
/// so that it runs in a task of its own rather than inline.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A handler that panics, at once (polled inline by the connection), after
/// waiting (in its own task), or in the task streaming its body: the first
/// two are answered 500 and logged; the third, whose head is out, breaks off
/// (HTTP/1.1 closes, HTTP/2 resets the stream). The server serves on.
pub async fn handler_panics<E: Env>(env: E, h2: bool) {
    if h2 {
        handler_panics_over(env, h2_server, h2_client, true).await
    } else {
        handler_panics_over(env, h1_server, h1_client, false).await
    }
}

async fn handler_panics_over<E, S, C>(env: E, make_server: fn(Instant) -> S, make_client: fn() -> C, h2: bool)
where
    E: Env,
    S: Connection + Send + 'static,
    C: Connection + Send + 'static,
{
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let handler_rt = rt.clone();
        let handler = move |req: Request| {
            let rt = handler_rt.clone();
            async move {
                match req.head.path() {
                    b"/now" => panic!("a handler panicked at once"),
                    b"/later" => {
                        YieldOnce(false).await;
                        panic!("a handler panicked after waiting");
                    }
                    b"/in-body" => {
                        let (mut tx, body) = Body::channel();
                        rt.spawn(async move {
                            let _ = tx.send(Bytes::from_static(b"partial")).await;
                            YieldOnce(false).await;
                            drop(tx); // as a panic in this task would
                        });
                        Response::new(ResponseHead::new(200), body)
                    }
                    _ => Response::new(ResponseHead::new(200), "ok"),
                }
            }
        };
        let logged = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = logged.clone();
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions {
            shutdown: shutdown.clone(),
            error_log: crate::ErrorLog::new(move |m| sink.lock().unwrap().push(m.to_string())),
            ..ServerOptions::default()
        };
        let (addr, server) = start_server(&env, make_server, handler, options);
        let client = client(&env, addr, make_client()).await;
        for path in ["/now", "/later", "/ok"] {
            let response = client.send(get(path)).await.expect("a response");
            let expected = if path == "/ok" { 200 } else { 500 };
            assert_eq!(response.head.status, expected, "{path}");
            response.body.collect(64).await.expect("body");
        }
        let log = logged.lock().unwrap().clone();
        assert_eq!(log.len(), 2, "{log:?}");
        assert!(log[0].contains("panicked at once") && log[1].contains("after waiting"), "{log:?}");
        let response = client.send(get("/in-body")).await.expect("the head went out");
        assert!(response.body.collect(1024).await.is_err(), "a broken-off body is no complete body");
        let client = if h2 { client } else { self::client(&env, addr, make_client()).await };
        let response = client.send(get("/ok")).await.expect("the server serves on");
        assert_eq!(response.head.status, 200);
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Framing the handler leaves to the driver: a body of known length (bytes,
/// a sized channel such as a file) goes out with Content-Length, not
/// chunked; every response has a Date field; `Server` only when configured.
pub async fn known_length_date_and_server<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let handler_rt = rt.clone();
        let handler = move |req: Request| {
            let rt = handler_rt.clone();
            async move {
                match req.head.path() {
                    b"/sized" => {
                        let (mut tx, body) = Body::sized_channel(6);
                        rt.spawn(async move {
                            let _ = tx.send(Bytes::from_static(b"abc")).await;
                            let _ = tx.send(Bytes::from_static(b"def")).await;
                            tx.finish();
                        });
                        Response::new(ResponseHead::new(200), body)
                    }
                    b"/streamed" => {
                        let (mut tx, body) = Body::channel();
                        rt.spawn(async move {
                            let _ = tx.send(Bytes::from_static(b"abc")).await;
                            tx.finish();
                        });
                        Response::new(ResponseHead::new(200), body)
                    }
                    _ => Response::new(ResponseHead::new(200), String::from("hello")),
                }
            }
        };
        for (h2, server_header) in [(false, None), (false, Some("sockless-test")), (true, Some("sockless-test"))] {
            let shutdown = ShutdownSignal::new();
            let options = ServerOptions {
                shutdown: shutdown.clone(),
                server_header: server_header.map(String::from),
                ..ServerOptions::default()
            };
            if h2 {
                let (addr, server) = start_server(&env, h2_server, handler.clone(), options);
                let client = client(&env, addr, h2_client()).await;
                for (path, len) in [("/", "5"), ("/sized", "6")] {
                    let response = client.send(get(path)).await.expect("response");
                    let headers = &response.head.headers;
                    assert_eq!(headers.get("content-length"), Some(len.as_bytes()), "{path}");
                    assert_eq!(headers.get("date").map(<[u8]>::len), Some(29), "{path}");
                    assert_eq!(headers.get("server"), Some(&b"sockless-test"[..]));
                    response.body.collect(64).await.expect("body");
                }
                drop(client);
                shutdown.trigger();
                server.await.expect("serve");
                continue;
            }
            let (addr, server) = start_server(&env, h1_server, handler.clone(), options);
            let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\
                            GET /sized HTTP/1.1\r\nHost: x\r\n\r\n\
                            GET /streamed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            let reply = String::from_utf8(raw_exchange(&env, addr, request).await).expect("text").to_ascii_lowercase();
            let responses: Vec<&str> = reply.split("http/1.1 ").skip(1).collect();
            assert_eq!(responses.len(), 3, "{reply}");
            assert!(
                responses[0].contains("content-length: 5\r\n") && responses[0].ends_with("\r\n\r\nhello"),
                "{reply}"
            );
            assert!(
                responses[1].contains("content-length: 6\r\n") && responses[1].ends_with("\r\n\r\nabcdef"),
                "{reply}"
            );
            assert!(responses[2].contains("transfer-encoding: chunked\r\n"), "unknown length: chunked: {reply}");
            for r in &responses {
                assert!(!(r.contains("content-length") && r.contains("transfer-encoding")), "{reply}");
                let date = r.split("\r\ndate: ").nth(1).and_then(|d| d.split("\r\n").next());
                assert_eq!(date.map(str::len), Some(29), "a Date field: {reply}");
                assert_eq!(r.contains("\r\nserver: sockless-test\r\n"), server_header.is_some(), "{reply}");
            }
            shutdown.trigger();
            server.await.expect("serve");
        }
    })
    .await
}

/// A listener that accepts one connection and closes it at once.
fn accept_and_close<E: Env>(env: &E) -> SocketAddr {
    let (mut listener, addr) = env.bind().expect("bind");
    env.rt().spawn(async move {
        if let Ok((io, _)) = poll_fn(|cx| listener.poll_accept(cx)).await {
            drop(io);
        }
    });
    addr
}

/// A TLS server for "localhost" (a fresh self-signed certificate) over
/// HTTP/1.1, and a client that trusts that certificate or nothing.
fn tls_pair(
    trusted: bool,
) -> (
    impl Fn(Instant) -> sockless_tls::Tls<sockless_h1::ServerConnection> + Send + Clone + 'static,
    sockless_tls::Tls<sockless_h1::ClientConnection>,
) {
    let (chain, key) = sockless_tls::self_signed_localhost().expect("a certificate");
    let alpn: [&[u8]; 1] = [sockless_tls::ALPN_HTTP11];
    let roots = match trusted {
        true => sockless_tls::Roots::from_certificates(&chain).expect("roots"),
        false => sockless_tls::Roots::Store(sockless_tls::rustls::RootCertStore::empty()),
    };
    let server_config = sockless_tls::server_config(chain, key, &alpn, None).expect("server config");
    let make =
        move |now| sockless_tls::Tls::server(server_config.clone(), now, |_, now| h1_server(now)).expect("TLS server");
    let client_config = sockless_tls::client_config(roots, &alpn, None).expect("client config");
    let client = sockless_tls::Tls::client(client_config, "localhost", Instant::ZERO, |_, now| {
        sockless_h1::ClientConnection::new(sockless_h1::Config::client(), now)
    })
    .expect("TLS client");
    (make, client)
}

/// The kind of the sockless-rt error inside `e`.
fn kind_of(e: &io::Error) -> Option<crate::ErrorKind> {
    crate::Error::of(e).map(crate::Error::kind)
}

/// Client errors say what happened, with a kind the caller can match: a
/// TLS failure with its TLS kind (not "connection closed"), a stream reset
/// with its code, a connection closed before the response, a request that
/// cannot be written, a body over the limit it is read with.
pub async fn client_error_kinds<E: Env>(env: E) {
    use crate::ErrorKind;
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        // TLS: the server's certificate is not trusted.
        let (make_tls, tls_client) = tls_pair(false);
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(
            &env,
            make_tls,
            |_req: Request| async { Response::new(ResponseHead::new(200), "ok") },
            options,
        );
        let tls = client(&env, addr, tls_client).await;
        let e = tls.send(get("/")).await.expect_err("an untrusted certificate fails the request");
        assert_eq!(kind_of(&e), Some(ErrorKind::Tls(sockless_tls::TlsErrorKind::UnknownIssuer)), "{e}");
        assert!(e.to_string().starts_with("TLS: "), "{e}");
        let e = tls.send(get("/")).await.expect_err("the connection stays failed");
        assert_eq!(kind_of(&e), Some(ErrorKind::Tls(sockless_tls::TlsErrorKind::UnknownIssuer)), "{e}");
        drop(tls);
        shutdown.trigger();
        server.await.expect("serve");

        // A stream reset, a head that cannot be written, a body over its limit.
        let handler_rt = rt.clone();
        let handler = move |req: Request| {
            let rt = handler_rt.clone();
            async move {
                if req.head.path() == b"/broken" {
                    let (mut tx, body) = Body::channel();
                    rt.spawn(async move {
                        let _ = tx.send(Bytes::from_static(b"part")).await;
                        YieldOnce(false).await;
                        drop(tx);
                    });
                    return Response::new(ResponseHead::new(200), body);
                }
                Response::new(ResponseHead::new(200), "0123456789")
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, handler, options);
        let h2 = client(&env, addr, h2_client()).await;
        let response = h2.send(get("/broken")).await.expect("the head");
        let e = response.body.collect(1024).await.expect_err("the body breaks off");
        assert_eq!(kind_of(&e), Some(ErrorKind::StreamReset(sockless_core::ErrorCode::CANCEL)), "{e}");
        assert!(e.to_string().contains("reset by the peer"), "{e}");
        let bad = RequestHead::new(Method::Get, "http://localhost/").header("x-bad", "a\nb");
        let e = h2.send(Request::new(bad, Body::empty())).await.expect_err("not sendable");
        let invalid = ErrorKind::InvalidRequest(sockless_core::UserError::InvalidHeaderValue);
        assert_eq!(kind_of(&e), Some(invalid), "{e}");
        let response = h2.send(get("/ten")).await.expect("the connection serves on");
        let e = response.body.collect(5).await.expect_err("over the limit");
        assert_eq!(kind_of(&e), Some(ErrorKind::BodyTooLarge), "{e}");
        drop(h2);
        shutdown.trigger();
        server.await.expect("serve");

        // A connection the server closes before answering.
        let addr = accept_and_close(&env);
        let h1 = client(&env, addr, h1_client()).await;
        let e = h1.send(get("/")).await.expect_err("closed");
        assert_eq!(kind_of(&e), Some(ErrorKind::Closed), "{e}");
    })
    .await
}

/// A transport that keeps a copy of what it writes.
struct Recording<I> {
    io: I,
    written: Arc<Mutex<Vec<u8>>>,
}

impl<I: Io> Io for Recording<I> {
    fn poll_read(&mut self, cx: &mut std::task::Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.io.poll_read(cx, buf)
    }
    fn poll_write_vectored(
        &mut self,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = self.io.poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = polled {
            let mut written = self.written.lock().unwrap();
            for b in bufs {
                let take = n.min(b.len());
                written.extend_from_slice(&b[..take]);
                n -= take;
            }
        }
        polled
    }
    fn poll_flush(&mut self, cx: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_flush(cx)
    }
    fn poll_shutdown(&mut self, cx: &mut std::task::Context<'_>) -> Poll<io::Result<()>> {
        self.io.poll_shutdown(cx)
    }
}

/// HTTP/2 HEADERS frames in what a client wrote (after its preface).
fn headers_frames(written: &[u8]) -> usize {
    let mut rest = written.get(24..).unwrap_or_default();
    let mut count = 0;
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        count += usize::from(rest[3] == 0x1);
        rest = rest.get(9 + len..).unwrap_or_default();
    }
    count
}

/// HTTP/2: requests the server refuses unprocessed (REFUSED_STREAM, RFC
/// 9113 section 8.7) are sent again on the same connection, and the caller
/// never sees the refusal. The server takes one stream at a time, and is
/// started only once the client sent all eight of its requests (GETs, and
/// POSTs with a body in one buffer), so they reach it at once, before the
/// client could have seen its SETTINGS.
pub async fn h2_refused_streams_are_retried<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let handler = |req: Request| async move {
            YieldOnce(false).await; // the stream stays open a moment
            let path = req.head.path().to_vec();
            let body = req.body.collect(1024).await.expect("request body");
            Response::new(ResponseHead::new(200), [path, body.to_vec()].concat())
        };
        let one_at_a_time = |now| {
            let config = sockless_h2::Config { max_concurrent_streams: 1, ..sockless_h2::Config::server() };
            sockless_h2::H2Connection::server(config, now)
        };
        let (listener, addr) = env.bind().expect("bind");
        let written = Arc::new(Mutex::new(Vec::new()));
        let io = Recording { io: env.connect(addr).await.expect("connect"), written: written.clone() };
        let client = ClientHandle::spawn(&rt, io, h2_client());
        let requests: Vec<_> = (0..8)
            .map(|i| {
                let client = client.clone();
                let request = if i % 2 == 0 {
                    get(&format!("/{i}"))
                } else {
                    let head =
                        RequestHead::new(Method::Post, format!("http://localhost/{i}")).header("Host", "localhost");
                    Request::new(head, format!(" body {i}"))
                };
                spawn(&rt, async move {
                    let response = client.send(request).await?;
                    response.body.collect(1024).await
                })
            })
            .collect();
        while headers_frames(&written.lock().unwrap()) < 8 {
            sleep(&rt, Duration::from_millis(1)).await;
        }
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let server = spawn(&rt, serve(rt.clone(), listener, one_at_a_time, handler, options));
        for (i, body) in join_all(requests).await.into_iter().enumerate() {
            let body = body.unwrap_or_else(|e| panic!("request {i}: {e}"));
            let expected = if i % 2 == 0 { format!("/{i}") } else { format!("/{i} body {i}") };
            assert_eq!(&body[..], expected.as_bytes());
        }
        drop(client);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// A relative target (`RequestHead::new(Method::Get, "/")`, no Host) is
/// sent to the connection's authority (`ClientOptions::authority`) as Host
/// or `:authority`; on a connection that has none it is refused before
/// anything is sent, with an error that says why, instead of a 400 from
/// the server.
pub async fn relative_targets_get_the_authority<E: Env>(env: E, h2: bool) {
    if h2 {
        relative_targets_over(env, h2_server, h2_client).await
    } else {
        relative_targets_over(env, h1_server, h1_client).await
    }
}

async fn relative_targets_over<E, S, C>(env: E, make_server: fn(Instant) -> S, make_client: fn() -> C)
where
    E: Env,
    S: Connection + Send + 'static,
    C: Connection + Send + 'static,
{
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let served = Arc::new(Mutex::new(0usize));
        let count = served.clone();
        let handler = move |req: Request| {
            *count.lock().unwrap() += 1;
            let authority = req.head.authority().unwrap_or(b"none").to_vec();
            async move { Response::new(ResponseHead::new(200), authority) }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, make_server, handler, options);
        let relative = || Request::new(RequestHead::new(Method::Get, "/"), Body::empty());

        let io = env.connect(addr).await.expect("connect");
        let options = crate::ClientOptions { authority: Some("example.test:1234".into()) };
        let with_authority = ClientHandle::spawn_with(&rt, io, make_client(), options);
        let response = with_authority.send(relative()).await.expect("response");
        assert_eq!(response.head.status, 200);
        assert_eq!(&response.body.collect(64).await.expect("body")[..], b"example.test:1234");
        // A Host of the request's own wins.
        let own = RequestHead::new(Method::Get, "/").header("Host", "own.test");
        let response = with_authority.send(Request::new(own, Body::empty())).await.expect("response");
        assert_eq!(&response.body.collect(64).await.expect("body")[..], b"own.test");
        drop(with_authority);

        let without = client(&env, addr, make_client()).await;
        let e = without.send(relative()).await.expect_err("no authority to send it to");
        let invalid = crate::ErrorKind::InvalidRequest(sockless_core::UserError::InvalidTarget);
        assert_eq!(kind_of(&e), Some(invalid), "{e}");
        assert!(e.to_string().contains("no authority"), "{e}");
        assert_eq!(*served.lock().unwrap(), 2, "the refused request was never sent");
        drop(without);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Per-connection state the test attaches when a connection is made.
#[derive(Clone, Debug)]
struct ConnTag(usize);

/// Connection facts on every request: the peer's and our address, the
/// protocol version, TLS facts (ALPN, SNI) and state attached when the
/// connection was made (`serve_with`'s `make_connection`, which may also
/// refuse a connection: it is closed, logged, and the server serves on).
pub async fn connection_facts<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let handler = |req: Request| {
            let info = req.connection().expect("a server request knows its connection");
            let tls = info.tls().map(|t| {
                let alpn = String::from_utf8_lossy(t.alpn.as_deref().unwrap_or_default()).into_owned();
                format!("{alpn}@{}", t.sni.as_deref().unwrap_or("-"))
            });
            let text = format!(
                "peer={} local={:?} tag={:?} version={:?} tls={}",
                info.peer_addr(),
                info.local_addr(),
                info.extensions().get::<ConnTag>().map(|t| t.0),
                req.head.version,
                tls.as_deref().unwrap_or("none"),
            );
            std::future::ready(Response::new(ResponseHead::new(200), text))
        };
        let (make_tls, tls_client) = tls_pair(true);
        let accepted = Arc::new(Mutex::new(0usize));
        let make = move |accept: &mut crate::Accept| -> Result<Box<dyn Connection + Send>, &'static str> {
            let n = {
                let mut a = accepted.lock().unwrap();
                *a += 1;
                *a - 1
            };
            accept.extensions.insert(ConnTag(n));
            match n {
                0 => Ok(Box::new(h1_server(accept.now))),
                1 => Ok(Box::new(h2_server(accept.now))),
                2 => Err("refused by the test"),
                _ => Ok(Box::new(make_tls(accept.now))),
            }
        };
        let logged = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = logged.clone();
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions {
            shutdown: shutdown.clone(),
            error_log: crate::ErrorLog::new(move |m| sink.lock().unwrap().push(m.to_string())),
            ..ServerOptions::default()
        };
        let (listener, addr) = env.bind().expect("bind");
        let server = spawn(&rt, crate::serve_with(rt.clone(), listener, make, handler, options));

        async fn facts<E: Env, C: Connection + Send + 'static>(
            env: &E,
            addr: SocketAddr,
            conn: C,
        ) -> io::Result<String> {
            let io = env.connect(addr).await.expect("connect");
            let ours = io.local_addr().expect("a TCP stream knows its address");
            let client = ClientHandle::spawn(&env.rt(), io, conn);
            let response = client.send(get("/")).await?;
            let body = response.body.collect(1024).await?;
            Ok(String::from_utf8_lossy(&body).replace(&ours.to_string(), "CLIENT"))
        }
        let server_addr = format!("local=Some({addr})");
        let h1 = facts(&env, addr, h1_client()).await.expect("h1");
        assert_eq!(h1, format!("peer=CLIENT {server_addr} tag=Some(0) version=Http11 tls=none"));
        let h2 = facts(&env, addr, h2_client()).await.expect("h2");
        assert_eq!(h2, format!("peer=CLIENT {server_addr} tag=Some(1) version=Http2 tls=none"));
        let e = facts(&env, addr, h1_client()).await.expect_err("the third connection is refused");
        assert_eq!(kind_of(&e), Some(crate::ErrorKind::Closed), "{e}");
        let tls = facts(&env, addr, tls_client).await.expect("tls");
        assert_eq!(tls, format!("peer=CLIENT {server_addr} tag=Some(3) version=Http11 tls=http/1.1@localhost"));
        let log = logged.lock().unwrap().clone();
        assert!(log.len() == 1 && log[0].contains("refused by the test"), "{log:?}");
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// Echoes what `tunnel` reads until its end.
async fn echo_tunnel(mut tunnel: crate::Upgraded) {
    let mut buf = vec![0u8; 4096];
    while let Ok(n @ 1..) = tunnel.read(&mut buf).await {
        if tunnel.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    let _ = tunnel.shutdown().await;
}

/// Reads from `io` until `out` ends with `end` (or the stream ends).
async fn read_until<I: Io>(io: &mut I, out: &mut Vec<u8>, end: &[u8]) {
    let mut buf = [0u8; 1024];
    while !out.ends_with(end) {
        match poll_fn(|cx| io.poll_read(cx, &mut buf)).await {
            Ok(0) | Err(_) => return,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Upgrades: a CONNECT the handler accepts (200) and a `101 Switching
/// Protocols` hand the transport to the application, with the bytes the
/// client sent right after its request (leftover) first; here the
/// application echoes them. A refused upgrade (a 404 to the Upgrade
/// request) completes its upgrade future with an error and the
/// connection serves on.
pub async fn upgrades_hand_over_the_transport<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let refused = Arc::new(Mutex::new(None::<String>));
        let seen = refused.clone();
        let handler_rt = rt.clone();
        let handler = move |mut req: Request| {
            let upgrade = req.upgrade();
            let (rt, seen) = (handler_rt.clone(), seen.clone());
            async move {
                let Some(upgrade) = upgrade else {
                    return Response::new(ResponseHead::new(200), "plain");
                };
                if req.head.path() == b"/refuse" {
                    rt.spawn(async move { *seen.lock().unwrap() = upgrade.await.err().map(|e| e.to_string()) });
                    return Response::new(ResponseHead::new(404), Body::empty());
                }
                rt.spawn(async move {
                    if let Ok(tunnel) = upgrade.await {
                        echo_tunnel(tunnel).await;
                    }
                });
                let status = if req.head.method == Method::Connect { 200 } else { 101 };
                let mut head = ResponseHead::new(status);
                if status == 101 {
                    head = head.header("Connection", "upgrade").header("Upgrade", "echo");
                }
                Response::new(head, Body::empty())
            }
        };
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h1_server, handler, options);
        let opening: [&[u8]; 2] = [
            b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\nearly bytes|",
            b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly bytes|",
        ];
        for (request, status) in opening.into_iter().zip(["200", "101"]) {
            let mut io = env.connect(addr).await.expect("connect");
            write_all(&mut io, request).await.expect("write");
            let mut got = Vec::new();
            read_until(&mut io, &mut got, b"early bytes|").await;
            let text = String::from_utf8_lossy(&got).into_owned();
            assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
            assert!(text.ends_with("\r\n\r\nearly bytes|"), "the leftover bytes are echoed first: {text}");
            write_all(&mut io, b"and more").await.expect("write in the tunnel");
            let mut more = Vec::new();
            read_until(&mut io, &mut more, b"and more").await;
            assert_eq!(&more[..], b"and more", "{status}");
        }
        let reply = raw_exchange(
            &env,
            addr,
            b"GET /refuse HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n\
              GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let reply = String::from_utf8_lossy(&reply).into_owned();
        assert!(reply.starts_with("HTTP/1.1 404 ") && reply.ends_with("plain"), "{reply}");
        for _ in 0..500 {
            if refused.lock().unwrap().is_some() {
                break;
            }
            sleep(&rt, Duration::from_millis(10)).await;
        }
        let refused = refused.lock().unwrap().clone();
        assert!(refused.as_deref().is_some_and(|e| e.contains("the response was 404")), "{refused:?}");
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// HTTP/1.1: a burst of pipelined requests larger than the connection's
/// receive buffer arrives in one read (copied in while the connection is
/// idle): what the connection does not take at once is offered again, and
/// every request is answered in order.
pub async fn h1_pipelined_burst_over_the_input_cap<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let small = |now| {
            let config = sockless_h1::Config { max_buffered_input: 0, ..sockless_h1::Config::server() };
            sockless_h1::ServerConnection::new(config, now) // holds max_head_bytes + 1 bytes
        };
        let handler =
            |req: Request| std::future::ready(Response::new(ResponseHead::new(200), req.head.path().to_vec()));
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, small, handler, options);
        let padding = "p".repeat(400);
        let mut burst = String::new();
        for i in 0..40 {
            let close = if i == 39 { "Connection: close\r\n" } else { "" };
            burst.push_str(&format!("GET /{i} HTTP/1.1\r\nHost: x\r\nX-Pad: {padding}\r\n{close}\r\n"));
        }
        assert!(burst.len() > 16 * 1024, "over the cap and over one read");
        let reply = String::from_utf8(raw_exchange(&env, addr, burst.as_bytes()).await).expect("text");
        let bodies: Vec<String> =
            reply.split("\r\n\r\n").skip(1).map(|b| b.split("HTTP/1.1").next().unwrap_or("").to_string()).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("/{i}")).collect();
        assert_eq!(bodies, expected, "{reply}");
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// A raw client flooding a server the way an attack script does: it
/// connects to `addr` with a small receive buffer (so that the server's
/// answers back up: in our buffer, then in the server's send queue), writes
/// `head` and then `filler` over and over, `total` bytes in all, without
/// reading (a write that fails ends the writing: the server reset the
/// connection), shuts down its write side, and only then reads until the
/// server closes. Returns what was read and how reading ended: a reset
/// (the server closed with our input unread, and its kernel threw away
/// what it still had to send) is an `Err`.
pub fn flood_then_read(addr: SocketAddr, head: &[u8], filler: &[u8], total: usize) -> (Vec<u8>, io::Result<()>) {
    use std::io::{Read, Write};
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut stream: std::net::TcpStream = socket.into();
    let mut sent = head.len();
    let mut written = stream.write_all(head);
    while written.is_ok() && sent < total {
        written = stream.write_all(filler);
        sent += filler.len();
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let ended = stream.read_to_end(&mut out).map(drop);
    (out, ended)
}

/// The HTTP/2 client preface with an empty SETTINGS frame.
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// How much PING flood [`h2_goaway_survives_unread_input`] sends: about
/// 500 000 PINGs, enough that the acknowledgements back up past the 1 000
/// HTTP/2 queues by default before it calls it a flood (as the soak suite's
/// `h2-ping-flood` found).
pub const PING_FLOOD_BYTES: usize = 8 << 20;

/// 16 KiB of PING frames (a flood the server has to acknowledge).
pub fn ping_flood() -> Vec<u8> {
    let ping = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00pingpong";
    ping.repeat(16 * 1024 / ping.len())
}

/// The error code of the first GOAWAY among the whole HTTP/2 frames the
/// server sent, if one came whole.
pub fn h2_goaway(out: &[u8]) -> Option<u32> {
    let mut rest = out;
    while rest.len() >= 9 {
        let len = (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
        let frame = rest.get(9..9 + len)?;
        if rest[3] == 0x7 && len >= 8 {
            return Some(u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]));
        }
        rest = &rest[9 + len..];
    }
    None
}

/// HTTP/2: a PING flood from a client that reads only once it has sent
/// it all (see [`flood_then_read`]): the server ends the connection with
/// GOAWAY ENHANCE_YOUR_CALM, queued behind the acknowledgements, and closes
/// lingering (it reads and discards until the client's end), so the client
/// reads the GOAWAY rather than a reset that throws it away.
pub async fn h2_goaway_survives_unread_input<E: Env>(env: E) {
    let rt = env.rt();
    with_timeout(&rt, Duration::from_secs(20), async {
        let handler = |_: Request| std::future::ready(Response::new(ResponseHead::new(200), "never reached"));
        let shutdown = ShutdownSignal::new();
        let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let (addr, server) = start_server(&env, h2_server, handler, options);
        let client = Oneshot::new();
        let done = client.clone();
        std::thread::spawn(move || done.put(flood_then_read(addr, H2_PREFACE, &ping_flood(), PING_FLOOD_BYTES)));
        let (out, ended) = poll_fn(|cx| client.poll_take(cx)).await.expect("the client's outcome");
        assert_goaway_read(&out, ended);
        shutdown.trigger();
        server.await.expect("serve");
    })
    .await
}

/// What [`flood_then_read`] read for a PING flood: a GOAWAY
/// ENHANCE_YOUR_CALM, then the server's close (no reset).
pub fn assert_goaway_read(out: &[u8], ended: io::Result<()>) {
    let tail = &out[out.len().saturating_sub(40)..];
    assert!(ended.is_ok(), "{ended:?} after {} bytes ending {tail:?}", out.len());
    assert_eq!(h2_goaway(out), Some(0xb), "GOAWAY ENHANCE_YOUR_CALM in {} bytes ending {tail:?}", out.len());
}
