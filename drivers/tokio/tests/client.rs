//! The hub's Client on tokio against servers on loopback: sockless's own
//! (HTTP/1.1, h2c, TLS with ALPN) and raw ones that close connections the
//! way real servers do.

use sockless_core::{Instant, Method, ResponseHead};
use sockless_rt::{Body, ClientConfig, HttpVersion, Listener, Request, Response, ServerOptions};
use sockless_tokio::{TokioListener, TokioRuntime};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A listener that counts the connections it accepts.
struct Counting(TokioListener, Arc<AtomicUsize>);

impl Listener for Counting {
    type Io = <TokioListener as Listener>::Io;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(Self::Io, SocketAddr)>> {
        let r = self.0.poll_accept(cx);
        if let Poll::Ready(Ok(_)) = &r {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
}

fn bind() -> (TcpListener, SocketAddr) {
    let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std.set_nonblocking(true).unwrap();
    let addr = std.local_addr().unwrap();
    (TcpListener::from_std(std).unwrap(), addr)
}

async fn hello(req: Request) -> Response {
    let path = String::from_utf8_lossy(&req.head.target).into_owned();
    let body = req.body.collect(1 << 20).await.unwrap_or_default();
    let text = format!("{} {} {}", String::from_utf8_lossy(req.head.method.as_bytes()), path, body.len());
    Response::new(ResponseHead::new(200), Body::from(text))
}

/// Serves `hello` with sockless, cleartext HTTP/1.1 and h2c (prior
/// knowledge) both; returns the address and the accepted-connection count.
fn serve_cleartext() -> (SocketAddr, Arc<AtomicUsize>) {
    let (listener, addr) = bind();
    let count = Arc::new(AtomicUsize::new(0));
    let counting = Counting(TokioListener(listener), count.clone());
    let make = |now: Instant| sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), now);
    tokio::spawn(sockless_rt::serve(TokioRuntime::current(), counting, make, hello, ServerOptions::default()));
    (addr, count)
}

fn run(test: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(test);
}

#[test]
fn sequential_gets_share_one_connection() {
    run(async {
        let (addr, accepted) = serve_cleartext();
        let client = sockless_tokio::client();
        for i in 0..10 {
            let r = client.get(&format!("http://{addr}/n/{i}")).await.unwrap();
            assert_eq!(r.status(), 200);
            let body = r.bytes(1024).await.unwrap();
            assert_eq!(&body[..], format!("GET /n/{i} 0").as_bytes());
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(client.stats().connects, 1);
    });
}

#[test]
fn concurrent_http1_requests_open_at_most_the_cap() {
    run(async {
        let (addr, accepted) = serve_cleartext();
        let client = sockless_tokio::client();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let client = client.clone();
            let url = format!("http://{addr}/c/{i}");
            tasks.push(tokio::spawn(async move { client.get(&url).await.unwrap().bytes(1024).await.unwrap() }));
        }
        for t in tasks {
            assert!(t.await.unwrap().starts_with(b"GET /c/"));
        }
        assert!(accepted.load(Ordering::SeqCst) <= 4, "{} connections", accepted.load(Ordering::SeqCst));
        assert_eq!(client.stats().completed, 200);
    });
}

#[test]
fn h2c_prior_knowledge_multiplexes_over_one_connection() {
    run(async {
        let (addr, accepted) = serve_cleartext();
        let config = ClientConfig { version: HttpVersion::Http2, ..ClientConfig::default() };
        let client = sockless_tokio::client_with(config).unwrap();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let client = client.clone();
            let url = format!("http://{addr}/m/{i}");
            tasks.push(tokio::spawn(async move {
                let r = client.post(&url, "abc").await.unwrap();
                assert_eq!(r.head.version, sockless_core::Version::Http2);
                r.bytes(1024).await.unwrap()
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap().ends_with(b" 3"));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn https_with_a_given_root_store_negotiates_h2() {
    run(async {
        let (chain, key) = sockless_tls::self_signed_localhost().unwrap();
        let alpn: [&[u8]; 2] = [sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11];
        let server = sockless_tls::server_config(chain.clone(), key, &alpn, None).unwrap();
        let (listener, addr) = bind();
        let count = Arc::new(AtomicUsize::new(0));
        let make = move |now: Instant| {
            sockless_tls::Tls::server(server.clone(), now, |hs: &sockless_tls::Handshake, now| {
                sockless_http::ServerConnection::for_alpn(
                    sockless_http::ServerConfig::default(),
                    now,
                    hs.alpn.as_deref(),
                )
            })
            .unwrap()
        };
        let counting = Counting(TokioListener(listener), count.clone());
        tokio::spawn(sockless_rt::serve(TokioRuntime::current(), counting, make, hello, ServerOptions::default()));
        let mut roots = sockless_tls::rustls::RootCertStore::empty();
        roots.add(chain[0].clone()).unwrap();
        let client =
            sockless_tokio::client_with(ClientConfig { roots: Some(roots), ..ClientConfig::default() }).unwrap();
        let url = format!("https://localhost:{}/tls", addr.port());
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move {
                let r = client.get(&url).await.unwrap();
                assert_eq!(r.head.version, sockless_core::Version::Http2);
                r.bytes(1024).await.unwrap()
            }));
        }
        for t in tasks {
            assert_eq!(&t.await.unwrap()[..], &t_body(&url)[..]);
        }
        assert_eq!(count.load(Ordering::SeqCst), 1, "one dial for a negotiating origin, then h2 multiplexes");
        // Untrusted: the default webpki roots do not know the certificate.
        let strict = sockless_tokio::client();
        let e = strict.get(&url).await.unwrap_err();
        assert!(matches!(e, sockless_rt::ClientError::Connect(_)), "{e}");
    });
}

/// What `hello` answers over HTTP/2 to a GET of `url` (the target is
/// absolute-form there).
fn t_body(url: &str) -> Vec<u8> {
    format!("GET {url} 0").into_bytes()
}

/// A raw HTTP/1.1 server: answers each request with `reply(n, request)`
/// where `n` counts requests across connections; `None` closes the
/// connection without an answer. Keeps connections alive otherwise, and
/// closes each after `serve_per_conn` exchanges.
fn raw_server<F>(serve_per_conn: usize, reply: F) -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>)
where
    F: Fn(usize, &str) -> Option<String> + Send + Sync + 'static,
{
    let (listener, addr) = bind();
    let requests = Arc::new(AtomicUsize::new(0));
    let conns = Arc::new(AtomicUsize::new(0));
    let reply = Arc::new(reply);
    let (r2, c2) = (requests.clone(), conns.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else { return };
            c2.fetch_add(1, Ordering::SeqCst);
            let (requests, reply) = (r2.clone(), reply.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut served = 0;
                loop {
                    let mut chunk = [0u8; 4096];
                    let n = match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = find(&buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() < end + 4 + len {
                            break;
                        }
                        buf.drain(..end + 4 + len);
                        let n = requests.fetch_add(1, Ordering::SeqCst);
                        match reply(n, &head) {
                            Some(body) => {
                                let msg = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}", body.len());
                                if s.write_all(msg.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            None => return,
                        }
                        served += 1;
                        if served == serve_per_conn {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, requests, conns)
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Waits (without a clock) until the client has no connection left.
async fn until_no_connections(client: &sockless_tokio::Client) {
    while client.connections() > 0 {
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_connection_the_server_closed_is_replaced() {
    run(async {
        // One exchange per connection, then the server closes (as a server
        // sending Connection: close would, without saying so).
        let (addr, _, conns) = raw_server(1, |n, _| Some(format!("r{n}")));
        let client = sockless_tokio::client();
        for i in 0..3 {
            let r = client.get(&format!("http://{addr}/")).await.unwrap();
            assert_eq!(&r.bytes(64).await.unwrap()[..], format!("r{i}").as_bytes());
            until_no_connections(&client).await;
        }
        assert_eq!(conns.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_post_is_never_sent_twice_and_a_get_is_retried_on_a_reused_connection() {
    run(async {
        // Request 1 is answered; request 2 (on the reused connection) gets
        // the connection closed without an answer; then answers again.
        let (addr, requests, _) = raw_server(usize::MAX, |n, _| if n == 1 { None } else { Some(format!("r{n}")) });
        let client = sockless_tokio::client();
        let url = format!("http://{addr}/");
        client.get(&url).await.unwrap().bytes(64).await.unwrap();
        let e = client.post(&url, "once").await.unwrap_err();
        assert!(matches!(e, sockless_rt::ClientError::Io(_) | sockless_rt::ClientError::Hub(_)), "{e}");
        assert_eq!(requests.load(Ordering::SeqCst), 2, "the POST reached the server once and was not repeated");
        assert_eq!(client.stats().retries, 0);

        let (addr, requests, conns) = raw_server(usize::MAX, |n, _| if n == 1 { None } else { Some(format!("r{n}")) });
        let client = sockless_tokio::client();
        let url = format!("http://{addr}/");
        client.get(&url).await.unwrap().bytes(64).await.unwrap();
        let r = client.get(&url).await.unwrap();
        assert_eq!(&r.bytes(64).await.unwrap()[..], b"r2", "retried on a new connection");
        assert_eq!(requests.load(Ordering::SeqCst), 3);
        assert_eq!(conns.load(Ordering::SeqCst), 2);
        assert_eq!(client.stats().retries, 1);
    });
}

#[test]
fn fire_and_forget_delivers_to_the_callback() {
    run(async {
        let (addr, _) = serve_cleartext();
        let client = sockless_tokio::client();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let request = client.request(Method::Get, &format!("http://{addr}/ff")).build().unwrap();
        client.spawn(request, move |r| {
            let _ = tx.send(r.map(|r| r.status()));
        });
        assert_eq!(rx.await.unwrap().unwrap(), 200);
    });
}

#[test]
fn the_blocking_client_serves_plain_threads() {
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (addr, accepted) = server.block_on(async { serve_cleartext() });
    let client = Arc::new(sockless_tokio::BlockingClient::new(ClientConfig::default()).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let client = client.clone();
            std::thread::spawn(move || {
                for j in 0..5 {
                    let r = client.get(&format!("http://{addr}/b/{i}/{j}")).unwrap();
                    assert_eq!(r.head.status, 200);
                    assert_eq!(&r.bytes(64).unwrap()[..], format!("GET /b/{i}/{j} 0").as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert!(accepted.load(Ordering::SeqCst) <= 4);
}

#[test]
fn redirects_are_off_by_default_and_limited_when_on() {
    run(async {
        let (target, _) = serve_cleartext();
        // A server that redirects /r/n to /r/n-1 and /r/0 to the target.
        let (listener, raddr) = bind();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else { return };
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut have = 0;
                    loop {
                        let n = match s.read(&mut buf[have..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        have += n;
                        let Some(end) = find(&buf[..have], b"\r\n\r\n") else { continue };
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                        let path = head.split(' ').nth(1).unwrap().to_string();
                        let n: u32 = path.trim_start_matches("/r/").parse().unwrap();
                        let location = if n == 0 { format!("http://{target}/done") } else { format!("/r/{}", n - 1) };
                        let msg = format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
                        if s.write_all(msg.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let off = sockless_tokio::client();
        assert_eq!(off.get(&format!("http://{raddr}/r/2")).await.unwrap().status(), 302);
        let on = sockless_tokio::client_with(ClientConfig { redirects: Some(3), ..ClientConfig::default() }).unwrap();
        let r = on.get(&format!("http://{raddr}/r/2")).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.url.path(), "/done");
        let e = on.get(&format!("http://{raddr}/r/5")).await.unwrap_err();
        assert!(matches!(e, sockless_rt::ClientError::TooManyRedirects(3)), "{e}");
    });
}

#[test]
fn a_per_request_timeout_fails_only_that_request() {
    run(async {
        // A server that never answers.
        let (listener, addr) = bind();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let client = sockless_tokio::client();
        let e = client
            .request(Method::Get, &format!("http://{addr}/slow"))
            .timeout(std::time::Duration::from_millis(50))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_timeout(), "{e}");
        assert!(matches!(e, sockless_rt::ClientError::Hub(sockless_pool::Error::TotalTimeout)));
    });
}

#[test]
fn h2c_upgrade_turns_the_first_connection_into_http2_for_the_next_requests() {
    run(async {
        let (addr, accepted) = serve_cleartext();
        let config = ClientConfig { version: HttpVersion::H2cUpgrade, ..ClientConfig::default() };
        let client = sockless_tokio::client_with(config).unwrap();
        for i in 0..3 {
            let r = client.get(&format!("http://{addr}/u/{i}")).await.unwrap();
            assert_eq!(r.head.version, sockless_core::Version::Http2, "request {i}");
            r.bytes(1024).await.unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn http_crate_requests_in_and_responses_out() {
    run(async {
        let (addr, _) = serve_cleartext();
        let client = sockless_tokio::client();
        let request = http::Request::post(format!("http://{addr}/typed")).body(Body::from("four")).unwrap();
        let response = client.send_http(request).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
        let body = response.into_body().collect(1024).await.unwrap();
        assert_eq!(&body[..], b"POST /typed 4");
    });
}

#[test]
fn a_refused_connect_fails_with_the_connect_error_and_backoff_retries_it() {
    run(async {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let url = format!("http://{closed}/");
        let client = sockless_tokio::client();
        match client.get(&url).await {
            Err(sockless_rt::ClientError::Connect(e)) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("{other:?}"),
        }
        let backoff = sockless_pool::Backoff {
            initial: std::time::Duration::from_millis(5),
            max: std::time::Duration::from_millis(20),
            attempts: 3,
        };
        let mut config = ClientConfig::default();
        config.hub.connect_backoff = Some(backoff);
        let client = sockless_tokio::client_with(config).unwrap();
        let e = client.get(&url).await.unwrap_err();
        assert!(matches!(e, sockless_rt::ClientError::Connect(_)), "{e}");
        assert_eq!(client.stats().connect_failures, 3, "three attempts, then the request fails");
    });
}

#[test]
fn a_request_refused_by_a_closed_connection_says_it_was_never_sent() {
    run(async {
        let (listener, addr) = bind();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                drop(s);
            }
        });
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let conn = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
        let handle =
            sockless_rt::ClientHandle::spawn(&TokioRuntime::current(), sockless_tokio::TokioIo::tcp(stream), conn);
        while !handle.is_closed() {
            tokio::task::yield_now().await;
        }
        let head = sockless_core::RequestHead::new(Method::Post, format!("http://{addr}/"));
        let e = handle.send(Request::new(head, Body::from("once"))).await.unwrap_err();
        let error = sockless_rt::Error::of(&e).expect("a sockless error");
        assert_eq!(error.kind(), sockless_rt::ErrorKind::Closed);
        assert!(!error.was_sent(), "it never left the queue: {error}");
    });
}
