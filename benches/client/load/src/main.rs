//! `client-load CLIENT URL TASKS CAP SECONDS [h2]`: TASKS tasks send GET after GET to URL for
//! SECONDS through CLIENT (`sockless` or `hyper`), with at most CAP connections where the
//! client can cap them (sockless: the hub's per-origin cap; hyper-util's legacy Client has no
//! cap on open connections, only on idle ones, which is set to CAP). With `h2`, both speak h2c
//! by prior knowledge. Optionally `SLOW_URL`: one more task sends one request there first (a
//! slow response) while the others run, to show it delays no one.
//! Prints one line: `req_s=… p50_ms=… p99_ms=… max_ms=… failed=… connects=…`.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone)]
enum Client {
    Sockless(sockless_tokio::Client),
    Hyper(hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>),
}

impl Client {
    async fn get(&self, url: &str) -> Result<usize, String> {
        match self {
            Client::Sockless(c) => {
                let r = c.get(url).await.map_err(|e| e.to_string())?;
                if r.status() != 200 {
                    return Err(format!("status {}", r.status()));
                }
                Ok(r.bytes(1 << 20).await.map_err(|e| e.to_string())?.len())
            }
            Client::Hyper(c) => {
                let uri: hyper::Uri = url.parse().map_err(|e: hyper::http::uri::InvalidUri| e.to_string())?;
                let r = c.get(uri).await.map_err(|e| e.to_string())?;
                if r.status() != 200 {
                    return Err(format!("status {}", r.status()));
                }
                Ok(r.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().len())
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, url, tasks, cap, secs, rest @ ..] = &args[..] else {
        eprintln!("usage: client-load sockless|hyper URL TASKS CAP SECONDS [h2] [SLOW_URL]");
        std::process::exit(2);
    };
    let tasks: usize = tasks.parse().expect("TASKS");
    let cap: usize = cap.parse().expect("CAP");
    let secs: f64 = secs.parse().expect("SECONDS");
    let h2 = rest.iter().any(|a| a == "h2");
    let slow = rest.iter().find(|a| a.starts_with("http")).cloned();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async move {
        let client = match kind.as_str() {
            "sockless" => {
                let mut config = sockless_rt::ClientConfig::default();
                config.hub.max_connections_per_origin = cap;
                if h2 {
                    config.version = sockless_rt::HttpVersion::Http2;
                }
                Client::Sockless(sockless_tokio::client_with(config).unwrap())
            }
            "hyper" => {
                let mut b = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
                b.pool_max_idle_per_host(cap);
                if h2 {
                    b.http2_only(true);
                }
                Client::Hyper(b.build_http())
            }
            other => panic!("unknown client {other}"),
        };
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let failed = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(Mutex::new(Vec::<u32>::new()));
        let started = Instant::now();
        let mut handles = Vec::new();
        if let Some(slow) = slow {
            let client = client.clone();
            handles.push(tokio::spawn(async move {
                let _ = client.get(&slow).await;
            }));
        }
        for _ in 0..tasks {
            let (client, url, failed, samples) = (client.clone(), url.clone(), failed.clone(), samples.clone());
            handles.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match client.get(&url).await {
                        Ok(_) => mine.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32),
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                samples.lock().unwrap().extend(mine);
            }));
        }
        for h in handles {
            let _ = h.await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        let mut s = std::mem::take(&mut *samples.lock().unwrap());
        s.sort_unstable();
        let pct = |q: f64| {
            if s.is_empty() {
                return 0.0;
            }
            let i = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1;
            f64::from(s[i]) / 1000.0
        };
        let connects = match &client {
            Client::Sockless(c) => c.stats().connects.to_string(),
            Client::Hyper(_) => "-".to_string(),
        };
        println!(
            "req_s={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} failed={} connects={}",
            s.len() as f64 / elapsed,
            pct(0.5),
            pct(0.99),
            s.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
            failed.load(Ordering::Relaxed),
            connects
        );
    });
}
