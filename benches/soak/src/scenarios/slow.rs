//! Slowloris: many connections that send a header byte a second, while
//! ordinary keep-alive clients measure the throughput they still get.

use crate::measure::{throughput, warm_up};
use crate::server::{Mode, Server};
use crate::{h1, Ctx, Report};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Throughput ordinary clients must keep under attack.
const KEPT: f64 = 0.90;
/// What each slow connection starts with; then it trickles a header line.
const OPENING: &[u8] = b"GET / HTTP/1.1\r\nHost: soak\r\n";
const TRICKLE: &[u8] = b"X-Slow: y\r\n";

/// `k` connections, each sending one byte a second on a thread; a connection
/// the server closes (408 at its header-read timeout) is opened again.
struct Slowloris {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Result<u64, String>>,
}

impl Slowloris {
    fn start(addr: SocketAddr, k: usize) -> Result<Slowloris, String> {
        let open = move || -> Result<TcpStream, String> {
            let mut s = h1::connect(addr)?;
            s.write_all(OPENING).map_err(|e| format!("slowloris write: {e}"))?;
            Ok(s)
        };
        let mut conns = (0..k).map(|_| open()).collect::<Result<Vec<_>, _>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut reopened = 0;
            let mut tick = 0usize;
            while !flag.load(Ordering::Relaxed) {
                let second = Instant::now() + Duration::from_secs(1);
                let byte = [TRICKLE[tick % TRICKLE.len()]];
                for c in conns.iter_mut() {
                    if c.write_all(&byte).is_err() {
                        *c = open()?;
                        reopened += 1;
                    }
                }
                tick += 1;
                while Instant::now() < second && !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Ok(reopened)
        });
        Ok(Slowloris { stop, thread })
    }

    /// Stops the attack; how many connections had to be opened again.
    fn stop(self) -> Result<u64, String> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().map_err(|_| "the slowloris thread panicked")?
    }
}

/// K slowloris connections; ordinary clients keep at least 90 % of their
/// throughput (measured before and after the attack, their mean the
/// baseline). Throughput on a shared machine moves by itself, so the short
/// form tries three times and needs one attempt to hold the bound; an attack
/// that really starves clients fails all three.
pub fn slowloris(ctx: &Ctx, r: &mut Report) -> Result<(), String> {
    let k = ctx.pick(200, 1_000);
    let window = ctx.pick(Duration::from_secs(2), Duration::from_secs(5));
    let clients = 2;
    let mut server = Server::start(&ctx.server_exe, ctx.driver, Mode::Hello)?;
    warm_up(server.addr, 16)?;
    let mut best = 0.0f64;
    for attempt in 1..=ctx.pick(3, 1) {
        let before = throughput(server.addr, clients, window)?;
        let attack = Slowloris::start(server.addr, k)?;
        let during = throughput(server.addr, clients, window);
        let reopened = attack.stop()?;
        let during = during?;
        let after = throughput(server.addr, clients, window)?;
        let kept = during / ((before + after) / 2.0);
        best = best.max(kept);
        r.figure(format!(
            "attempt {attempt}: {clients} clients {before:.0} req/s before, {during:.0} with {k} slowloris connections \
             ({reopened} reopened), {after:.0} after: {:.0} % kept",
            kept * 100.0
        ));
        if best >= KEPT {
            break;
        }
    }
    r.bound(
        best >= KEPT,
        format!("throughput kept under slowloris: {:.0} % (bound >= {:.0} %)", best * 100.0, KEPT * 100.0),
    );
    server.check_alive()
}
