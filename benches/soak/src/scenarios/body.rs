//! Request bodies over the server's limit (4 MiB, `max_body_bytes`' default):
//! answered 413 without the server holding the body.

use crate::h2::H2;
use crate::measure::{growth_kib, warm_up, PeakRss};
use crate::server::{Mode, Server};
use crate::{h1, Ctx, Report};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const LIMIT: usize = 4 << 20;
/// Most RSS growth allowed while a too-large body arrives: the limit's worth
/// held by a handler that reads (the echo handler collects what it is given
/// in a `Vec` that doubles, so the old and the new buffer, up to twice the
/// limit, are touched while it grows past it), and the connection's own
/// buffers. Without an HTTP/2 body limit (item 10) the echo handler
/// collects its own 16 MiB, 11 MiB and more of growth.
const HELD_KIB: i64 = 5 * LIMIT as i64 / 2 / 1024;
const CHUNK: usize = 64 * 1024;

/// How a test body is framed.
#[derive(Clone, Copy, Debug)]
enum Framing {
    Length,
    Chunked,
}

/// POSTs `total` bytes over HTTP/1.1, the body written on a second thread
/// (it stops at the first write error: the server stopped reading or
/// closed) while this one reads the answer. Returns the status and the bytes
/// of body written.
fn upload_h1(addr: SocketAddr, total: usize, framing: Framing) -> Result<(u16, usize), String> {
    let mut client = h1::Client::connect(addr)?;
    let head = match framing {
        Framing::Length => format!("POST / HTTP/1.1\r\nHost: soak\r\nContent-Length: {total}\r\n\r\n"),
        Framing::Chunked => "POST / HTTP/1.1\r\nHost: soak\r\nTransfer-Encoding: chunked\r\n\r\n".to_string(),
    };
    client.stream.write_all(head.as_bytes()).map_err(|e| format!("write: {e}"))?;
    let mut writer = client.stream.try_clone().map_err(|e| e.to_string())?;
    let body = std::thread::spawn(move || {
        let chunk = vec![b'x'; CHUNK];
        let mut written = 0;
        let framed: Vec<u8> = match framing {
            Framing::Length => chunk,
            Framing::Chunked => [format!("{CHUNK:x}\r\n").as_bytes(), &chunk, b"\r\n"].concat(),
        };
        while written < total {
            if writer.write_all(&framed).is_err() {
                return written;
            }
            written += CHUNK;
        }
        if matches!(framing, Framing::Chunked) {
            let _ = writer.write_all(b"0\r\n\r\n");
        }
        written
    });
    let status = client.read_response().map(|resp| resp.status);
    let _ = client.stream.shutdown(std::net::Shutdown::Both);
    let written = body.join().map_err(|_| "the body thread panicked")?;
    Ok((status?, written))
}

/// POSTs `total` bytes on an h2c stream as flow control allows. Returns
/// the status (0 for a RST_STREAM without a response) and the bytes sent.
fn upload_h2(addr: SocketAddr, total: usize, framing: Framing) -> Result<(u16, usize), String> {
    let mut client = H2::connect(addr)?;
    let length = total.to_string();
    let extra: &[(&str, &str)] = match framing {
        Framing::Length => &[("content-length", &length)],
        Framing::Chunked => &[],
    };
    let id = client.send_head("POST", "/", extra, false)?;
    let chunk = vec![b'x'; CHUNK];
    let mut sent = 0;
    while sent < total {
        let n = client.send_body(id, &chunk, sent + CHUNK >= total, Instant::now() + h1::IO_TIMEOUT)?;
        sent += n;
        if n < CHUNK {
            break;
        }
    }
    let seen = client.finish(id, Instant::now() + h1::IO_TIMEOUT)?;
    Ok((seen.status.unwrap_or(0), sent))
}

/// Bodies of 64 MiB (256 MiB in the long form) with and without a declared
/// length, on HTTP/1.1 and h2c, to `serve --echo`: each gets 413 (item 10:
/// HTTP/2 too) and the server's RSS grows by less than twice the limit.
pub fn body_over_limit(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let total = ctx.pick(64 << 20, 256 << 20);
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Echo)?;
    warm_up(server.addr, 16)?;
    type Upload = fn(SocketAddr, usize, Framing) -> Result<(u16, usize), String>;
    let cases: [(&str, Upload, Framing); 4] = [
        ("HTTP/1.1 Content-Length", upload_h1, Framing::Length),
        ("HTTP/1.1 chunked", upload_h1, Framing::Chunked),
        ("h2c content-length", upload_h2, Framing::Length),
        ("h2c without length", upload_h2, Framing::Chunked),
    ];
    for (what, upload, framing) in cases {
        std::thread::sleep(Duration::from_millis(200));
        let before = server.rss_kib()?;
        let peak = PeakRss::start(&server)?;
        let result = upload(server.addr, total, framing);
        std::thread::sleep(Duration::from_millis(100));
        let peak = peak.stop();
        let grew = growth_kib(before, peak);
        match result {
            Ok((status, sent)) => {
                r.bound(
                    status == 413,
                    format!(
                        "{what}: a {} MiB body got {status} after {} KiB sent (bound: 413)",
                        total >> 20,
                        sent >> 10
                    ),
                );
                r.bound(
                    grew <= HELD_KIB,
                    format!("{what}: RSS {before} -> peak {peak} KiB: +{grew} KiB (bound <= {HELD_KIB} KiB)"),
                );
            }
            Err(e) => r.bound(false, format!("{what}: {e} (RSS +{grew} KiB)")),
        }
        server.check_alive()?;
    }
    let probe = h1::probe(server.addr);
    r.bound(probe == Ok(200), format!("a client afterwards: {probe:?}"));
    Ok(())
}
