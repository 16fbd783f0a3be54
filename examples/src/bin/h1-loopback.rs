//! The main demo until the async drivers land: a sockless-h1 server and a
//! sockless-h1 client, each on a ten-line blocking driver over real
//! loopback TCP, exchanging keep-alive, chunked, pipelined-size and hostile
//! traffic. Prints what ran and how long it took.

use sockless_core::{Bytes, Method, RequestHead, ResponseHead};
use sockless_examples::blocking::{serve, Client, Handler};
use std::io::{Read, Write};
use std::time::Instant;

struct Demo;

impl Handler for Demo {
    fn handle(&mut self, head: &RequestHead, body: &[u8]) -> (ResponseHead, Bytes) {
        match &head.target[..] {
            b"/hello" => {
                (ResponseHead::new(200).header("Content-Type", "text/plain"), Bytes::from_static(b"Hello, World!"))
            }
            b"/echo" => (
                ResponseHead::new(200).header("Content-Type", "application/octet-stream"),
                Bytes::copy_from_slice(body),
            ),
            _ => (ResponseHead::new(404), Bytes::from_static(b"not found")),
        }
    }
}

fn main() -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || serve(listener, || Demo));
    println!("sockless-h1 demo server on http://{addr}");
    println!("{:<44} {:>8} {:>12}", "what", "result", "time");

    let mut client = Client::connect(addr)?;
    let hello = RequestHead::new(Method::Get, "/hello").header("Host", addr.to_string());
    let t = Instant::now();
    let r = client.fetch(&hello, b"", 0)?;
    row("GET /hello", &format!("{} {}", r.head.status, String::from_utf8_lossy(&r.body)), t);

    let t = Instant::now();
    let n = 10_000;
    for _ in 0..n {
        let r = client.fetch(&hello, b"", 0)?;
        assert_eq!(r.body, b"Hello, World!");
    }
    let per = t.elapsed() / n;
    println!("{:<44} {:>8} {:>10.1?}/req", format!("{n} keep-alive GETs, one connection"), "ok", per);

    let body: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let echo = RequestHead::new(Method::Post, "/echo").header("Host", addr.to_string());
    let t = Instant::now();
    let r = client.fetch(&echo, &body, 16 * 1024)?;
    assert_eq!(r.body, body);
    row("POST /echo 1 MB chunked, echoed back", "ok", t);

    let t = Instant::now();
    let mut raw = std::net::TcpStream::connect(addr)?;
    raw.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    )?;
    let mut answer = String::new();
    raw.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default().to_string();
    row("smuggling attempt (CL + TE)", &status, t);

    println!("all exchanges completed");
    Ok(())
}

fn row(what: &str, result: &str, t: Instant) {
    println!("{what:<44} {result:>8} {:>12.1?}", t.elapsed());
}
