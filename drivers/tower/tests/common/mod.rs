//! What the tower tests share: a server running a service on one runtime
//! (tokio or smol) on a free loopback port, a raw HTTP/1.1 client over a
//! blocking socket (the bytes on the wire are what the tests check), a
//! sockless HTTP/2 client, and a body that makes its reader wait.
#![allow(dead_code)] // each test target uses part of it

use http_body::{Frame, SizeHint};
use sockless_core::Bytes;
use sockless_core::Instant;
use sockless_rt::{ClientHandle, ServerOptions, ShutdownSignal};
use sockless_tower::{BoxError, RequestBody};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use tower_service::Service;

/// The runtime a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rt {
    Tokio,
    Smol,
}

/// Generates, for each named test `fn name(rt: Rt)`, one `#[test]` per runtime.
#[macro_export]
macro_rules! on_every_runtime {
    ($($name:ident),* $(,)?) => {
        mod tokio_rt {
            $(#[test] fn $name() { super::$name($crate::common::Rt::Tokio) })*
        }
        mod smol_rt {
            $(#[test] fn $name() { super::$name($crate::common::Rt::Smol) })*
        }
    };
}

/// A server on its own thread, stopped (gracefully) when dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub shutdown: ShutdownSignal,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

fn connection(now: Instant) -> sockless_http::ServerConnection {
    sockless_http::ServerConnection::cleartext(Default::default(), now)
}

/// Runs `$serve` (an expression over `$runtime` and `$listener`, the
/// sockless runtime and listener of `$rt`) on its own thread, as a [`Server`].
macro_rules! server_thread {
    ($rt:expr, |$runtime:ident, $listener:ident, $options:ident| $serve:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = ShutdownSignal::new();
        let $options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
        let rt = $rt;
        let thread = std::thread::spawn(move || match rt {
            Rt::Tokio => {
                let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
                runtime.block_on(async move {
                    listener.set_nonblocking(true)?;
                    let $listener = sockless_tokio::TokioListener(tokio::net::TcpListener::from_std(listener)?);
                    let $runtime = sockless_tokio::TokioRuntime::current();
                    $serve.await
                })
            }
            Rt::Smol => smol::block_on(async move {
                let $listener = sockless_smol::SmolListener::from_std(listener)?;
                let $runtime = sockless_smol::SmolRuntime;
                $serve.await
            }),
        });
        Server { addr, shutdown, thread: Some(thread) }
    }};
}

impl Server {
    /// Serves `service` on `rt` with HTTP/1.1 and h2c on one port.
    pub fn start<S, B>(rt: Rt, service: S) -> Server
    where
        S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        server_thread!(rt, |runtime, listener, options| sockless_tower::serve(
            runtime, listener, connection, service, options
        ))
    }

    /// Serves `service` on `rt` over connections `make_connection` builds.
    pub fn start_on<S, B, M, C>(rt: Rt, make_connection: M, service: S) -> Server
    where
        M: Fn(Instant) -> C + Send + 'static,
        C: sockless_core::Connection + Send + 'static,
        S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        server_thread!(rt, |runtime, listener, options| sockless_tower::serve(
            runtime,
            listener,
            make_connection,
            service,
            options
        ))
    }

    /// Serves the services `make_service` makes per connection.
    pub fn start_make<MS, S, B>(rt: Rt, make_service: MS) -> Server
    where
        MS: Service<SocketAddr, Response = S> + Clone + Send + 'static,
        MS::Error: Into<BoxError>,
        S: Service<http::Request<RequestBody>, Response = http::Response<B>> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
        S::Error: Into<BoxError>,
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes> + Send,
        B::Error: Into<BoxError>,
    {
        server_thread!(rt, |runtime, listener, options| sockless_tower::serve_make_service(
            runtime,
            listener,
            connection,
            make_service,
            options
        ))
    }

    /// Triggers graceful shutdown and waits until the server returned.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.shutdown.trigger();
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread panicked").expect("server failed");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.join();
        } else {
            self.shutdown.trigger();
        }
    }
}

/// A response as it came over the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    /// Header fields, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// What followed the head, as sent (still chunked, if it was).
    pub rest: Vec<u8>,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn is_chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    }

    /// The body without its framing, and the trailers of a chunked body.
    pub fn body(&self) -> (Vec<u8>, Vec<(String, String)>) {
        if !self.is_chunked() {
            let len = self.header("content-length").map(|v| v.parse::<usize>().unwrap());
            let body = match len {
                Some(n) => self.rest[..n].to_vec(),
                None => self.rest.clone(),
            };
            return (body, Vec::new());
        }
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = find(&self.rest[at..], b"\r\n").expect("chunk size line") + at;
            let size = std::str::from_utf8(&self.rest[at..line_end]).unwrap();
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
            at = line_end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&self.rest[at..at + size]);
            at += size + 2;
        }
        let (trailers, _) = parse_fields(&self.rest[at..]);
        (body, trailers)
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body().0).unwrap()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Header fields up to the empty line; also how many bytes they took.
fn parse_fields(bytes: &[u8]) -> (Vec<(String, String)>, usize) {
    let mut fields = Vec::new();
    let mut at = 0;
    loop {
        let end = find(&bytes[at..], b"\r\n").expect("field line") + at;
        if end == at {
            return (fields, at + 2);
        }
        let line = std::str::from_utf8(&bytes[at..end]).unwrap();
        let (name, value) = line.split_once(':').unwrap();
        fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        at = end + 2;
    }
}

fn parse(bytes: &[u8]) -> Raw {
    let line_end = find(bytes, b"\r\n").expect("status line");
    let line = std::str::from_utf8(&bytes[..line_end]).unwrap();
    let status = line.split(' ').nth(1).unwrap().parse().unwrap();
    let (headers, used) = parse_fields(&bytes[line_end + 2..]);
    Raw { status, headers, rest: bytes[line_end + 2 + used..].to_vec() }
}

/// Sends `request` (a whole HTTP/1.1 request, which should say
/// `Connection: close`) and reads until the server closes.
pub fn exchange(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse(&bytes)
}

/// A GET with `Connection: close` and the given extra header lines.
pub fn get(addr: SocketAddr, path: &str, headers: &str) -> Raw {
    exchange(addr, format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n").as_bytes())
}

/// Sends `head` then `body` from another thread (ignoring write errors: a
/// server may answer and close before reading it all), and reads the
/// response head and what follows until the server closes.
pub fn upload(addr: SocketAddr, head: String, body: Vec<u8>) -> Raw {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // A reset after the response came (the server closed with the
            // upload unread) ends the exchange as well.
            Err(_) if find(&bytes, b"\r\n\r\n").is_some() => break,
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    sending.join().unwrap();
    parse(&bytes)
}

/// Body bytes as chunked framing, in pieces of `piece` bytes.
pub fn chunked(body: &[u8], piece: usize, trailers: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for part in body.chunks(piece) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailers.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// Runs `f` with an HTTP/2 (prior knowledge) sockless client connected to
/// `addr`, on a tokio runtime of its own.
pub fn with_h2_client<F, Fut, T>(addr: SocketAddr, f: F) -> T
where
    F: FnOnce(ClientHandle) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let conn = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
        let client = sockless_tokio::connect(addr, conn).await.unwrap();
        f(client).await
    })
}

/// A response body that makes its reader wait before every frame (it wakes
/// the reader at once, so it needs no timer): the server has to stream it
/// rather than find it ready. It ends with `trailers`, if any, or fails
/// after its chunks if `fail` is set.
pub struct Trickle {
    chunks: VecDeque<Bytes>,
    trailers: Option<http::HeaderMap>,
    fail: bool,
    wait: bool,
}

impl Trickle {
    pub fn new(chunks: &[&'static str]) -> Trickle {
        Trickle {
            chunks: chunks.iter().map(|c| Bytes::from_static(c.as_bytes())).collect(),
            trailers: None,
            fail: false,
            wait: true,
        }
    }

    pub fn with_trailers(mut self, trailers: http::HeaderMap) -> Trickle {
        self.trailers = Some(trailers);
        self
    }

    /// Ready with its first frame at once (it waits before the others).
    pub fn first_at_once(mut self) -> Trickle {
        self.wait = false;
        self
    }

    pub fn failing(mut self) -> Trickle {
        self.fail = true;
        self
    }
}

impl http_body::Body for Trickle {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let wait = !self.wait;
        if std::mem::replace(&mut self.wait, wait) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if self.fail {
            self.fail = false;
            return Poll::Ready(Some(Err(std::io::Error::other("the body broke"))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
