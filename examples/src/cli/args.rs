//! Hand-rolled argument parsing (the interface is small and stable).

use super::Failure;

/// Which runtime serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    /// tokio, multi-threaded.
    Tokio,
    /// smol.
    Smol,
    /// async-std (through the futures-io adapter).
    AsyncStd,
    /// No runtime: sockless-epoll's loop threads (Linux).
    Epoll,
    /// No runtime: sockless-uring's io_uring loop threads (Linux).
    Uring,
}

/// What `serve` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// 200 `Hello, World!`.
    Hello,
    /// 200 with a JSON description of the request.
    Echo,
    /// Files under a directory.
    Dir(std::path::PathBuf),
}

/// `sockless serve` options.
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Listen address.
    pub addr: std::net::SocketAddr,
    /// Runtime.
    pub driver: Driver,
    /// Serve HTTPS.
    pub tls: bool,
    /// Certificate chain (PEM).
    pub cert: Option<std::path::PathBuf>,
    /// Private key (PEM).
    pub key: Option<std::path::PathBuf>,
    /// What to answer.
    pub mode: Mode,
    /// Worker threads.
    pub threads: Option<usize>,
}

/// Which HTTP version `get` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    /// The default: HTTP/1.1 on http://, ALPN h2 or http/1.1 on https://.
    Default,
    /// `--http1.1`.
    Http11,
    /// `--http2`: h2c Upgrade on http://, ALPN on https://.
    Http2,
    /// `--http2-prior-knowledge`.
    Http2PriorKnowledge,
}

/// `sockless get` options.
#[derive(Clone, Debug)]
pub struct GetArgs {
    /// The URLs, fetched in order.
    pub urls: Vec<String>,
    /// `-X`.
    pub method: Option<String>,
    /// `-H 'Name: value'`.
    pub headers: Vec<(String, String)>,
    /// `-d` / `--data-file`.
    pub data: Option<Vec<u8>>,
    /// `-o`.
    pub output: Option<std::path::PathBuf>,
    /// `-i`.
    pub include: bool,
    /// `-k`.
    pub insecure: bool,
    /// The protocol choice.
    pub version: HttpVersion,
    /// `--max-time`.
    pub max_time: Option<f64>,
}

/// `sockless bench` options (h2load's names).
#[derive(Clone, Debug)]
pub struct BenchArgs {
    /// The URL every request goes to.
    pub url: String,
    /// `-c`: the connection cap (default 1).
    pub connections: usize,
    /// `-n`: requests in all (default 1, unless `-D`).
    pub requests: Option<u64>,
    /// `-D`: run for this long instead.
    pub duration: Option<std::time::Duration>,
    /// `-m`: concurrent streams per HTTP/2 connection (default 1).
    pub streams: usize,
    /// The protocol choice.
    pub version: HttpVersion,
    /// `-X`.
    pub method: Option<String>,
    /// `-d`.
    pub data: Option<Vec<u8>>,
    /// `-H 'Name: value'`.
    pub headers: Vec<(String, String)>,
    /// `-k`.
    pub insecure: bool,
    /// `-t`: runtime worker threads (default 1).
    pub threads: usize,
}

/// The parsed command.
#[derive(Clone, Debug)]
pub enum Command {
    /// `sockless serve`.
    Serve(ServeArgs),
    /// `sockless get`.
    Get(GetArgs),
    /// `sockless bench`.
    Bench(BenchArgs),
    /// `sockless demo`.
    Demo,
}

/// The usage text.
pub const USAGE: &str = "usage:
  sockless serve [--addr 127.0.0.1:8080] [--driver tokio|smol|async-std|epoll|uring] [--tls [--cert F --key F]]
                 [--echo | --hello | --dir PATH] [--threads N]
  sockless get URL... [-X METHOD] [-H 'Name: value']... [-d DATA | --data-file F] [-o FILE] [-i] [-k]
               [--http1.1 | --http2 | --http2-prior-knowledge] [--max-time SECS]
  sockless bench URL [-c CONNS] [-n REQUESTS | -D SECS] [-m STREAMS] [--http1.1 | --http2-prior-knowledge]
                 [-X METHOD] [-d DATA] [-H 'Name: value']... [-k] [-t THREADS]
  sockless demo";

fn usage(msg: impl std::fmt::Display) -> Failure {
    Failure::new(2, format!("{msg}\n{USAGE}"))
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, Failure> {
    let Some((cmd, rest)) = args.split_first() else { return Err(usage("missing command")) };
    let mut it = rest.iter();
    let value = |flag: &str, it: &mut std::slice::Iter<'_, String>| {
        it.next().cloned().ok_or_else(|| usage(format!("{flag} needs a value")))
    };
    match cmd.as_str() {
        "serve" => {
            let mut a = ServeArgs {
                addr: "127.0.0.1:8080".parse().expect("valid"),
                driver: Driver::Tokio,
                tls: false,
                cert: None,
                key: None,
                mode: Mode::Hello,
                threads: None,
            };
            while let Some(flag) = it.next() {
                match flag.as_str() {
                    "--addr" => a.addr = value(flag, &mut it)?.parse().map_err(|e| usage(format!("--addr: {e}")))?,
                    "--driver" => {
                        a.driver = match value(flag, &mut it)?.as_str() {
                            "tokio" => Driver::Tokio,
                            "smol" => Driver::Smol,
                            "async-std" => Driver::AsyncStd,
                            "epoll" => Driver::Epoll,
                            "uring" => Driver::Uring,
                            other => return Err(usage(format!("unknown driver {other}"))),
                        }
                    }
                    "--tls" => a.tls = true,
                    "--cert" => a.cert = Some(value(flag, &mut it)?.into()),
                    "--key" => a.key = Some(value(flag, &mut it)?.into()),
                    "--echo" => a.mode = Mode::Echo,
                    "--hello" => a.mode = Mode::Hello,
                    "--dir" => a.mode = Mode::Dir(value(flag, &mut it)?.into()),
                    "--threads" => {
                        a.threads = Some(value(flag, &mut it)?.parse().map_err(|e| usage(format!("--threads: {e}")))?)
                    }
                    other => return Err(usage(format!("unknown option {other}"))),
                }
            }
            if a.cert.is_some() != a.key.is_some() {
                return Err(usage("--cert and --key go together"));
            }
            Ok(Command::Serve(a))
        }
        "get" => {
            let mut a = GetArgs {
                urls: Vec::new(),
                method: None,
                headers: Vec::new(),
                data: None,
                output: None,
                include: false,
                insecure: false,
                version: HttpVersion::Default,
                max_time: None,
            };
            while let Some(flag) = it.next() {
                match flag.as_str() {
                    "-X" => a.method = Some(value(flag, &mut it)?),
                    "-H" => {
                        let h = value(flag, &mut it)?;
                        let (n, v) =
                            h.split_once(':').ok_or_else(|| usage(format!("-H {h}: expected 'Name: value'")))?;
                        a.headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                    "-d" => a.data = Some(value(flag, &mut it)?.into_bytes()),
                    "--data-file" => {
                        let f = value(flag, &mut it)?;
                        a.data = Some(std::fs::read(&f).map_err(|e| Failure::new(26, format!("{f}: {e}")))?);
                    }
                    "-o" => a.output = Some(value(flag, &mut it)?.into()),
                    "-i" => a.include = true,
                    "-k" => a.insecure = true,
                    "--http1.1" => a.version = HttpVersion::Http11,
                    "--http2" => a.version = HttpVersion::Http2,
                    "--http2-prior-knowledge" => a.version = HttpVersion::Http2PriorKnowledge,
                    "--max-time" => {
                        a.max_time = Some(value(flag, &mut it)?.parse().map_err(|e| usage(format!("--max-time: {e}")))?)
                    }
                    url if !url.starts_with('-') => a.urls.push(url.to_string()),
                    other => return Err(usage(format!("unknown option {other}"))),
                }
            }
            if a.urls.is_empty() {
                return Err(usage("get needs at least one URL"));
            }
            Ok(Command::Get(a))
        }
        "bench" => {
            let mut a = BenchArgs {
                url: String::new(),
                connections: 1,
                requests: None,
                duration: None,
                streams: 1,
                version: HttpVersion::Default,
                method: None,
                data: None,
                headers: Vec::new(),
                insecure: false,
                threads: 1,
            };
            let number = |flag: &str, v: String| v.parse::<u64>().map_err(|e| usage(format!("{flag}: {e}")));
            while let Some(flag) = it.next() {
                match flag.as_str() {
                    "-c" => a.connections = number(flag, value(flag, &mut it)?)? as usize,
                    "-n" => a.requests = Some(number(flag, value(flag, &mut it)?)?),
                    "-D" => {
                        let secs: f64 = value(flag, &mut it)?.parse().map_err(|e| usage(format!("-D: {e}")))?;
                        a.duration = Some(std::time::Duration::from_secs_f64(secs.max(0.0)));
                    }
                    "-m" => a.streams = number(flag, value(flag, &mut it)?)? as usize,
                    "-t" => a.threads = number(flag, value(flag, &mut it)?)? as usize,
                    "-X" => a.method = Some(value(flag, &mut it)?),
                    "-d" => a.data = Some(value(flag, &mut it)?.into_bytes()),
                    "-H" => {
                        let h = value(flag, &mut it)?;
                        let (n, v) =
                            h.split_once(':').ok_or_else(|| usage(format!("-H {h}: expected 'Name: value'")))?;
                        a.headers.push((n.trim().to_string(), v.trim().to_string()));
                    }
                    "-k" => a.insecure = true,
                    "--http1.1" => a.version = HttpVersion::Http11,
                    "--http2-prior-knowledge" => a.version = HttpVersion::Http2PriorKnowledge,
                    url if !url.starts_with('-') && a.url.is_empty() => a.url = url.to_string(),
                    other => return Err(usage(format!("unknown option {other}"))),
                }
            }
            if a.url.is_empty() {
                return Err(usage("bench needs a URL"));
            }
            if a.requests.is_some() && a.duration.is_some() {
                return Err(usage("-n and -D exclude each other"));
            }
            if a.duration.is_none() && a.requests.is_none() {
                a.requests = Some(1);
            }
            Ok(Command::Bench(a))
        }
        "demo" => Ok(Command::Demo),
        "-h" | "--help" | "help" => Err(Failure::new(0, USAGE)),
        other => Err(usage(format!("unknown command {other}"))),
    }
}
