//! # sockless-tower
//!
//! Existing [tower] services — axum routers included — served, unchanged,
//! on every sockless driver: anything that implements
//! `Service<http::Request<RequestBody>, Response = http::Response<B>>`
//! with `B: http_body::Body` runs on tokio, smol or async-std through
//! [`sockless_rt::serve`]'s accept loop and connection tasks ([`serve`],
//! or [`serve_make_service`] for a service made per connection, as axum's
//! `ConnectInfo` needs), and on the epoll driver through [`handler`].
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use sockless_core::Instant;
//! use sockless_rt::ServerOptions;
//! use sockless_tokio::{TokioListener, TokioRuntime};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = Router::new().route("/", get(|| async { "Hello, World!" }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     // HTTP/1.1 and h2c on one port.
//!     let make = |now: Instant| sockless_http::ServerConnection::cleartext(Default::default(), now);
//!     // with_state(()) builds the routes once (axum::serve does it per connection).
//!     let app = app.with_state(());
//!     sockless_tower::serve(TokioRuntime::current(), TokioListener(listener), make, app, ServerOptions::default()).await
//! }
//! ```
//!
//! What a service gets and gives, per request:
//!
//! * The request: its head as `http` parts (the version set, the target
//!   absolute-form over HTTP/2 as hyper gives it), its body a
//!   [`RequestBody`]: data frames as they arrive under backpressure, then
//!   the trailers; an exact size hint when the length was declared;
//!   `100 Continue` goes out only when the body is first polled. A head that
//!   `http` cannot represent is answered `400` without calling the service.
//!   Its extensions: an [`Upgrade`] when the request may switch protocols
//!   (an `Upgrade` field, CONNECT), the connection's [`TlsFacts`] (ALPN,
//!   SNI, client certificates) over TLS, `ConnectInfo` from axum's
//!   make-service under [`serve_make_service`].
//! * The service: cloned per request from the one given, made ready
//!   (`poll_ready`), then called, so services with backpressure
//!   (`ConcurrencyLimit`, a load shedder) work as under hyper. A service
//!   that fails, in `poll_ready` or its future, answers `500`.
//! * The response: its head as given, plus `Content-Length` when the body's
//!   size is exact and the service set neither that nor `Transfer-Encoding`
//!   (not on 1xx, 204 and 304), and over HTTP/2 without the fields HTTP/2
//!   forbids (`Connection`, `Transfer-Encoding`, ...), as hyper leaves them
//!   out; no body when the body `is_end_stream`, nor
//!   on a HEAD request (whose `Content-Length` stays). A body ready at once
//!   leaves with its head in one write; one that has to wait is streamed,
//!   its trailers after it. A body error before anything went out is a
//!   `500`; later, it resets the HTTP/2 stream or closes the HTTP/1.1
//!   connection, so a client never takes a truncated body for a whole one.
//! * Upgrades: after a `101` (or a 2xx to CONNECT, which goes out with
//!   neither body nor framing fields) the driver hands the transport to the
//!   request's [`Upgrade`] ([`upgrade::on`], as `hyper::upgrade::on`).
//!   axum's `WebSocketUpgrade` needs hyper's own upgrade type and answers
//!   `426`; the `websocket_echo` example shows what to write instead.
//! * Shutdown: [`ServerOptions::shutdown`] as on a native handler: stop
//!   accepting, finish the requests in flight, then close.
//!
//! See `docs/tower.md` for what differs from `axum::serve`.
//!
//! [tower]: https://docs.rs/tower
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod request;
mod response;
pub mod upgrade;

pub use request::RequestBody;
pub use sockless_core::TlsFacts;
pub use sockless_rt::{ServerOptions, Upgraded};
pub use upgrade::Upgrade;

use sockless_core::{Bytes, Connection, Instant, Method, Version};
use sockless_rt::{Accept, Listener, Request, Response, Runtime};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use tower_service::Service;

/// The error type services and bodies convert theirs into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on the connections `listener` accepts until
/// `options.shutdown` is triggered and the connections drained.
///
/// `make_connection(now)` builds each connection's protocol (HTTP/1.1,
/// HTTP/2, both with `sockless_http::ServerConnection`, under TLS or not),
/// as for [`sockless_rt::serve`]. Each request runs a clone of `service`,
/// made ready then called, in its own task: a slow request never delays
/// the other streams of its connection.
pub async fn serve<R, L, M, C, S, B>(
    rt: R,
    listener: L,
    make_connection: M,
    service: S,
    options: ServerOptions,
) -> io::Result<()>
where
    R: Runtime,
    L: Listener,
    M: Fn(Instant) -> C,
    C: Connection + Send + 'static,
    S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let spawner = rt.clone();
    let handler = move |request: Request| call(spawner.clone(), service.clone(), request);
    sockless_rt::serve(rt, listener, make_connection, handler, options).await
}

/// Serves the services `make_service` makes, one per connection, as hyper
/// and `axum::serve` do: it is called with each accepted connection's peer
/// address, so axum's `ConnectInfo<SocketAddr>` works.
///
/// ```no_run
/// use axum::{extract::ConnectInfo, routing::get, Router};
/// use sockless_rt::ServerOptions;
/// use sockless_tokio::{TokioListener, TokioRuntime};
/// use std::net::SocketAddr;
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("you are {peer}") }));
///     let listener = TokioListener(tokio::net::TcpListener::bind("127.0.0.1:8080").await?);
///     let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
///     let services = app.into_make_service_with_connect_info::<SocketAddr>();
///     sockless_tower::serve_make_service(TokioRuntime::current(), listener, make, services, ServerOptions::default()).await
/// }
/// ```
///
/// The make-service runs in the accept loop, so it must be ready and answer
/// at once (axum's do: they clone the application); one that would wait, or
/// fails, has that connection refused and reported to
/// [`ServerOptions::error_log`]. Each request on the connection then runs
/// a clone of the connection's service, made ready, then called, as
/// [`serve`] runs it.
pub async fn serve_make_service<R, L, M, C, MS, S, B>(
    rt: R,
    listener: L,
    make_connection: M,
    make_service: MS,
    options: ServerOptions,
) -> io::Result<()>
where
    R: Runtime,
    L: Listener,
    M: Fn(Instant) -> C,
    C: Connection + Send + 'static,
    MS: Service<SocketAddr, Response = S> + Clone,
    MS::Error: Into<BoxError>,
    S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let make = move |accept: &mut Accept| {
        let service = make_at_once(make_service.clone(), accept.peer_addr)?;
        accept.extensions.insert(PerConnection(service));
        Ok::<C, MakeError>(make_connection(accept.now))
    };
    let spawner = rt.clone();
    let handler = move |request: Request| {
        let connection = request.connection().and_then(|c| c.extensions().get::<PerConnection<S>>());
        let service = connection.map(|PerConnection(service)| service.clone());
        let rt = spawner.clone();
        async move {
            match service {
                Some(service) => call(rt, service, request).await,
                // Every request of serve_with's connections carries their facts.
                None => response::status(500),
            }
        }
    };
    sockless_rt::serve_with(rt, listener, make, handler, options).await
}

/// The service made for one connection, in its extensions.
#[derive(Clone)]
struct PerConnection<S>(S);

/// Why a connection's service could not be made.
#[derive(Debug)]
struct MakeError(String);

impl fmt::Display for MakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Makes a connection's service from a make-service that answers at once.
fn make_at_once<MS, S>(mut make_service: MS, peer: SocketAddr) -> Result<S, MakeError>
where
    MS: Service<SocketAddr, Response = S>,
    MS::Error: Into<BoxError>,
{
    let mut cx = Context::from_waker(Waker::noop());
    let failed = |e: MS::Error| MakeError(format!("the make-service failed: {}", e.into()));
    match make_service.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Err(failed(e)),
        Poll::Pending => return Err(MakeError("the make-service was not ready at once".into())),
    }
    let mut making = std::pin::pin!(make_service.call(peer));
    match making.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(service)) => Ok(service),
        Poll::Ready(Err(e)) => Err(failed(e)),
        Poll::Pending => Err(MakeError("the make-service did not answer at once".into())),
    }
}

/// A boxed future of a [`handler`].
pub type HandlerFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

/// `service` as a sockless handler (`Fn(Request) -> impl Future<Output =
/// Response>`), for drivers that take one without an accept loop of
/// sockless-rt's: the epoll driver, a by-hand driver. Each request runs a
/// clone of the service as [`serve`] runs it; response bodies that have to
/// wait are streamed by tasks spawned on `rt` (any runtime will do: the
/// body channel wakes the driver's thread when a chunk is ready).
///
/// The future is boxed (one allocation per request), since a handler's
/// future type must be named; [`serve`] runs the same code unboxed.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use sockless_epoll::{serve, EpollOptions};
///
/// fn main() -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|| async { "Hello from epoll" })).with_state(());
///     let handler = sockless_tower::handler(sockless_smol::SmolRuntime, app);
///     let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
///     serve("127.0.0.1:8080".parse().unwrap(), make, handler, EpollOptions::default())?.join()
/// }
/// ```
pub fn handler<R, S, B>(rt: R, service: S) -> impl Fn(Request) -> HandlerFuture + Send + Sync + 'static
where
    R: Runtime,
    S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    move |request: Request| Box::pin(call(rt.clone(), service.clone(), request))
}

/// One request through one clone of the service.
async fn call<R, S, B>(rt: R, mut service: S, request: Request) -> Response
where
    R: Runtime,
    S: Service<http::Request<RequestBody>, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes> + Send,
    B::Error: Into<BoxError>,
{
    let asked = response::Asked {
        head: request.head.method == Method::Head,
        connect: request.head.method == Method::Connect,
        h2: request.head.version == Version::Http2,
    };
    let Ok(request) = request::to_http(request) else {
        return response::status(400);
    };
    if poll_fn(|cx| service.poll_ready(cx)).await.is_err() {
        return response::status(500);
    }
    let Ok(response) = service.call(request).await else {
        return response::status(500);
    };
    response::from_http(&rt, response, asked).await
}
