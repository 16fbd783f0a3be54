//! hyper 1.x hello-world server, the peer of `sockless serve --hello` in benches/server/run.sh.
//!
//! Every request gets 200 `Hello, World!` (text/plain, content-length 13). HTTP/1.1 and
//! HTTP/2 with prior knowledge (h2c) on one port through hyper-util's auto builder.
//!
//! Usage: hyper-hello [--addr 127.0.0.1:8080] [--threads N]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;

const BODY: &[u8] = b"Hello, World!";

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
    // hyper adds content-length: 13 itself (the body's exact size is known).
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(resp)
}

fn usage(msg: &str) -> ! {
    eprintln!("hyper-hello: {msg}\nusage: hyper-hello [--addr 127.0.0.1:8080] [--threads N]");
    std::process::exit(2);
}

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut threads: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = |args: &mut dyn Iterator<Item = String>| args.next().unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = value(&mut args).parse().unwrap_or_else(|e| usage(&format!("--addr: {e}"))),
            "--threads" => threads = Some(value(&mut args).parse().unwrap_or_else(|e| usage(&format!("--threads: {e}")))),
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument {other}")),
        }
    }

    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if let Some(n) = threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.build().expect("tokio runtime");
    rt.block_on(serve(addr));
}

async fn serve(addr: SocketAddr) {
    let listener = TcpListener::bind(addr).await.unwrap_or_else(|e| usage(&format!("bind {addr}: {e}")));
    eprintln!("hyper-hello listening on http://{}", listener.local_addr().unwrap());
    // No `date` header, so both servers put the same bytes on the wire (sockless sends none).
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().auto_date_header(false);
    builder.http2().auto_date_header(false);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let builder = builder.clone();
        tokio::spawn(async move {
            // auto: reads the preface; HTTP/2 prior knowledge or HTTP/1.1 (keep-alive).
            let _ = builder
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}
