//! Idle connections: what each costs the server, that the idle timers close
//! them on time, and that a new client is served at the connection ceiling.

use crate::h1::{self, Client};
use crate::h2::{self, H2};
use crate::measure::{growth_kib, warm_up};
use crate::server::{Mode, Server};
use crate::{Ctx, Report};
use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Item 9's goal for an idle HTTP/1.1 keep-alive connection, bytes.
const H1_GOAL: i64 = 2 * 1024;
/// Item 9's goal for an idle h2c connection, bytes.
const H2C_GOAL: i64 = 8 * 1024;
/// What the suite fails on for an idle HTTP/1.1 connection, bytes: not the
/// goal (missed today on the async drivers: 5-12 KiB with the runtimes' own
/// per-socket state), but a ceiling above today's figures that a leak or a
/// buffer kept per idle connection (4 KiB and more) breaks.
const H1_CEILING: i64 = 16 * 1024;
/// The same regression ceiling for an idle h2c connection (today 15-25 KiB).
const H2C_CEILING: i64 = 40 * 1024;
/// `ServerOptions::max_connections`' default (`serve` has no flag for it).
const CEILING: usize = 10_000;
/// HTTP/1.1's header-read timeout, which also closes a connection that
/// never sends a byte (sockless-h1 `Config::server`; no `serve` flag).
const H1_FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/1.1's keep-alive idle timeout (no `serve` flag).
const H1_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How late a timer may close: the server's timers, the scheduler of a
/// shared machine, a burst of connections overflowing the listen backlog (the
/// kernel then completes some handshakes on the server's side a second or
/// more later, and their timers start then) and the watcher's polling.
const SLACK: Duration = Duration::from_secs(5);

fn open_h1(server: &Server, n: usize) -> Result<Vec<TcpStream>, String> {
    (0..n)
        .map(|i| {
            let mut c = Client::connect(server.addr)?;
            let r = c.get().map_err(|e| format!("idle HTTP/1.1 connection {i}: {e}"))?;
            if r.status != 200 {
                return Err(format!("idle HTTP/1.1 connection {i}: status {}", r.status));
            }
            Ok(c.stream)
        })
        .collect()
}

fn open_h2c(server: &Server, n: usize) -> Result<Vec<TcpStream>, String> {
    (0..n)
        .map(|i| {
            let mut c = H2::connect(server.addr).map_err(|e| format!("idle h2c connection {i}: {e}"))?;
            let r = c.get("/").map_err(|e| format!("idle h2c connection {i}: {e}"))?;
            if r.status != Some(200) {
                return Err(format!("idle h2c connection {i}: {r:?}"));
            }
            Ok(c.stream)
        })
        .collect()
}

/// Opens `n` connections with `open`, holds them, and reports the server's
/// RSS per connection against `goal` bytes.
fn per_connection(
    r: &mut Report,
    server: &mut Server,
    what: &str,
    n: usize,
    goal: i64,
    ceiling: i64,
    open: fn(&Server, usize) -> Result<Vec<TcpStream>, String>,
) -> Result<Vec<TcpStream>, String> {
    warm_up(server.addr, 64)?;
    let before = server.rss_kib()?;
    let started = Instant::now();
    let mut conns = open(server, n)?;
    let opened = started.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let after = server.rss_kib()?;
    let each = growth_kib(before, after) * 1024 / n as i64;
    let figure = format!(
        "{n} idle {what} connections (opened in {:.1} s): {each} B each (RSS {before} -> {after} KiB)",
        opened.as_secs_f64()
    );
    r.goal(each <= goal, format!("{figure}, goal <= {} KiB", goal / 1024));
    r.bound(each <= ceiling, format!("{figure}, regression ceiling <= {} KiB", ceiling / 1024));
    let mut closed = 0;
    for c in conns.iter_mut() {
        closed += h1::is_closed(c)? as usize;
    }
    r.bound(closed == 0, format!("{closed} of {n} closed by the server while measuring"));
    server.check_alive()?;
    Ok(conns)
}

/// N idle HTTP/1.1 keep-alive connections (each after one request).
pub fn idle_h1(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    // The long form stays below the ceiling; `ceiling` fills it.
    per_connection(r, &mut server, "HTTP/1.1 keep-alive", ctx.pick(500, CEILING - 100), H1_GOAL, H1_CEILING, open_h1)?;
    Ok(())
}

/// M idle h2c connections (each after one request).
pub fn idle_h2c(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    per_connection(r, &mut server, "h2c", ctx.pick(200, 2_000), H2C_GOAL, H2C_CEILING, open_h2c)?;
    Ok(())
}

/// A connection being watched for the server closing it.
struct Watched {
    stream: TcpStream,
    /// Bytes that arrived while idle (a GOAWAY before an h2c close).
    received: Vec<u8>,
    closed_after: Option<Duration>,
}

/// Polls every connection every 200 ms until all are closed or `until`
/// has passed since `start`.
fn watch(conns: &mut [Watched], start: Instant, until: Duration) -> Result<(), String> {
    for c in conns.iter_mut() {
        c.stream.set_nonblocking(true).map_err(|e| e.to_string())?;
    }
    let mut chunk = [0u8; 1024];
    while start.elapsed() < until && conns.iter().any(|c| c.closed_after.is_none()) {
        for c in conns.iter_mut().filter(|c| c.closed_after.is_none()) {
            loop {
                match c.stream.read(&mut chunk) {
                    Ok(0) => c.closed_after = Some(start.elapsed()),
                    Ok(n) => {
                        c.received.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => c.closed_after = Some(start.elapsed()),
                }
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// Checks the closing times of `conns` against `[earliest, latest]`; `None`
/// for `latest` means "must still be open".
fn judge(r: &mut Report, what: &str, conns: &[Watched], earliest: Duration, latest: Option<Duration>) {
    let n = conns.len();
    let closed: Vec<Duration> = conns.iter().filter_map(|c| c.closed_after).collect();
    let first = closed.iter().min().map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
    let last = closed.iter().max().map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
    match latest {
        Some(latest) => r.bound(
            closed.len() == n && closed.iter().all(|d| *d >= earliest && *d <= latest),
            format!(
                "{what}: {} of {n} closed, first at {first}, last at {last} (expected between {:.0} and {:.0} s)",
                closed.len(),
                earliest.as_secs_f64(),
                latest.as_secs_f64()
            ),
        ),
        None => r.bound(
            closed.is_empty(),
            format!(
                "{what}: {} of {n} closed before {:.0} s (first at {first}); expected none",
                closed.len(),
                earliest.as_secs_f64()
            ),
        ),
    }
}

/// The idle timers: connections that never send a byte close at the
/// header-read timeout; keep-alive HTTP/1.1 at the idle timeout; h2c (item
/// 8) with a GOAWAY within the same time. The short form waits only for the
/// first (12 s) and checks the others are not closed early.
pub fn idle_timeouts(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    let wrap = |streams: Vec<TcpStream>| -> Vec<Watched> {
        streams.into_iter().map(|stream| Watched { stream, received: Vec::new(), closed_after: None }).collect()
    };
    let start = Instant::now();
    let silent: Result<Vec<_>, String> = (0..ctx.pick(100, 1_000)).map(|_| h1::connect(server.addr)).collect();
    let mut silent = wrap(silent?);
    let silent_latest = H1_FIRST_REQUEST_TIMEOUT + start.elapsed() + SLACK;
    let keep_alive_start = Instant::now();
    let mut keep_alive = wrap(open_h1(&server, ctx.pick(100, 5_000))?);
    let mut h2c = wrap(open_h2c(&server, ctx.pick(100, 2_000))?);
    let opened = keep_alive_start.elapsed();
    r.figure(format!(
        "{} silent, {} keep-alive HTTP/1.1 and {} h2c connections open (keep-alive ones opened in {:.1} s)",
        silent.len(),
        keep_alive.len(),
        h2c.len(),
        opened.as_secs_f64()
    ));
    watch(&mut silent, start, silent_latest)?;
    judge(r, "silent connections (header-read timeout 10 s)", &silent, H1_FIRST_REQUEST_TIMEOUT, Some(silent_latest));
    if !ctx.long {
        watch(&mut keep_alive, keep_alive_start, Duration::ZERO)?;
        watch(&mut h2c, keep_alive_start, Duration::ZERO)?;
        judge(r, "keep-alive HTTP/1.1 (idle timeout 60 s)", &keep_alive, keep_alive_start.elapsed(), None);
        judge(r, "idle h2c", &h2c, keep_alive_start.elapsed(), None);
        r.figure("the keep-alive and h2c idle timeouts (60 s) are checked by the long form only: `serve` has no flag to shorten them");
        return Ok(());
    }
    // Both kinds are watched at once. Every connection's timer starts at its
    // answer, so none may close before 60 s from the first opening, and all
    // must have closed by 60 s after the last one opened. h2c has no timeout
    // of its own yet (item 8); it is held to HTTP/1.1's.
    let latest = H1_IDLE_TIMEOUT + opened + SLACK;
    let h2c_count = h2c.len();
    let mut all: Vec<Watched> = keep_alive.drain(..).chain(h2c.drain(..)).collect();
    // Silent connections the header-read timeout missed are watched on, to
    // say when (or whether) they closed at all.
    let late_silent: Vec<Watched> = silent.into_iter().filter(|c| c.closed_after.is_none()).collect();
    let late_count = late_silent.len();
    all.extend(late_silent);
    watch(&mut all, keep_alive_start, latest)?;
    let late_silent = all.split_off(all.len() - late_count);
    if late_count > 0 {
        let closed: Vec<Duration> = late_silent.iter().filter_map(|c| c.closed_after).collect();
        let last = closed.iter().max().map_or("-".to_string(), |d| {
            format!("{:.1} s", d.as_secs_f64() + (keep_alive_start - start).as_secs_f64())
        });
        r.figure(format!(
            "the {late_count} late silent connections: {} closed by {:.0} s, the last at {last}",
            closed.len(),
            (latest + (keep_alive_start - start)).as_secs_f64()
        ));
    }
    let h2c = all.split_off(all.len() - h2c_count);
    let earliest = H1_IDLE_TIMEOUT - Duration::from_secs(1);
    judge(r, "keep-alive HTTP/1.1 (idle timeout 60 s)", &all, earliest, Some(latest));
    judge(r, "idle h2c (item 8: an idle timeout like HTTP/1.1's)", &h2c, earliest, Some(latest));
    let closed = h2c.iter().filter(|c| c.closed_after.is_some()).count();
    let goaways = h2c.iter().filter(|c| c.closed_after.is_some() && first_frame_is_goaway(&c.received)).count();
    r.bound(goaways == closed, format!("{goaways} of {closed} closed h2c connections got a GOAWAY first"));
    Ok(())
}

fn first_frame_is_goaway(bytes: &[u8]) -> bool {
    bytes.len() >= 9 && bytes[3] == h2::kind::GOAWAY
}

/// At the connection ceiling (10 000, `ServerOptions`' default) full of
/// idle keep-alive connections (and h2c in the long form), a new client is
/// still served (item 8: the longest-idle connections make room).
pub fn ceiling(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    let h2c_count = ctx.pick(0, 2_000);
    let started = Instant::now();
    let mut held = open_h1(&server, CEILING - h2c_count)?;
    held.extend(open_h2c(&server, h2c_count)?);
    r.figure(format!(
        "{} idle HTTP/1.1 and {h2c_count} idle h2c connections hold the ceiling ({:.1} s to open), RSS {} KiB",
        CEILING - h2c_count,
        started.elapsed().as_secs_f64(),
        server.rss_kib()?
    ));
    let asked = Instant::now();
    let served = h1::probe(server.addr);
    r.bound(
        served == Ok(200),
        format!(
            "a new HTTP/1.1 client at the ceiling: {served:?} after {:.1} s (bound: served within 5 s)",
            asked.elapsed().as_secs_f64()
        ),
    );
    let asked = Instant::now();
    let served = H2::connect(server.addr).and_then(|mut c| c.get("/")).map(|s| s.status);
    r.bound(
        served == Ok(Some(200)),
        format!(
            "a new h2c client at the ceiling: {served:?} after {:.1} s (bound: served within 5 s)",
            asked.elapsed().as_secs_f64()
        ),
    );
    drop(held);
    Ok(())
}
