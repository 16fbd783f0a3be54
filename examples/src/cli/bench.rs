//! `sockless bench`: a load generator on the hub's Client, reported like
//! h2load: req/s, a latency histogram (p50/p90/p99/max), status classes,
//! failures, and how many connections the hub opened.

use super::args::{BenchArgs, HttpVersion};
use super::{get, Failure};
use sockless_core::{Bytes, Method};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the workers count together.
#[derive(Default)]
struct Counters {
    started: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    bytes: AtomicU64,
    /// Status classes 1xx..5xx.
    status: [AtomicU64; 5],
}

/// The latency figures of a run.
#[derive(Debug, PartialEq)]
pub struct Latency {
    /// Fastest.
    pub min: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
    /// Mean.
    pub mean: Duration,
}

impl Latency {
    /// Figures of `samples` (microseconds, any order); `None` if empty.
    pub fn of(samples: &mut [u32]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let at = |q: f64| {
            let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
            Duration::from_micros(u64::from(samples[rank - 1]))
        };
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        Some(Latency {
            min: Duration::from_micros(u64::from(samples[0])),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: Duration::from_micros(u64::from(samples[samples.len() - 1])),
            mean: Duration::from_micros(sum / samples.len() as u64),
        })
    }
}

/// `sockless bench`.
pub fn run(args: BenchArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, e.to_string()))?;
    rt.block_on(bench(args))
}

async fn bench(args: BenchArgs) -> Result<(), Failure> {
    let mut config = get::client_config(args.version, args.insecure)?;
    config.hub.max_connections_per_origin = args.connections.max(1);
    // h2load's -m: streams per connection; HTTP/1.1 carries one at a time.
    config.hub.assumed_max_streams = args.streams.max(1) as u32;
    let client = sockless_tokio::client_with(config).map_err(|e| Failure::new(35, format!("TLS setup: {e}")))?;
    let multiplexed = args.version == HttpVersion::Http2PriorKnowledge || args.url.starts_with("https://");
    let per_conn = if multiplexed { args.streams.max(1) } else { 1 };
    let workers = args.connections.max(1) * per_conn;
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.as_bytes()),
        None if args.data.is_some() => Method::Post,
        None => Method::Get,
    };
    let data = args.data.clone().map(Bytes::from);
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<u32>::new()));
    let total = args.requests;
    let deadline = args.duration.map(|d| Instant::now() + d);
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal().then(|| {
        let (counters, stop) = (counters.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = counters.done.load(Ordering::Relaxed);
                let frac = match (total, deadline) {
                    (Some(n), _) if n > 0 => done as f64 / n as f64,
                    (_, Some(d)) => {
                        let whole = d.saturating_duration_since(started).as_secs_f64();
                        1.0 - d.saturating_duration_since(Instant::now()).as_secs_f64() / whole.max(1e-9)
                    }
                    _ => 0.0,
                };
                let frac = frac.clamp(0.0, 1.0);
                let bar = (frac * 30.0) as usize;
                eprint!("\r[{}{}] {:3.0}% {done} done", "#".repeat(bar), " ".repeat(30 - bar), frac * 100.0);
                let _ = std::io::stderr().flush();
            }
            eprint!("\r{}\r", " ".repeat(60));
        })
    });
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, counters, samples) = (client.clone(), counters.clone(), samples.clone());
        let (url, method, data, headers) = (args.url.clone(), method.clone(), data.clone(), args.headers.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let n = counters.started.fetch_add(1, Ordering::Relaxed);
                if total.is_some_and(|t| n >= t) {
                    break;
                }
                let t0 = Instant::now();
                let mut request = client.request(method.clone(), &url);
                for (name, value) in &headers {
                    request = request.header(name, value);
                }
                if let Some(d) = &data {
                    request = request.body(d.clone());
                }
                let outcome = match request.send().await {
                    Ok(response) => {
                        let class = usize::from(response.status() / 100).clamp(1, 5) - 1;
                        counters.status[class].fetch_add(1, Ordering::Relaxed);
                        response.bytes(usize::MAX).await.map(|b| b.len())
                    }
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(len) => {
                        counters.bytes.fetch_add(len as u64, Ordering::Relaxed);
                        let micros = t0.elapsed().as_micros();
                        mine.push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Err(_) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                counters.done.fetch_add(1, Ordering::Relaxed);
            }
            samples.lock().unwrap_or_else(|e| e.into_inner()).extend(mine);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    if let Some(p) = progress {
        let _ = p.await;
    }
    let done = counters.done.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    let bytes = counters.bytes.load(Ordering::Relaxed);
    let secs = elapsed.as_secs_f64().max(1e-9);
    let stats = client.stats();
    let mut out = String::new();
    out += &format!(
        "finished in {:.2}s, {:.2} req/s, {:.2}MB/s\n",
        secs,
        (done - failed) as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    out += &format!(
        "requests: {done} total, {done} done, {} succeeded, {failed} failed, {} retried\n",
        done - failed,
        stats.retries
    );
    let s: Vec<u64> = counters.status.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    out += &format!("status codes: {} 2xx, {} 3xx, {} 4xx, {} 5xx\n", s[1], s[2], s[3], s[4]);
    out += &format!("traffic: {bytes} bytes of response bodies\n");
    out += &format!("connections: {} opened (cap {}), {} workers\n", stats.connects, args.connections, workers);
    let mut all = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    if let Some(l) = Latency::of(&mut all) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        out += &format!(
            "latency (ms): min {:.3}  p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}  mean {:.3}\n",
            ms(l.min),
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max),
            ms(l.mean)
        );
    }
    print!("{out}");
    if done > 0 && failed == done {
        return Err(Failure::new(7, format!("all {done} requests failed")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut s: Vec<u32> = (1..=100).rev().collect();
        let l = Latency::of(&mut s).unwrap();
        let us = Duration::from_micros;
        assert_eq!((l.min, l.p50, l.p90, l.p99, l.max), (us(1), us(50), us(90), us(99), us(100)));
        assert_eq!(l.mean, us(50));
        assert!(Latency::of(&mut []).is_none());
    }
}
