//! HTTP/2 attacks from a raw-socket client: each must end in the answer RFC
//! 9113 and the CVEs' fixes call for (GOAWAY ENHANCE_YOUR_CALM, or
//! PROTOCOL_ERROR), with the server's memory bounded and other clients
//! served.

use crate::flood::flood;
use crate::h2::{self, code, flag, kind, H2};
use crate::measure::{growth_kib, warm_up, PeakRss};
use crate::server::{Mode, Server};
use crate::{h1, Ctx, Report};
use std::time::{Duration, Instant};

/// Most RSS growth an attack may cause: the connection's own buffers (1 MiB
/// send buffer, 64 KiB input, 1 000 queued control frames) and room to spare.
const HELD_KIB: i64 = 4 * 1024;
/// How long the flood may find the server not reading before it stops (a
/// pause of a loaded machine that stops it early only shortens the flood).
const STALL: Duration = Duration::from_millis(500);

/// The answers an attack may get.
fn calm(goaway: Option<(u32, u32)>) -> bool {
    matches!(goaway, Some((_, code::ENHANCE_YOUR_CALM | code::PROTOCOL_ERROR)))
}

/// How the attacking connection ended, as far as the client could see.
fn describe(c: &H2) -> String {
    match c.goaway {
        Some((last, code)) => format!("GOAWAY {} (last stream {last})", h2::code_name(code)),
        None if c.reset_by_peer => "reset by the server, no GOAWAY readable (closed with unread input?)".to_string(),
        None => "no GOAWAY".to_string(),
    }
}

/// Runs `attack` on a fresh `serve --hello` and checks what every attack
/// must leave behind: bounded memory, a live server serving new clients on
/// both protocols.
fn attack(
    ctx: &Ctx,
    r: &mut Report,
    attack: impl FnOnce(&Server, &mut Report) -> Result<(), String>,
) -> Result<(), String> {
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    warm_up(server.addr, 16)?;
    let before = server.rss_kib()?;
    let peak = PeakRss::start(&server)?;
    let outcome = attack(&server, r);
    let peak = peak.stop();
    outcome?;
    server.check_alive()?;
    let grew = growth_kib(before, peak);
    r.bound(grew <= HELD_KIB, format!("RSS {before} -> peak {peak} KiB: +{grew} KiB (bound <= {HELD_KIB} KiB)"));
    let h1_probe = h1::probe(server.addr);
    let h2_probe = H2::connect(server.addr).and_then(|mut c| c.get("/")).map(|s| s.status);
    r.bound(
        h1_probe == Ok(200) && h2_probe == Ok(Some(200)),
        format!("new clients afterwards: HTTP/1.1 {h1_probe:?}, h2c {h2_probe:?}"),
    );
    Ok(())
}

/// CVE-2023-44487: HEADERS then RST_STREAM(CANCEL), stream after stream,
/// written without reading.
pub fn rapid_reset(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let n = ctx.pick(1_000, 100_000);
    attack(ctx, r, |server, r| {
        let mut c = H2::connect(server.addr)?;
        let mut frames = Vec::with_capacity(2 * n);
        for i in 0..n as u32 {
            let id = 1 + 2 * i;
            let block = c.head_block("GET", "/", &[]);
            frames.push(h2::frame(kind::HEADERS, flag::END_HEADERS | flag::END_STREAM, id, &block));
            frames.push(h2::rst_stream(id, code::CANCEL));
        }
        let (sent, end) = flood(&mut c.stream, frames.into_iter(), STALL);
        c.read_until(Instant::now() + h1::IO_TIMEOUT, |c| c.goaway.is_some())?;
        let answered = c.seen.values().filter(|s| s.status.is_some()).count();
        r.bound(
            calm(c.goaway),
            format!(
                "{} of {n} HEADERS+RST_STREAM pairs written ({end:?}), {answered} answered: {}",
                sent / 2,
                describe(&c)
            ),
        );
        Ok(())
    })
}

/// CVE-2024-27316: one HEADERS without END_HEADERS, then CONTINUATION
/// frames of 16 bytes without end, the field block a single literal whose
/// value never finishes.
pub fn continuation_flood(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let n = ctx.pick(10_000u32, 1_000_000);
    attack(ctx, r, |server, r| {
        let mut c = H2::connect(server.addr)?;
        let mut block = c.head_block("GET", "/", &[]);
        // Literal without indexing, new name "x-flood", a value of 16 * n bytes
        // (RFC 7541 sections 6.2.2 and 5.1: a 7-bit prefix integer).
        block.extend_from_slice(&[0x00, 7]);
        block.extend_from_slice(b"x-flood");
        let mut len = 16 * n;
        block.push(0x7f);
        len -= 0x7f;
        while len >= 0x80 {
            block.push((len & 0x7f) as u8 | 0x80);
            len >>= 7;
        }
        block.push(len as u8);
        let id = c.next_stream_id();
        let first = h2::frame(kind::HEADERS, flag::END_STREAM, id, &block);
        let piece = [b'a'; 16];
        let rest = (0..n).map(move |_| h2::frame(kind::CONTINUATION, 0, id, &piece));
        let (sent, end) = flood(&mut c.stream, std::iter::once(first).chain(rest), STALL);
        c.read_until(Instant::now() + h1::IO_TIMEOUT, |c| c.goaway.is_some())?;
        r.bound(
            calm(c.goaway),
            format!("{} of {n} CONTINUATION frames written ({end:?}): {}", sent.saturating_sub(1), describe(&c)),
        );
        Ok(())
    })
}

/// A PING or SETTINGS flood written without reading the acknowledgements.
/// Either the server calls it a flood (GOAWAY ENHANCE_YOUR_CALM once too
/// many acknowledgements are queued) or it keeps up; then every frame is
/// acknowledged once the client reads, and the connection still serves.
fn control_flood(ctx: &Ctx, r: &mut Report, frame_kind: u8) -> Result<(), String> {
    // Both forms send enough to fill loopback's buffers (about 500 000
    // PINGs), so that the server stops reading and its queue limit is reached.
    let n = 1_000_000u64;
    attack(ctx, r, |server, r| {
        let mut c = H2::connect(server.addr)?;
        let acks_before = c.settings_acks;
        let frames = (0..n).map(move |i| match frame_kind {
            kind::PING => h2::ping(i.to_be_bytes()),
            _ => h2::settings(&[]),
        });
        let (sent, end) = flood(&mut c.stream, frames, STALL);
        let acks = move |c: &H2| match frame_kind {
            kind::PING => c.ping_acks,
            _ => c.settings_acks - acks_before,
        };
        c.read_until(Instant::now() + Duration::from_secs(10), |c| c.goaway.is_some() || acks(c) >= sent)?;
        let name = if frame_kind == kind::PING { "PING" } else { "SETTINGS" };
        let what =
            format!("{sent} of {n} {name} frames written ({end:?}), {} acknowledged: {}", acks(&c), describe(&c));
        if c.goaway.is_some() {
            r.bound(matches!(c.goaway, Some((_, code::ENHANCE_YOUR_CALM))), what);
        } else {
            let still = c.get("/").map(|s| s.status);
            r.bound(
                acks(&c) == sent && still == Ok(Some(200)),
                format!("{what}; the connection afterwards: {still:?}"),
            );
        }
        Ok(())
    })
}

/// PING flood.
pub fn ping_flood(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    control_flood(ctx, r, kind::PING)
}

/// SETTINGS flood (empty SETTINGS frames, each owed an acknowledgement).
pub fn settings_flood(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    control_flood(ctx, r, kind::SETTINGS)
}
