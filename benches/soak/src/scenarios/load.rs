//! Many requests in a row: the server's memory stays flat after warm-up.

use crate::h2::H2;
use crate::measure::{growth_kib, warm_up};
use crate::server::{Mode, Server};
use crate::{h1, Ctx, Report};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most RSS growth allowed between the end of warm-up and the end.
const FLAT_KIB: i64 = 1024;
/// Requests on one connection before the client opens a new one, so that
/// connection set-up and tear-down are soaked too.
const PER_CONNECTION: u64 = 1_000;

/// Requests (two HTTP/1.1 keep-alive clients and one h2c client, each
/// reconnecting every 1 000) while the server's RSS is sampled at every
/// 5 %; after the first 20 % (warm-up) it must not grow by more than 1 MiB.
pub fn many_requests(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let total: u64 = ctx.pick(60_000, 1_000_000);
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    warm_up(server.addr, 16)?;
    let issued = Arc::new(AtomicU64::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let addr = server.addr;
    let claim = move |issued: &AtomicU64| issued.fetch_add(1, Ordering::Relaxed) < total;
    let mut threads = Vec::new();
    for _ in 0..2 {
        let (issued, answered) = (issued.clone(), answered.clone());
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let mut client = h1::Client::connect(addr)?;
            let mut on_this = 0;
            while claim(&issued) {
                if on_this == PER_CONNECTION {
                    client = h1::Client::connect(addr)?;
                    on_this = 0;
                }
                let resp = client.get()?;
                if resp.status != 200 {
                    return Err(format!("HTTP/1.1 status {}", resp.status));
                }
                on_this += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    {
        let (issued, answered) = (issued.clone(), answered.clone());
        threads.push(std::thread::spawn(move || -> Result<(), String> {
            let mut client = H2::connect(addr)?;
            let mut on_this = 0;
            while claim(&issued) {
                if on_this == PER_CONNECTION {
                    client = H2::connect(addr)?;
                    on_this = 0;
                }
                let resp = client.get("/")?;
                if resp.status != Some(200) {
                    return Err(format!("h2c answer {resp:?}"));
                }
                on_this += 1;
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    let mut samples: Vec<(u64, u64)> = Vec::new();
    let mut next = 0;
    while threads.iter().any(|t| !t.is_finished()) {
        let done = answered.load(Ordering::Relaxed);
        if done >= next * total / 20 {
            samples.push((done, server.rss_kib()?));
            next += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for t in threads {
        t.join().map_err(|_| "a client thread panicked")??;
    }
    samples.push((answered.load(Ordering::Relaxed), server.rss_kib()?));
    let elapsed = started.elapsed().as_secs_f64();
    let warm = samples.iter().find(|(done, _)| *done >= total / 5).copied().ok_or("no sample after warm-up")?;
    let peak = samples.iter().filter(|(done, _)| *done >= warm.0).map(|(_, rss)| *rss).max().unwrap_or(warm.1);
    let last = samples.last().map_or(0, |s| s.1);
    let grew = growth_kib(warm.1, peak);
    r.figure(format!(
        "{total} requests (2 HTTP/1.1 + 1 h2c clients, a new connection every {PER_CONNECTION}) in {elapsed:.1} s, {:.0} req/s",
        total as f64 / elapsed
    ));
    r.figure(format!(
        "RSS by requests answered: {}",
        samples.iter().map(|(d, rss)| format!("{d}:{rss}")).collect::<Vec<_>>().join(" ")
    ));
    r.bound(
        grew <= FLAT_KIB,
        format!(
            "RSS after warm-up ({} requests) {} KiB, highest after {peak} KiB, at the end {last} KiB: +{grew} KiB (bound <= {FLAT_KIB} KiB)",
            warm.0, warm.1
        ),
    );
    server.check_alive()
}
