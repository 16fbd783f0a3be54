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

/// The parsed command.
#[derive(Clone, Debug)]
pub enum Command {
    /// `sockless serve`.
    Serve(ServeArgs),
    /// `sockless get`.
    Get(GetArgs),
    /// `sockless demo`.
    Demo,
}

/// The usage text.
pub const USAGE: &str = "usage:
  sockless serve [--addr 127.0.0.1:8080] [--driver tokio|smol|async-std|epoll] [--tls [--cert F --key F]]
                 [--echo | --hello | --dir PATH] [--threads N]
  sockless get URL... [-X METHOD] [-H 'Name: value']... [-d DATA | --data-file F] [-o FILE] [-i] [-k]
               [--http1.1 | --http2 | --http2-prior-knowledge] [--max-time SECS]
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
        "demo" => Ok(Command::Demo),
        "-h" | "--help" | "help" => Err(Failure::new(0, USAGE)),
        other => Err(usage(format!("unknown command {other}"))),
    }
}
