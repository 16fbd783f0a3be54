//! An axum application on the epoll driver, through `sockless_tower::handler`
//! (streamed bodies pumped by smol tasks).
#![cfg(target_os = "linux")]

mod common;

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use common::{exchange, get as get_raw, Trickle};
use sockless_epoll::{EpollOptions, ServerOptions};

#[test]
fn an_axum_app_on_epoll() {
    let app = Router::new()
        .route("/", get(|| async { "Hello from epoll" }))
        .route("/stream", get(|| async { Body::new(Trickle::new(&["a", "b", "c"])) }))
        .route("/echo", post(|body: axum::body::Bytes| async move { body }))
        .with_state(());
    let handler = sockless_tower::handler(sockless_smol::SmolRuntime, app);
    let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
    let options = EpollOptions { threads: 1, server: ServerOptions::default(), ..EpollOptions::default() };
    let server = sockless_epoll::serve("127.0.0.1:0".parse().unwrap(), make, handler, options).unwrap();
    let addr = server.local_addr();

    let hello = get_raw(addr, "/", "");
    assert_eq!((hello.status, hello.text().as_str()), (200, "Hello from epoll"));
    assert_eq!(hello.header("content-length"), Some("16"));
    let stream = get_raw(addr, "/stream", "");
    assert!(stream.is_chunked());
    assert_eq!(stream.text(), "abc");
    let echo = exchange(addr, b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nConnection: close\r\n\r\nping");
    assert_eq!(echo.text(), "ping");
    assert_eq!(get_raw(addr, "/nowhere", "").status, 404);

    server.shutdown();
    server.join().unwrap();
}
