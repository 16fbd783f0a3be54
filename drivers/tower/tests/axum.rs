//! An axum application, unchanged, on sockless: routing, extractors and
//! their rejections, framing, streaming, trailers, body limits and
//! tower-http middleware, over real sockets on tokio and on smol.

mod common;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{chunked, exchange, get as get_raw, upload, with_h2_client, Raw, Rt, Server, Trickle};
use http_body_util::BodyExt;
use sockless_core::{HeaderList, Method, RequestHead};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn app() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello, World!" }))
        .route("/users/{id}", get(|Path(id): Path<u32>| async move { format!("user {id}") }))
        .route(
            "/search",
            get(|Query(q): Query<HashMap<String, u32>>| async move {
                let mut keys: Vec<_> = q.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
                keys.sort();
                keys.join("&")
            }),
        )
        .route(
            "/json",
            post(|Json(map): Json<HashMap<String, u32>>| async move {
                Json(map.into_iter().map(|(k, v)| (k, v * 2)).collect::<HashMap<_, _>>())
            }),
        )
        .route("/stream", get(|| async { Body::new(Trickle::new(&["one ", "two ", "three"])) }))
        .route("/upload", post(|body: Bytes| async move { body.len().to_string() }))
        .route("/small", post(|body: Bytes| async move { body.len().to_string() }).layer(DefaultBodyLimit::max(16)))
        .route(
            "/unlimited",
            post(|body: Bytes| async move { body.len().to_string() }).layer(DefaultBodyLimit::disable()),
        )
        .route("/echo-trailers", post(echo_with_trailers))
        .route("/connection-fields", get(|| async { ([("connection", "keep-alive"), ("x-kept", "1")], "fields") }))
}

/// Reads the request body and its trailers, and answers with the body
/// streamed back and the trailers renamed (`x-got-<name>`).
async fn echo_with_trailers(body: Body) -> Body {
    let collected = body.collect().await.unwrap();
    let mut trailers = HeaderMap::new();
    for (name, value) in collected.trailers().into_iter().flatten() {
        trailers.insert(http::HeaderName::try_from(format!("x-got-{name}")).unwrap(), value.clone());
    }
    let data = collected.to_bytes();
    let text: &'static str = String::from_utf8(data.to_vec()).unwrap().leak();
    Body::new(Trickle::new(&[text]).with_trailers(trailers))
}

fn routes_and_fallback(rt: Rt) {
    let server = Server::start(rt, app());
    let ok = get_raw(server.addr, "/", "");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), "Hello, World!");
    assert_eq!(ok.header("content-length"), Some("13"));
    assert_eq!(ok.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(get_raw(server.addr, "/nowhere", "").status, 404);
    let wrong_method = exchange(server.addr, b"DELETE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), Some("GET,HEAD"));
}

fn head_keeps_content_length_and_sends_no_body(rt: Rt) {
    let server = Server::start(rt, app());
    let head = exchange(server.addr, b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("13"));
    assert!(head.rest.is_empty(), "a HEAD response carried {:?}", head.rest);
    // Kept alive: a request after the HEAD gets its own answer, whole.
    let two = exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET /users/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(two.status, 200);
    let text = String::from_utf8(two.rest.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "after HEAD: {text:?}");
    assert!(text.ends_with("user 7"), "after HEAD: {text:?}");
}

fn extractors_and_their_rejections(rt: Rt) {
    let server = Server::start(rt, app());
    assert_eq!(get_raw(server.addr, "/users/42", "").text(), "user 42");
    assert_eq!(get_raw(server.addr, "/users/abc", "").status, 400);
    assert_eq!(get_raw(server.addr, "/search?b=2&a=1", "").text(), "a=1&b=2");
    assert_eq!(get_raw(server.addr, "/search?a=x", "").status, 400);

    let json = |content_type: &str, body: &str| {
        exchange(
            server.addr,
            format!(
                "POST /json HTTP/1.1\r\nHost: t\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    };
    let ok = json("Content-Type: application/json\r\n", r#"{"n":21}"#);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.text(), r#"{"n":42}"#);
    assert_eq!(ok.header("content-type"), Some("application/json"));
    assert_eq!(json("Content-Type: application/json\r\n", "{not json").status, 400);
    assert_eq!(json("Content-Type: application/json\r\n", r#"{"n":"text"}"#).status, 422);
    assert_eq!(json("", r#"{"n":1}"#).status, 415);
}

fn a_streamed_response_is_chunked(rt: Rt) {
    let server = Server::start(rt, app());
    let raw = get_raw(server.addr, "/stream", "");
    assert_eq!(raw.status, 200);
    assert!(raw.is_chunked(), "{:?}", raw.headers);
    assert_eq!(raw.header("content-length"), None);
    assert_eq!(raw.text(), "one two three");
}

fn trailers_both_ways_h1(rt: Rt) {
    let server = Server::start(rt, app());
    let mut request = b"POST /echo-trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\nConnection: close\r\n\r\n".to_vec();
    request.extend(chunked(b"payload", 3, "checksum: 99\r\n"));
    let raw = exchange(server.addr, &request);
    assert_eq!(raw.status, 200);
    assert!(raw.is_chunked());
    let (body, trailers) = raw.body();
    assert_eq!(body, b"payload");
    assert_eq!(trailers, [("x-got-checksum".to_string(), "99".to_string())]);
}

fn trailers_both_ways_h2(rt: Rt) {
    let server = Server::start(rt, app());
    with_h2_client(server.addr, |client| async move {
        let (mut tx, body) = sockless_rt::Body::channel();
        let head = RequestHead::new(Method::Post, format!("http://{}/echo-trailers", server.addr));
        let response = client.send(sockless_rt::Request::new(head, body));
        let sending = async move {
            tx.send(Bytes::from_static(b"over h2")).await.unwrap();
            tx.send_trailers(HeaderList::new().with("checksum", "7"));
        };
        let (response, ()) = tokio::join!(response, sending);
        let mut response = response.unwrap();
        assert_eq!(response.head.status, 200);
        let mut body = Vec::new();
        while let Some(chunk) = response.body.next_chunk().await {
            body.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(body, b"over h2");
        let trailers = response.body.trailers().expect("trailers");
        assert_eq!(trailers.get("x-got-checksum"), Some(&b"7"[..]));
    });
}

const TWO_MB: usize = 2 * 1024 * 1024;

fn post_len(addr: std::net::SocketAddr, path: &str, len: usize) -> Raw {
    let head = format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n");
    upload(addr, head, vec![b'x'; len])
}

fn default_body_limit(rt: Rt) {
    let server = Server::start(rt, app());
    let at_limit = post_len(server.addr, "/upload", TWO_MB);
    assert_eq!((at_limit.status, at_limit.text()), (200, TWO_MB.to_string()));
    assert_eq!(post_len(server.addr, "/upload", TWO_MB + 1).status, 413);
    // The same over the limit without a declared length: found while reading.
    let head = "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let streamed = upload(server.addr, head.to_string(), chunked(&vec![b'y'; TWO_MB + 100], 64 * 1024, ""));
    assert_eq!(streamed.status, 413);
    // DefaultBodyLimit::max(16) on one route, disable() on another.
    assert_eq!(post_len(server.addr, "/small", 16).text(), "16");
    assert_eq!(post_len(server.addr, "/small", 17).status, 413);
    let big = post_len(server.addr, "/unlimited", 3 * 1024 * 1024);
    assert_eq!((big.status, big.text()), (200, (3 * 1024 * 1024).to_string()));
}

fn trace_layer_sees_every_request(rt: Rt) {
    let requests = Arc::new(AtomicUsize::new(0));
    let statuses = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (seen, recorded) = (requests.clone(), statuses.clone());
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .on_request(move |_: &http::Request<Body>, _: &_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .on_response(move |res: &http::Response<Body>, _: std::time::Duration, _: &_| {
            recorded.lock().unwrap().push(res.status().as_u16());
        });
    let server = Server::start(rt, app().layer(trace));
    assert_eq!(get_raw(server.addr, "/", "").status, 200);
    assert_eq!(get_raw(server.addr, "/nowhere", "").status, 404);
    server.stop();
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    assert_eq!(*statuses.lock().unwrap(), [200, 404]);
}

/// Decompresses a gzip body the way a client would, with tower-http's
/// decompression on the client side.
fn gunzip(raw: &Raw) -> String {
    let (body, _) = raw.body();
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from(body)));
    for (name, value) in &raw.headers {
        response.headers_mut().append(http::HeaderName::try_from(name.as_str()).unwrap(), value.parse().unwrap());
    }
    let mut slot = Some(response);
    let client = tower::service_fn(move |_req: http::Request<()>| {
        let response = slot.take().expect("one request");
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let client = tower_http::decompression::Decompression::new(client);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(async move {
        let response = tower::ServiceExt::oneshot(client, http::Request::new(())).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    })
}

fn compression_layer_gzips_whole_and_streamed_bodies(rt: Rt) {
    let app = app()
        .layer(tower_http::compression::CompressionLayer::new().gzip(true).compress_when(|_, _, _: &_, _: &_| true));
    let server = Server::start(rt, app);
    for path in ["/", "/stream"] {
        let raw = get_raw(server.addr, path, "Accept-Encoding: gzip\r\n");
        assert_eq!(raw.status, 200, "{path}");
        assert_eq!(raw.header("content-encoding"), Some("gzip"), "{path}");
        if path == "/stream" {
            // Compressed as it streams: chunked.
            assert!(raw.is_chunked(), "{path}: {:?}", raw.headers);
        } else {
            // Compressed at once, whole: the length is known when the head goes out.
            assert_eq!(raw.header("content-length"), Some(raw.body().0.len().to_string().as_str()));
        }
        let expected = if path == "/" { "Hello, World!" } else { "one two three" };
        assert_eq!(gunzip(&raw), expected, "{path}");
    }
    let plain = get_raw(server.addr, "/", "");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.text(), "Hello, World!");
}

fn connection_fields_are_left_out_over_h2(rt: Rt) {
    let server = Server::start(rt, app());
    let addr = server.addr;
    with_h2_client(addr, |client| async move {
        let head = RequestHead::new(Method::Get, format!("http://{addr}/connection-fields"));
        let response = client.send(sockless_rt::Request::new(head, sockless_rt::Body::empty())).await.unwrap();
        assert_eq!(response.head.status, 200);
        assert_eq!(response.head.headers.get("connection"), None);
        assert_eq!(response.head.headers.get("x-kept"), Some(&b"1"[..]));
        assert_eq!(&response.body.collect(100).await.unwrap()[..], b"fields");
    });
}

/// Reads from `stream` until a whole head (up to its empty line) came.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    let mut bytes = Vec::new();
    let mut byte = [0u8; 1];
    while !bytes.ends_with(b"\r\n\r\n") {
        assert_eq!(std::io::Read::read(stream, &mut byte).unwrap(), 1, "closed after {bytes:?}");
        bytes.push(byte[0]);
    }
    String::from_utf8(bytes).unwrap()
}

fn continue_is_sent_only_when_the_body_is_read(rt: Rt) {
    use std::io::{Read, Write};
    let server = Server::start(rt, app());
    // The handler reads the body: the client is told to send it.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let head =
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).unwrap();
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 100 Continue\r\n"));
    stream.write_all(b"hello").unwrap();
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    let text = String::from_utf8(rest).unwrap();
    assert!(text.starts_with("HTTP/1.1 200") && text.ends_with("\r\n\r\n5"), "{text:?}");
    // Over the limit by its declared length: refused unread, no 100 first.
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        3 * TWO_MB
    );
    stream.write_all(head.as_bytes()).unwrap();
    assert!(read_head(&mut stream).starts_with("HTTP/1.1 413 "));
}

on_every_runtime!(
    connection_fields_are_left_out_over_h2,
    continue_is_sent_only_when_the_body_is_read,
    routes_and_fallback,
    head_keeps_content_length_and_sends_no_body,
    extractors_and_their_rejections,
    a_streamed_response_is_chunked,
    trailers_both_ways_h1,
    trailers_both_ways_h2,
    default_body_limit,
    trace_layer_sees_every_request,
    compression_layer_gzips_whole_and_streamed_bodies,
);
