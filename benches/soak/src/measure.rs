//! Measuring the server from outside: its memory over time, and the
//! throughput of ordinary keep-alive clients.

use crate::server::{rss_kib, Server};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Samples the server's RSS every 20 ms on a thread until stopped; the
/// peak is what a body that was buffered and freed again would show.
pub struct PeakRss {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl PeakRss {
    /// Starts sampling `server`.
    pub fn start(server: &Server) -> Result<PeakRss, String> {
        let pid_rss = server.rss_kib()?;
        let pid = server.pid();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = pid_rss;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_kib(pid) {
                    peak = peak.max(rss);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        Ok(PeakRss { stop, thread })
    }

    /// Stops sampling; the highest RSS seen, KiB.
    pub fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// Warms the server up: `n` connections open at once, one GET each, then
/// closed, so that every worker thread has touched its allocator arena and
/// the runtime its first-use structures before a baseline is taken.
pub fn warm_up(addr: SocketAddr, n: usize) -> Result<(), String> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = crate::h1::Client::connect(addr)?;
        c.get()?;
        conns.push(c);
    }
    drop(conns);
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// Requests per second that `connections` keep-alive HTTP/1.1 clients (one
/// thread each, GET / in a loop, reconnecting when the server closes) get in
/// `window`.
pub fn throughput(addr: SocketAddr, connections: usize, window: Duration) -> Result<f64, String> {
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + window;
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let done = done.clone();
            std::thread::spawn(move || -> Result<(), String> {
                let mut client = crate::h1::Client::connect(addr)?;
                while Instant::now() < deadline {
                    let r = client.get()?;
                    if r.status != 200 {
                        return Err(format!("status {}", r.status));
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                    if r.close {
                        client = crate::h1::Client::connect(addr)?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().map_err(|_| "a client thread panicked")??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / window.as_secs_f64())
}

/// `after - before` KiB as a signed figure (RSS can shrink).
pub fn growth_kib(before: u64, after: u64) -> i64 {
    after as i64 - before as i64
}
