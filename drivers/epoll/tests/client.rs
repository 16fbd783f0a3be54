//! Client connections on epoll loop threads, used from plain blocking
//! threads: many threads share a few connections driven by two loops.

use sockless_core::{Bytes, Connection, Instant, Method, RequestHead, ResponseHead};
use sockless_epoll::{block_on, serve, Client, ClientLoops, EpollOptions, Server};
use sockless_rt::{Body, Request, Response};
use std::io::Read;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// `/echo` streams the request body back; anything else says its path.
fn handler(req: Request) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>> {
    if req.head.path() == b"/echo" {
        return Box::pin(async move { Response::new(ResponseHead::new(200), req.body) });
    }
    let path = req.head.path().to_vec();
    Box::pin(std::future::ready(Response::new(ResponseHead::new(200), Bytes::from(path))))
}

fn server() -> Server {
    let make = |now: Instant| -> Box<dyn Connection> {
        Box::new(sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), now))
    };
    let options = EpollOptions { threads: 1, ..EpollOptions::default() };
    serve("127.0.0.1:0".parse().unwrap(), make, handler, options).unwrap()
}

fn get(path: &str) -> Request {
    let head = RequestHead::new(Method::Get, format!("http://localhost{path}")).header("Host", "localhost");
    Request::new(head, Body::empty())
}

fn body_of(client: &Client, request: Request) -> Vec<u8> {
    let response = client.send_blocking(request).expect("response");
    assert_eq!(response.head.status, 200);
    block_on(response.body.collect(1 << 22)).expect("body").to_vec()
}

#[test]
fn many_blocking_threads_share_a_few_connections() {
    let server = server();
    let addr = server.local_addr();
    let loops = ClientLoops::start(2).unwrap();
    let h2 = || sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO);
    let h1 = sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO);
    let clients = vec![
        loops.connect(addr, h2(), TIMEOUT).unwrap(),
        loops.connect(addr, h2(), TIMEOUT).unwrap(),
        loops.connect(addr, h1, TIMEOUT).unwrap(),
    ];
    let threads: Vec<_> = (0..60)
        .map(|t| {
            let client = clients[t % clients.len()].clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let path = format!("/t{t}/r{i}");
                    assert_eq!(body_of(&client, get(&path)), path.as_bytes());
                }
                // And an upload, streamed back.
                let data: Bytes = (0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into();
                let head = RequestHead::new(Method::Post, "http://localhost/echo").header("Host", "localhost");
                assert!(body_of(&client, Request::new(head, data.clone())) == data);
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread failed");
    }
    drop(clients);
    loops.shutdown().unwrap();
    server.shutdown();
    server.join().unwrap();
}

#[test]
fn tls_client_with_alpn_on_the_loops() {
    let (chain, key) = sockless_tls::self_signed_localhost().unwrap();
    let alpn: [&[u8]; 2] = [sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11];
    let server_tls = sockless_tls::server_config(chain.clone(), key, &alpn, None).unwrap();
    let make = move |now: Instant| -> Box<dyn Connection> {
        let inner = |hs: &sockless_tls::Handshake, now: Instant| {
            sockless_http::ServerConnection::for_alpn(sockless_http::ServerConfig::default(), now, hs.alpn.as_deref())
        };
        Box::new(sockless_tls::Tls::server(server_tls.clone(), now, inner).unwrap())
    };
    let options = EpollOptions { threads: 1, ..EpollOptions::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), make, handler, options).unwrap();
    let mut store = sockless_tls::rustls::RootCertStore::empty();
    store.add(chain[0].clone()).unwrap();
    let client_tls = sockless_tls::client_config(sockless_tls::Roots::Store(store), &alpn, None).unwrap();
    let inner = |hs: &sockless_tls::Handshake, now: Instant| {
        sockless_http::ClientConnection::for_alpn(
            sockless_h1::Config::client(),
            sockless_h2::Config::client(),
            now,
            hs.alpn.as_deref(),
        )
    };
    let conn = sockless_tls::Tls::client(client_tls, "localhost", Instant::ZERO, inner).unwrap();
    let loops = ClientLoops::start(1).unwrap();
    let client = loops.connect(server.local_addr(), conn, TIMEOUT).unwrap();
    let response = client.send_blocking(get("/secure")).unwrap();
    assert_eq!(response.head.version, sockless_core::Version::Http2, "ALPN chose h2");
    assert_eq!(&block_on(response.body.collect(1024)).unwrap()[..], b"/secure");
    // The async send works on the same handle.
    let body = block_on(async {
        let response = client.send(get("/async")).await.unwrap();
        response.body.collect(1024).await.unwrap()
    });
    assert_eq!(&body[..], b"/async");
    drop(client);
    loops.shutdown().unwrap();
    server.shutdown();
    server.join().unwrap();
}

/// When the last handle goes, the connection closes (the peer reads EOF).
#[test]
fn dropping_the_last_handle_closes_the_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let loops = ClientLoops::start(1).unwrap();
    let h1 = sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO);
    let client = loops.connect(listener.local_addr().unwrap(), h1, TIMEOUT).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    let second = client.clone();
    drop(client);
    peer.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mut buf = [0u8; 16];
    assert!(peer.read(&mut buf).is_err(), "a clone is still alive: the connection stays open");
    drop(second);
    peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(peer.read(&mut buf).unwrap(), 0, "EOF once every handle is gone");
    loops.shutdown().unwrap();
}

#[test]
fn connecting_to_nothing_fails_and_a_stopped_loop_refuses() {
    let loops = ClientLoops::start(1).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap(); // closed again
    let h1 = || sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO);
    assert!(loops.connect(port, h1(), TIMEOUT).is_err(), "refused");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = loops.connect(listener.local_addr().unwrap(), h1(), TIMEOUT).unwrap();
    loops.shutdown().unwrap();
    let err = client.send_blocking(get("/")).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected, "{err}");
}
