//! The hub's Client on smol against a sockless server on loopback:
//! requests share connections within the cap, over HTTP/1.1 and h2c.

use sockless_core::{Instant, ResponseHead};
use sockless_rt::{Body, ClientConfig, HttpVersion, Request, Response, ServerOptions};
use sockless_smol::{SmolListener, SmolRuntime};

async fn hello(req: Request) -> Response {
    let text = format!("{}", String::from_utf8_lossy(&req.head.target));
    Response::new(ResponseHead::new(200), Body::from(text))
}

fn serve() -> std::net::SocketAddr {
    let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std.local_addr().unwrap();
    let listener = SmolListener::from_std(std).unwrap();
    let make = |now: Instant| sockless_http::ServerConnection::cleartext(sockless_http::ServerConfig::default(), now);
    smol::spawn(sockless_rt::serve(SmolRuntime, listener, make, hello, ServerOptions::default())).detach();
    addr
}

#[test]
fn smol_client_over_http1_and_h2c() {
    smol::block_on(async {
        let addr = serve();
        for version in [HttpVersion::Http1, HttpVersion::Http2] {
            let client = sockless_smol::client_with(ClientConfig { version, ..ClientConfig::default() }).unwrap();
            let tasks: Vec<_> = (0..40)
                .map(|i| {
                    let client = client.clone();
                    let url = format!("http://{addr}/s/{i}");
                    smol::spawn(async move { client.get(&url).await.unwrap().bytes(1024).await.unwrap() })
                })
                .collect();
            for (i, t) in tasks.into_iter().enumerate() {
                assert!(t.await.ends_with(format!("/s/{i}").as_bytes()));
            }
            let stats = client.stats();
            assert_eq!(stats.completed, 40);
            assert!(stats.connects <= 4, "{version:?}: {stats:?}");
            if version == HttpVersion::Http2 {
                assert_eq!(stats.connects, 1);
            }
        }
    });
}
