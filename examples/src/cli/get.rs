//! `sockless get`: fetch URLs in order over one connection per origin,
//! streaming each body to stdout (or a file) as it arrives.

use super::args::{GetArgs, HttpVersion};
use super::{tls, Failure};
use bytes::Bytes;
use sockless_core::{Connection, Instant, Method, RequestHead, Version};
use sockless_rt::{Body, ClientHandle, Request};
use sockless_tokio::{TokioIo, TokioRuntime};
use std::collections::HashMap;
use std::io::Write;

/// A parsed `http` or `https` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub https: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

impl Url {
    /// Parses `scheme://host[:port][/path]`.
    pub fn parse(s: &str) -> Result<Url, Failure> {
        let bad = || Failure::new(3, format!("malformed URL {s}"));
        let (https, rest) = if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(Failure::new(1, format!("unsupported URL scheme in {s}")));
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = if path.is_empty() {
            "/".to_string()
        } else if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let default = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, rest) = v6.split_once(']').ok_or_else(bad)?;
            let port = match rest.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| bad())?,
                None => default,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad())?),
                None => (authority.to_string(), default),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Url { https, host, port, path })
    }

    /// `scheme://authority/path`, as the absolute-form target.
    pub fn absolute(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{}://{}:{}{}", if self.https { "https" } else { "http" }, host, self.port, self.path)
    }
}

/// `sockless get`.
pub fn run(args: GetArgs) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, e.to_string()))?;
    rt.block_on(async move {
        match args.max_time {
            Some(secs) => {
                let limit = std::time::Duration::from_secs_f64(secs.max(0.0));
                match tokio::time::timeout(limit, fetch_all(&args)).await {
                    Ok(r) => r,
                    Err(_) => Err(Failure::new(28, format!("operation timed out after {secs} s"))),
                }
            }
            None => fetch_all(&args).await,
        }
    })
}

async fn connect(url: &Url, args: &GetArgs) -> Result<ClientHandle, Failure> {
    let stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await.map_err(|e| {
        Failure::from_io(&std::io::Error::new(e.kind(), format!("connect to {}:{}: {e}", url.host, url.port)))
    })?;
    let _ = stream.set_nodelay(true);
    let h1 = sockless_h1::Config::client();
    let h2 = sockless_h2::Config::client();
    let conn: Box<dyn Connection + Send> = if url.https {
        let alpn: Vec<&[u8]> = match args.version {
            HttpVersion::Http11 => vec![sockless_tls::ALPN_HTTP11],
            HttpVersion::Http2PriorKnowledge => vec![sockless_tls::ALPN_H2],
            _ => vec![sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11],
        };
        let config = tls::client_config(&alpn, &[], args.insecure)?;
        let inner = move |hs: &sockless_tls::Handshake, now: Instant| {
            sockless_http::ClientConnection::for_alpn(h1, h2, now, hs.alpn.as_deref())
        };
        let t = sockless_tls::Tls::client(config, &url.host, Instant::ZERO, inner)
            .map_err(|e| Failure::new(35, e.to_string()))?;
        Box::new(t)
    } else {
        Box::new(match args.version {
            HttpVersion::Http2 => sockless_http::ClientConnection::h2c_upgrade(h1, h2, Instant::ZERO),
            HttpVersion::Http2PriorKnowledge => sockless_http::ClientConnection::prior_knowledge(h2, Instant::ZERO),
            _ => sockless_http::ClientConnection::http1(h1, Instant::ZERO),
        })
    };
    Ok(ClientHandle::spawn(&TokioRuntime::current(), TokioIo::tcp(stream), conn))
}

async fn fetch_all(args: &GetArgs) -> Result<(), Failure> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| Failure::new(23, format!("{}: {e}", path.display())))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut connections: HashMap<(bool, String, u16), ClientHandle> = HashMap::new();
    for raw in &args.urls {
        let url = Url::parse(raw)?;
        let key = (url.https, url.host.clone(), url.port);
        if !connections.contains_key(&key) {
            let handle = connect(&url, args).await?;
            connections.insert(key.clone(), handle);
        }
        let handle = &connections[&key];
        let method = match &args.method {
            Some(m) => Method::from_bytes(m.as_bytes()),
            None if args.data.is_some() => Method::Post,
            None => Method::Get,
        };
        let mut head =
            RequestHead::new(method, url.absolute()).header("user-agent", "sockless/0.1").header("accept", "*/*");
        for (n, v) in &args.headers {
            head.headers.push(n, v);
        }
        let body = match &args.data {
            Some(d) => {
                if !args.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
                    head.headers.push("content-length", d.len().to_string());
                }
                Body::from(Bytes::from(d.clone()))
            }
            None => Body::empty(),
        };
        let response = handle.send(Request::new(head, body)).await.map_err(|e| Failure::from_io(&e))?;
        let write_err = |e: std::io::Error| Failure::new(23, format!("write: {e}"));
        if args.include {
            let version = if response.head.version == Version::Http2 { "HTTP/2" } else { "HTTP/1.1" };
            let reason = String::from_utf8_lossy(&response.head.reason).into_owned();
            let reason = if reason.is_empty() {
                sockless_core::canonical_reason(response.head.status).to_string()
            } else {
                reason
            };
            let mut text = format!("{version} {} {reason}", response.head.status).trim_end().to_string();
            text.push_str("\r\n");
            for (n, v) in &response.head.headers {
                text.push_str(&format!("{}: {}\r\n", String::from_utf8_lossy(n), String::from_utf8_lossy(v)));
            }
            text.push_str("\r\n");
            out.write_all(text.as_bytes()).map_err(write_err)?;
        }
        let mut body = response.body;
        while let Some(chunk) = body.next_chunk().await {
            let chunk = chunk.map_err(|e| Failure::new(18, format!("{raw}: incomplete response body: {e}")))?;
            out.write_all(&chunk).map_err(write_err)?;
            out.flush().map_err(write_err)?;
        }
    }
    out.flush().map_err(|e| Failure::new(23, format!("write: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("https://example.com/a?b").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.path.as_str()), (true, "example.com", 443, "/a?b"));
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.path.as_str()), (8080, "/"));
        let u = Url::parse("http://[::1]:9000/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert_eq!(u.absolute(), "http://[::1]:9000/x");
        assert!(Url::parse("ftp://x").is_err());
    }
}
