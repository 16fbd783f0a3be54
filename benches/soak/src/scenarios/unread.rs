//! A client that pipelines requests and never reads the answers.

use crate::flood::flood;
use crate::measure::{growth_kib, warm_up, PeakRss};
use crate::server::{Mode, Server};
use crate::{h1, Ctx, Report};
use std::time::Duration;

/// Most RSS growth allowed while the unread answers pile up: what the
/// server may hold (16 pipelined requests, a 256 KiB send buffer, 72 KiB of
/// input) with room to spare.
const HELD_KIB: i64 = 2 * 1024;

/// 50 000 pipelined GETs (1 000 000 in the long form; the issue asks for
/// 10 000, which loopback's socket buffers take whole) written without reading: the server stops reading
/// when its output is backed up, its memory stays bounded, other clients are
/// served meanwhile, and once the client reads, every request it wrote whole
/// is answered.
pub fn pipelined_unread(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let n = ctx.pick(50_000, 1_000_000);
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    warm_up(server.addr, 16)?;
    let before = server.rss_kib()?;
    let peak = PeakRss::start(&server)?;
    let mut stream = h1::connect(server.addr)?;
    let (sent, end) = flood(&mut stream, std::iter::repeat_n(h1::GET.to_vec(), n), Duration::from_secs(2));
    let probe = h1::probe(server.addr);
    std::thread::sleep(Duration::from_millis(300));
    let peak = peak.stop();
    let grew = growth_kib(before, peak);
    r.figure(format!("wrote {sent} of {n} pipelined requests without reading ({end:?})"));
    r.bound(grew <= HELD_KIB, format!("RSS {before} -> peak {peak} KiB: +{grew} KiB (bound <= {HELD_KIB} KiB)"));
    r.bound(probe == Ok(200), format!("another client meanwhile: {probe:?} (bound: served)"));
    let mut reader = h1::Client::from_stream(stream);
    let mut answered = 0;
    while answered < sent {
        match reader.read_response() {
            Ok(resp) if resp.status == 200 => answered += 1,
            Ok(resp) => return Err(format!("pipelined answer {answered}: status {}", resp.status)),
            Err(e) => {
                r.figure(format!("reading the answers: {e}"));
                break;
            }
        }
    }
    r.bound(answered == sent, format!("{answered} of {sent} answered once the client read"));
    server.check_alive()
}
