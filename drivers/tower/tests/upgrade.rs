//! Upgrades over real sockets: the websocket_echo example on tokio and smol
//! (a tungstenite client's messages come back over the upgraded
//! connection), and a CONNECT tunnel through `sockless_tower::upgrade::on`.

mod common;

#[path = "../examples/websocket_echo.rs"]
mod example;

use common::{exchange, Rt};
use sockless_core::Instant;
use sockless_rt::{ServerOptions, ShutdownSignal};
use tungstenite::Message;

/// The example's app on HTTP/1.1 (WebSocket's handshake is an HTTP/1.1
/// upgrade), on `rt`, its echo sessions on the same runtime.
fn start(rt: Rt) -> (std::net::SocketAddr, ShutdownSignal, std::thread::JoinHandle<std::io::Result<()>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = ShutdownSignal::new();
    let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
    let make = |now: Instant| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
    let thread = std::thread::spawn(move || match rt {
        Rt::Tokio => {
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(async {
                listener.set_nonblocking(true)?;
                let rt = sockless_tokio::TokioRuntime::current();
                let listener = sockless_tokio::TokioListener(tokio::net::TcpListener::from_std(listener)?);
                sockless_tower::serve(rt.clone(), listener, make, example::app(rt).with_state(()), options).await
            })
        }
        Rt::Smol => smol::block_on(async {
            let app = example::app(sockless_smol::SmolRuntime).with_state(());
            let listener = sockless_smol::SmolListener::from_std(listener)?;
            sockless_tower::serve(sockless_smol::SmolRuntime, listener, make, app, options).await
        }),
    });
    (addr, shutdown, thread)
}

fn the_websocket_example_echoes_over_http1(rt: Rt) {
    let (addr, shutdown, thread) = start(rt);
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let (mut socket, response) = tungstenite::client(format!("ws://{addr}/ws"), stream).unwrap();
    assert_eq!(response.status(), 101);
    for text in ["hello", "over sockless", &"x".repeat(100_000)] {
        socket.send(Message::text(text)).unwrap();
        assert_eq!(socket.read().unwrap(), Message::text(text));
    }
    socket.send(Message::binary(vec![0u8, 1, 2, 255])).unwrap();
    assert_eq!(socket.read().unwrap(), Message::binary(vec![0u8, 1, 2, 255]));
    socket.close(None).unwrap();
    // The server answers the close, then the session ends.
    loop {
        match socket.read() {
            Ok(Message::Close(_)) | Ok(_) => continue,
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => panic!("after close: {e}"),
        }
    }
    // A plain GET to the route is refused, not upgraded.
    let plain = exchange(addr, b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(plain.status, 400);
    shutdown.trigger();
    thread.join().unwrap().unwrap();
}

on_every_runtime!(the_websocket_example_echoes_over_http1);

/// A tower service (no axum) that answers CONNECT with 200 and echoes the
/// tunnel, as `hyper::upgrade::on` is used; other requests get 405.
#[test]
fn a_connect_tunnel_through_upgrade_on() {
    use sockless_rt::Runtime;
    use std::io::{Read, Write};
    let service = tower::service_fn(|mut req: http::Request<sockless_tower::RequestBody>| async move {
        if req.method() != http::Method::CONNECT {
            let refused =
                http::Response::builder().status(405).body(http_body_util::Empty::<sockless_core::Bytes>::new());
            return Ok::<_, std::convert::Infallible>(refused.unwrap());
        }
        let tunnel = sockless_tower::upgrade::on(&mut req);
        sockless_smol::SmolRuntime.spawn(async move {
            let Ok(mut tunnel) = tunnel.await else { return };
            let mut buf = [0u8; 1024];
            while let Ok(n @ 1..) = tunnel.read(&mut buf).await {
                if tunnel.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        Ok(http::Response::new(http_body_util::Empty::new()))
    });
    let server = common::Server::start(Rt::Smol, service);
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    // The first tunnel bytes come with the request: they are handed over too.
    stream.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nearly ").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    stream.write_all(b"ping").unwrap();
    let mut echoed = [0u8; 10];
    stream.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"early ping");
    // A GET is no upgrade: 405, and `on` would complete with an error.
    assert_eq!(common::get(server.addr, "/", "").status, 405);
}
