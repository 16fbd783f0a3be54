//! A WebSocket echo server: an axum route that answers the handshake with
//! `101 Switching Protocols` and, once the driver handed the connection over
//! (sockless-tower's [`Upgrade`] extension), speaks WebSocket on it with
//! tungstenite.
//!
//! ```text
//! cargo run -p sockless-tower --example websocket_echo -- [--runtime tokio|smol] [--addr 127.0.0.1:3001]
//! # then, with any WebSocket client: ws://127.0.0.1:3001/ws  (every message comes back)
//! ```
//!
//! axum's own `WebSocketUpgrade` extractor needs hyper's private upgrade
//! type and answers `426` on sockless; this is what to write instead.

use axum::extract::Extension;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sockless_rt::{Io, Runtime, Upgraded};
use sockless_tower::Upgrade;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::task::{Context, Poll, Waker};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

/// The application: `/ws` echoes WebSocket messages; echo sessions run as
/// tasks on `rt`.
pub fn app<R: Runtime>(rt: R) -> Router {
    Router::new().route(
        "/ws",
        get(move |headers: HeaderMap, upgrade: Option<Extension<Upgrade>>| {
            let rt = rt.clone();
            async move { handshake(&rt, &headers, upgrade.map(|Extension(u)| u)) }
        }),
    )
}

/// Checks the client's handshake (RFC 6455 section 4.2.1), starts the echo
/// for when the `101` went out, and answers it.
fn handshake<R: Runtime>(rt: &R, headers: &HeaderMap, upgrade: Option<Upgrade>) -> Response {
    let has = |name: header::HeaderName, token: &str| {
        headers
            .get_all(name)
            .iter()
            .any(|v| v.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token))))
    };
    let key = headers.get(header::SEC_WEBSOCKET_KEY);
    let version_ok = headers.get(header::SEC_WEBSOCKET_VERSION).is_some_and(|v| v == "13");
    let (Some(upgrade), Some(key), true, true, true) =
        (upgrade, key, has(header::CONNECTION, "upgrade"), has(header::UPGRADE, "websocket"), version_ok)
    else {
        return (StatusCode::BAD_REQUEST, "a WebSocket handshake (HTTP/1.1 Upgrade: websocket) expected\n")
            .into_response();
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    rt.spawn(async move {
        if let Ok(transport) = upgrade.on().await {
            let _ = echo(transport).await;
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [(header::CONNECTION, "upgrade"), (header::UPGRADE, "websocket")],
        [(header::SEC_WEBSOCKET_ACCEPT, accept)],
    )
        .into_response()
}

/// Sends every text and binary message back until the client closes.
async fn echo(transport: Upgraded) -> tungstenite::Result<()> {
    let mut ws = WebSocket::from_raw_socket(Bridge { io: transport, waker: Waker::noop().clone() }, Role::Server, None);
    loop {
        let message = drive(&mut ws, WebSocket::read).await?;
        match message {
            Message::Text(_) | Message::Binary(_) => {
                // Queued whole (a `WouldBlock` here only means it is not out yet), then flushed.
                match ws.write(message) {
                    Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    other => other?,
                }
                drive(&mut ws, WebSocket::flush).await?
            }
            // tungstenite queued the close reply: send it, and the session is over.
            Message::Close(_) => return drive(&mut ws, WebSocket::flush).await.or(Ok(())),
            _ => {} // pings are answered by tungstenite itself
        }
    }
}

/// Runs a tungstenite call (one that may be made again: `read`, `flush`)
/// until it no longer wants to wait: tungstenite is synchronous, so the
/// transport says `WouldBlock` where the async one is pending, and the call
/// is made again when the task is woken.
async fn drive<T>(
    ws: &mut WebSocket<Bridge>,
    mut call: impl FnMut(&mut WebSocket<Bridge>) -> tungstenite::Result<T>,
) -> tungstenite::Result<T> {
    poll_fn(|cx| {
        ws.get_mut().waker = cx.waker().clone();
        match call(ws) {
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            other => Poll::Ready(other),
        }
    })
    .await
}

/// The upgraded transport as the blocking `Read + Write` tungstenite takes:
/// each call polls the transport with the waker of the task that drives it.
struct Bridge {
    io: Upgraded,
    waker: Waker,
}

impl Bridge {
    fn poll<T>(&mut self, f: impl FnOnce(&mut Upgraded, &mut Context<'_>) -> Poll<io::Result<T>>) -> io::Result<T> {
        let waker = self.waker.clone();
        match f(&mut self.io, &mut Context::from_waker(&waker)) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Read for Bridge {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.poll(|io, cx| io.poll_read(cx, buf))
    }
}

impl Write for Bridge {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.poll(|io, cx| io.poll_write_vectored(cx, &[io::IoSlice::new(buf)]))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.poll(|io, cx| io.poll_flush(cx))
    }
}

#[allow(dead_code)] // the tests include this file for `app` and run it themselves
fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:3001".parse().unwrap();
    let mut runtime = String::from("tokio");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value.parse().expect("--addr"),
            "--runtime" => runtime = value,
            other => panic!("unknown argument {other} (--runtime tokio|smol, --addr)"),
        }
    }
    // HTTP/1.1 only: WebSocket's handshake is an HTTP/1.1 upgrade.
    let make = |now| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
    let options = sockless_rt::ServerOptions::default();
    let listener = std::net::TcpListener::bind(addr)?;
    eprintln!("websocket_echo on {runtime}: ws://{}/ws", listener.local_addr()?);
    match runtime.as_str() {
        "smol" => smol::block_on(async move {
            let app = app(sockless_smol::SmolRuntime).with_state(());
            sockless_tower::serve(
                sockless_smol::SmolRuntime,
                sockless_smol::SmolListener::from_std(listener)?,
                make,
                app,
                options,
            )
            .await
        }),
        _ => tokio::runtime::Runtime::new()?.block_on(async move {
            listener.set_nonblocking(true)?;
            let rt = sockless_tokio::TokioRuntime::current();
            let listener = sockless_tokio::TokioListener(tokio::net::TcpListener::from_std(listener)?);
            sockless_tower::serve(rt.clone(), listener, make, app(rt).with_state(()), options).await
        }),
    }
}
