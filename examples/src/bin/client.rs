//! A client: sends GET requests for the given paths over one HTTP/2
//! connection, all at once, and prints each status and body.
//!
//! `cargo run -p sockless-examples --bin client -- 127.0.0.1:3000 / /users/7 /nowhere`
use sockless_core::{Instant, Method, RequestHead};
use sockless_rt::{Body, Request};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".into()).parse()?;
    let conn = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
    let client = sockless_tokio::connect(addr, conn).await?;
    let mut tasks = Vec::new();
    for path in args {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let request = Request::new(RequestHead::new(Method::Get, path), Body::empty());
            let response = client.send(request).await?;
            let body = response.body.collect(1 << 20).await?;
            Ok::<_, std::io::Error>((response.head.status, body))
        }));
    }
    for task in tasks {
        let (status, body) = task.await??;
        println!("{status} {}", String::from_utf8_lossy(&body).trim_end());
    }
    Ok(())
}
