//! A router-style server: three routes (text, JSON, an upload) and a 404.
//!
//! `cargo run -p sockless-examples --bin router [ADDR]`, then
//! `curl localhost:3000/users/7` or `curl --http2-prior-knowledge -d @file localhost:3000/upload`.
use sockless_core::{Method, ResponseHead};
use sockless_rt::{Request, Response, ServerOptions};

fn json(status: u16, body: String) -> Response {
    Response::new(ResponseHead::new(status).header("content-type", "application/json"), body)
}

async fn route(req: Request) -> Response {
    match (&req.head.method, req.head.path()) {
        (Method::Get, b"/") => Response::new(ResponseHead::new(200), "Hello, World!\n"),
        (Method::Get, path) if path.starts_with(b"/users/") && path[7..].iter().all(u8::is_ascii_digit) => {
            let id = String::from_utf8_lossy(&path[7..]);
            json(200, format!("{{\"id\":{id},\"name\":\"user {id}\"}}\n"))
        }
        (Method::Post, b"/upload") => match req.body.collect(1 << 20).await {
            Ok(data) => json(201, format!("{{\"received\":{}}}\n", data.len())),
            Err(_) => json(413, "{\"error\":\"upload over 1 MiB\"}\n".into()),
        },
        _ => json(404, "{\"error\":\"not found\"}\n".into()),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // HTTP/1.1 and h2c (prior knowledge or Upgrade) on one port.
    let make = |now| sockless_http::ServerConnection::cleartext(Default::default(), now);
    sockless_tokio::serve(listener, make, route, ServerOptions::default()).await
}
