//! A small axum application served by sockless-tower, on tokio or on smol.
//!
//! ```text
//! cargo run -p sockless-tower --example axum_demo -- [--runtime tokio|smol] [--addr 127.0.0.1:3000]
//!
//! curl http://127.0.0.1:3000/                                  # text
//! curl http://127.0.0.1:3000/hello/world                       # a path parameter
//! curl -d '{"a":1,"b":2}' -H 'content-type: application/json' http://127.0.0.1:3000/sum   # JSON in and out
//! curl http://127.0.0.1:3000/count?to=100000 | tail -1         # a streamed body (chunked)
//! curl --compressed -v http://127.0.0.1:3000/count?to=1000     # gzip by CompressionLayer
//! curl -d @big-file http://127.0.0.1:3000/upload               # 413 past 64 KiB
//! curl --http2-prior-knowledge http://127.0.0.1:3000/          # h2c on the same port
//! ```
//!
//! Each request is logged by tower-http's TraceLayer (to stderr). Ctrl-C
//! (or a closed stdin) shuts the server down gracefully.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body::{Frame, SizeHint};
use sockless_core::Instant;
use sockless_rt::{ServerOptions, ShutdownSignal};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

fn app() -> Router {
    let trace = TraceLayer::new_for_http()
        .on_request(|req: &http::Request<Body>, _: &_| eprintln!("-> {} {}", req.method(), req.uri()))
        .on_response(|res: &http::Response<Body>, latency: Duration, _: &_| {
            eprintln!("<- {} in {latency:?}", res.status())
        });
    Router::new()
        .route("/", get(|| async { "Hello from axum on sockless!\n" }))
        .route("/hello/{name}", get(|Path(name): Path<String>| async move { format!("Hello, {name}!\n") }))
        .route(
            "/sum",
            post(|Json(terms): Json<HashMap<String, i64>>| async move {
                let sum: i64 = terms.values().sum();
                Json(HashMap::from([("sum", sum)]))
            }),
        )
        .route(
            "/count",
            get(|Query(q): Query<HashMap<String, u64>>| async move {
                Body::new(Count { next: 1, to: q.get("to").copied().unwrap_or(10) })
            }),
        )
        .route("/upload", post(|body: Bytes| async move { format!("{} bytes\n", body.len()) }))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(CompressionLayer::new())
        .layer(trace)
}

/// A body made as it is read: the numbers 1 to `to`, one per line, in
/// chunks of a few hundred (a streamed response of any length in little
/// memory).
struct Count {
    next: u64,
    to: u64,
}

impl http_body::Body for Count {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.next > self.to {
            return Poll::Ready(None);
        }
        let mut chunk = String::new();
        while self.next <= self.to && chunk.len() < 4096 {
            chunk.push_str(&self.next.to_string());
            chunk.push('\n');
            self.next += 1;
        }
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.next > self.to
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("axum_demo: {msg}\nusage: axum_demo [--runtime tokio|smol] [--addr 127.0.0.1:3000]");
    std::process::exit(2);
}

fn main() -> std::io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    let mut runtime = String::from("tokio");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = value().parse().unwrap_or_else(|e| usage(&format!("--addr: {e}"))),
            "--runtime" => runtime = value(),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }

    let shutdown = ShutdownSignal::new();
    // A closed stdin (or Ctrl-C on tokio) starts the graceful shutdown.
    let on_eof = shutdown.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        on_eof.trigger();
    });
    let options = ServerOptions { shutdown: shutdown.clone(), ..ServerOptions::default() };
    // HTTP/1.1 and h2c (prior knowledge and Upgrade) on one port.
    let make = |now: Instant| sockless_http::ServerConnection::cleartext(Default::default(), now);
    // with_state(()) builds the routes (and their layers) once, not per request.
    let app = app().with_state(());
    let listener = std::net::TcpListener::bind(addr)?;
    eprintln!("axum_demo on {runtime}: http://{}", listener.local_addr()?);

    match runtime.as_str() {
        "tokio" => tokio::runtime::Runtime::new()?.block_on(async move {
            let on_ctrl_c = shutdown.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_ctrl_c.trigger();
                }
            });
            listener.set_nonblocking(true)?;
            let listener = sockless_tokio::TokioListener(tokio::net::TcpListener::from_std(listener)?);
            let rt = sockless_tokio::TokioRuntime::current();
            sockless_tower::serve(rt, listener, make, app, options).await
        }),
        "smol" => smol::block_on(async move {
            let listener = sockless_smol::SmolListener::from_std(listener)?;
            sockless_tower::serve(sockless_smol::SmolRuntime, listener, make, app, options).await
        }),
        other => usage(&format!("unknown runtime {other} (tokio or smol)")),
    }
}
