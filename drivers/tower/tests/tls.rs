//! TLS facts reach a tower service as a request extension: ALPN and SNI
//! over TLS, nothing on cleartext.

mod common;

use axum::extract::Extension;
use axum::routing::get;
use axum::Router;
use common::{Rt, Server};
use sockless_core::{Instant, Method, RequestHead};
use sockless_tower::TlsFacts;

fn app() -> Router<()> {
    Router::new()
        .route(
            "/",
            get(|tls: Option<Extension<TlsFacts>>| async move {
                match tls {
                    Some(Extension(tls)) => format!(
                        "sni={} alpn={} client-certificates={}",
                        tls.sni.as_deref().unwrap_or("-"),
                        String::from_utf8_lossy(tls.alpn.as_deref().unwrap_or(b"-")),
                        tls.peer_certificates.len()
                    ),
                    None => "cleartext".to_string(),
                }
            }),
        )
        .with_state(())
}

fn tls_facts_are_a_request_extension(rt: Rt) {
    let (chain, key) = sockless_tls::self_signed_localhost().expect("a certificate");
    let alpn: [&[u8]; 1] = [sockless_tls::ALPN_HTTP11];
    let roots = sockless_tls::Roots::from_certificates(&chain).expect("roots");
    let server_config = sockless_tls::server_config(chain, key, &alpn, None).expect("server config");
    let make = move |now: Instant| {
        sockless_tls::Tls::server(server_config.clone(), now, |_, now| {
            sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now)
        })
        .expect("TLS server")
    };
    let server = Server::start_on(rt, make, app());
    let client_config = sockless_tls::client_config(roots, &alpn, None).expect("client config");
    let client = sockless_tls::Tls::client(client_config, "localhost", Instant::ZERO, |_, now| {
        sockless_h1::ClientConnection::new(sockless_h1::Config::client(), now)
    })
    .expect("TLS client");
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let body = runtime.block_on(async move {
        let client = sockless_tokio::connect(addr, client).await.unwrap();
        let head = RequestHead::new(Method::Get, "https://localhost/");
        let response = client.send(sockless_rt::Request::new(head, sockless_rt::Body::empty())).await.unwrap();
        assert_eq!(response.head.status, 200);
        response.body.collect(1000).await.unwrap()
    });
    assert_eq!(&body[..], b"sni=localhost alpn=http/1.1 client-certificates=0");
    // The same app in cleartext sees no TLS facts.
    let plain = Server::start(rt, app());
    assert_eq!(common::get(plain.addr, "/", "").text(), "cleartext");
}

on_every_runtime!(tls_facts_are_a_request_extension);
