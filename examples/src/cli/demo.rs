//! `sockless demo`: a server on a free loopback port on every async
//! driver, and the client against it over HTTP/1.1, h2c and h2 with TLS.

use super::args::{Driver, Mode};
use super::{serve, tls, Failure};
use bytes::Bytes;
use sockless_core::{Connection, Instant, Method, RequestHead};
use sockless_rt::{Body, ClientHandle, Request};
use sockless_tokio::{TokioIo, TokioRuntime};
use std::time::Duration;

const REQUESTS: usize = 300;

#[derive(Clone, Copy, Debug)]
enum Proto {
    Http1,
    H2c,
    H2Tls,
}

/// Runs the demo and prints the table.
pub fn run() -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, e.to_string()))?;
    println!("{:<10} {:<14} {:>9} {:>10} {:>12}  check", "driver", "protocol", "requests", "total", "per request");
    let mut failures = 0;
    for driver in [Driver::Tokio, Driver::Smol, Driver::AsyncStd, Driver::Epoll, Driver::Uring] {
        if driver == Driver::Uring {
            if let Err(e) = sockless_uring::probe() {
                // Not a failure of sockless: the kernel (or a seccomp
                // filter) refuses io_uring here.
                println!("{:<10} skipped: {e}", "uring");
                continue;
            }
        }
        for proto in [Proto::Http1, Proto::H2c, Proto::H2Tls] {
            let tls = matches!(proto, Proto::H2Tls);
            let server = serve::start(driver, Mode::Echo, tls, "127.0.0.1:0".parse().expect("valid"), Some(1))?;
            let result = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), exercise(&server, proto))
                    .await
                    .unwrap_or_else(|_| Err("timed out".into()))
            });
            server.shutdown.trigger();
            let _ = server.thread.join();
            let name = match driver {
                Driver::Tokio => "tokio",
                Driver::Smol => "smol",
                Driver::AsyncStd => "async-std",
                Driver::Epoll => "epoll",
                Driver::Uring => "uring",
            };
            let proto_name = match proto {
                Proto::Http1 => "HTTP/1.1",
                Proto::H2c => "h2c",
                Proto::H2Tls => "h2 over TLS",
            };
            match result {
                Ok(elapsed) => println!(
                    "{name:<10} {proto_name:<14} {REQUESTS:>9} {:>10.1?} {:>12.1?}  ok",
                    elapsed,
                    elapsed / REQUESTS as u32
                ),
                Err(e) => {
                    failures += 1;
                    println!("{name:<10} {proto_name:<14} {:>9} {:>10} {:>12}  FAILED: {e}", "-", "-", "-");
                }
            }
        }
    }
    if failures > 0 {
        return Err(Failure::new(1, format!("{failures} demo runs failed")));
    }
    println!("all drivers served every protocol");
    Ok(())
}

async fn exercise(server: &serve::Running, proto: Proto) -> Result<Duration, String> {
    let stream = tokio::net::TcpStream::connect(server.addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let conn: Box<dyn Connection + Send> = match proto {
        Proto::Http1 => Box::new(sockless_http::ClientConnection::http1(sockless_h1::Config::client(), Instant::ZERO)),
        Proto::H2c => {
            Box::new(sockless_http::ClientConnection::prior_knowledge(sockless_h2::Config::client(), Instant::ZERO))
        }
        Proto::H2Tls => {
            let config = tls::client_config(&[sockless_tls::ALPN_H2], &server.chain, false).map_err(|f| f.message)?;
            let inner = |hs: &sockless_tls::Handshake, now: Instant| {
                sockless_http::ClientConnection::for_alpn(
                    sockless_h1::Config::client(),
                    sockless_h2::Config::client(),
                    now,
                    hs.alpn.as_deref(),
                )
            };
            Box::new(sockless_tls::Tls::client(config, "localhost", Instant::ZERO, inner).map_err(|e| e.to_string())?)
        }
    };
    let client = ClientHandle::spawn(&TokioRuntime::current(), TokioIo::tcp(stream), conn);
    let target = format!(
        "{}://localhost:{}/demo",
        if matches!(proto, Proto::H2Tls) { "https" } else { "http" },
        server.addr.port()
    );
    let started = std::time::Instant::now();
    for i in 0..REQUESTS {
        let body = format!("request {i}");
        let head = RequestHead::new(Method::Post, target.clone()).header("content-length", body.len().to_string());
        let response =
            client.send(Request::new(head, Body::from(Bytes::from(body.clone())))).await.map_err(|e| e.to_string())?;
        if response.head.status != 200 {
            return Err(format!("status {}", response.head.status));
        }
        let json = response.body.collect(1 << 20).await.map_err(|e| e.to_string())?;
        let expect = super::json::base64(body.as_bytes());
        if !String::from_utf8_lossy(&json).contains(&expect) {
            return Err("echo mismatch".into());
        }
    }
    Ok(started.elapsed())
}
