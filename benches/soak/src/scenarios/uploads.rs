//! Defect 10.1: uploads in sequence on one h2c connection, each fully read
//! by the handler or cancelled mid-body; the connection window must come
//! back every time.

use crate::h2::{self, code, H2};
use crate::server::{Mode, Server};
use crate::{Ctx, Report};
use std::time::{Duration, Instant};

const UPLOAD: usize = 512 * 1024;
/// How long one upload may take before it counts as stalled.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The short pause between uploads the defect was reported with.
const PAUSE: Duration = Duration::from_millis(20);

/// One 512 KiB POST to `--echo`, its whole answer read.
fn full_upload(c: &mut H2, body: &[u8]) -> Result<(), String> {
    let length = body.len().to_string();
    let id = c.send_head("POST", "/", &[("content-length", &length)], false)?;
    let deadline = Instant::now() + UPLOAD_TIMEOUT;
    let sent = c.send_body(id, body, true, deadline)?;
    let seen = c.finish(id, deadline)?;
    c.forget(id);
    // The echo answer carries the body in base64: 4/3 of it and the JSON around.
    if sent != body.len() || seen.status != Some(200) || seen.body < body.len() * 4 / 3 {
        return Err(format!("sent {sent} of {} bytes, answer {seen:?}", body.len()));
    }
    Ok(())
}

/// Half of a 512 KiB POST, then RST_STREAM(CANCEL).
fn cancelled_upload(c: &mut H2, body: &[u8]) -> Result<(), String> {
    let length = body.len().to_string();
    let id = c.send_head("POST", "/", &[("content-length", &length)], false)?;
    c.send_body(id, &body[..body.len() / 2], false, Instant::now() + UPLOAD_TIMEOUT)?;
    c.send(&h2::rst_stream(id, code::CANCEL))?;
    c.forget(id);
    Ok(())
}

/// `n` uploads on one connection, each by `upload`, then one full upload
/// that must still go through.
fn sequence(
    ctx: &Ctx,
    r: &mut Report,
    what: &str,
    upload: fn(&mut H2, &[u8]) -> Result<(), String>,
) -> Result<(), String> {
    // 24 uploads are 12 MiB, three times the 4 MiB connection window.
    let n = ctx.pick(24, 200);
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Echo)?;
    let body = vec![b'u'; UPLOAD];
    let mut c = H2::connect(server.addr)?;
    let started = Instant::now();
    let mut done = 0;
    let mut failure = None;
    for i in 1..=n + 1 {
        let result = if i <= n { upload(&mut c, &body) } else { full_upload(&mut c, &body) };
        if let Err(e) = result {
            failure = Some(format!("upload {i}: {e}"));
            break;
        }
        done = i;
        std::thread::sleep(PAUSE);
    }
    r.bound(
        failure.is_none(),
        format!(
            "{} of {n} {what} 512 KiB uploads and the full one after them on one connection in {:.1} s{}",
            done.min(n),
            started.elapsed().as_secs_f64(),
            failure.map_or(String::new(), |f| format!(": {f}"))
        ),
    );
    server.check_alive()
}

/// Uploads fully read by the handler.
pub fn uploads_read(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    sequence(ctx, r, "fully read", full_upload)
}

/// Uploads cancelled mid-body with RST_STREAM.
pub fn uploads_cancelled(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    sequence(ctx, r, "cancelled", cancelled_upload)
}
