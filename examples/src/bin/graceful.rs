//! Graceful shutdown: on Ctrl-C (SIGINT) the server stops accepting, lets
//! the requests in flight finish, and returns.
//!
//! `cargo run -p sockless-examples --bin graceful [ADDR]`, `curl localhost:3000/` and Ctrl-C.
use sockless_core::ResponseHead;
use sockless_rt::{Request, Response, ServerOptions, ShutdownSignal};
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = ShutdownSignal::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            signal.trigger();
        }
    });
    let slow = |req: Request| async move {
        println!("handling {}", String::from_utf8_lossy(req.head.path()));
        tokio::time::sleep(Duration::from_millis(500)).await; // some work
        Response::new(ResponseHead::new(200), "finished\n")
    };
    let make = |now| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
    let options = ServerOptions { shutdown, drain_timeout: Duration::from_secs(10), ..Default::default() };
    sockless_tokio::serve(listener, make, slow, options).await?;
    println!("drained: every request answered");
    Ok(())
}
