//! HTTPS: a fresh self-signed certificate for localhost, HTTP/2 or
//! HTTP/1.1 as ALPN decides.
//!
//! `cargo run -p sockless-examples --bin https [ADDR]`, then `curl -k https://localhost:3443/`.
use sockless_core::ResponseHead;
use sockless_rt::{Accept, Request, Response, ServerOptions};
use sockless_tls::{self_signed_localhost, server_config, Tls, ALPN_H2, ALPN_HTTP11};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3443".into());
    let (chain, key) = self_signed_localhost()?;
    let config = server_config(chain, key, &[ALPN_H2, ALPN_HTTP11], None)?;
    let make = move |accept: &mut Accept| {
        Tls::server(config.clone(), accept.now, |handshake, now| {
            sockless_http::ServerConnection::for_alpn(Default::default(), now, handshake.alpn.as_deref())
        })
    };
    let hello = |req: Request| async move {
        let text = format!("Hello over TLS, {:?}\n", req.head.version);
        Response::new(ResponseHead::new(200), text)
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on https://{}", listener.local_addr()?);
    sockless_tokio::serve_with(listener, make, hello, ServerOptions::default()).await?;
    Ok(())
}
