//! One axum hello app, served by sockless-tower (sockless's tokio driver) or by `axum::serve`
//! (hyper): the pair benches/tower/run.sh compares.
//!
//! Every request to `/` gets 200 `Hello, World!` (text/plain, content-length 13), as
//! benches/server's hello servers answer. HTTP/1.1 and h2c (prior knowledge) on one port.
//!
//! Usage: axum-hello --server sockless|hyper|native|epoll [--addr 127.0.0.1:8080] [--threads N]

use axum::routing::get;
use axum::Router;
use std::net::SocketAddr;

/// The application both servers run.
fn app() -> Router {
    Router::new().route("/", get(|| async { "Hello, World!" }))
}

fn usage(msg: &str) -> ! {
    eprintln!("axum-hello: {msg}\nusage: axum-hello --server sockless|hyper|native|epoll [--addr 127.0.0.1:8080] [--threads N]");
    std::process::exit(2);
}

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut threads: Option<usize> = None;
    let mut server: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = value().parse().unwrap_or_else(|e| usage(&format!("--addr: {e}"))),
            "--threads" => threads = Some(value().parse().unwrap_or_else(|e| usage(&format!("--threads: {e}")))),
            "--server" => server = Some(value()),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if server.as_deref() == Some("epoll") {
        // No tokio: one epoll loop thread per --threads (default 1), the same app through
        // sockless_tower::handler (a streamed body would be pumped on smol; hello has none).
        let options = sockless_epoll::EpollOptions { threads: threads.unwrap_or(1), ..Default::default() };
        let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
        let handler = sockless_tower::handler(sockless_smol::SmolRuntime, app().with_state(()));
        let server =
            sockless_epoll::serve(addr, make, handler, options).unwrap_or_else(|e| usage(&format!("bind {addr}: {e}")));
        eprintln!("axum-hello (epoll) listening on http://{}", server.local_addr());
        server.join().expect("serve");
        return;
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().expect("tokio runtime");
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| usage(&format!("bind {addr}: {e}")));
        let name = server.as_deref().unwrap_or_else(|| usage("--server is required"));
        eprintln!("axum-hello ({name}) listening on http://{}", listener.local_addr().unwrap());
        match name {
            "sockless" => {
                let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
                let rt = sockless_tokio::TokioRuntime::current();
                let listener = sockless_tokio::TokioListener(listener);
                // with_state(()): the routes are built once, as axum::serve builds them per connection.
                let options = sockless_rt::ServerOptions::default();
                sockless_tower::serve(rt, listener, make, app().with_state(()), options).await.expect("serve");
            }
            "hyper" => axum::serve(listener, app()).await.expect("serve"),
            // Not axum: sockless's own handler answering the same bytes, to tell what the tower
            // adapter and axum cost on top of the driver.
            "native" => {
                let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
                let handler = |_req: sockless_rt::Request| async {
                    let head =
                        sockless_core::ResponseHead::new(200).header("content-type", "text/plain; charset=utf-8");
                    sockless_rt::Response::new(head, "Hello, World!")
                };
                sockless_tokio::serve(listener, make, handler, sockless_rt::ServerOptions::default())
                    .await
                    .expect("serve");
            }
            other => usage(&format!("unknown server {other}")),
        }
    });
}
