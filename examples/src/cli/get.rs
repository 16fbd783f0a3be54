//! `sockless get`: fetch URLs in order on the hub's Client, streaming each
//! body to stdout (or a file) as it arrives. URLs to one origin share its
//! connections; one the server closed is replaced.

use super::args::{GetArgs, HttpVersion};
use super::{tls, Failure};
use sockless_core::{Bytes, Method, Version};
use sockless_rt::{ClientConfig, ClientError};
use std::io::Write;

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

/// The client configuration the flags ask for.
pub fn client_config(version: HttpVersion, insecure: bool) -> Result<ClientConfig, Failure> {
    let (version, alpn): (_, &[&[u8]]) = match version {
        HttpVersion::Http11 => (sockless_rt::HttpVersion::Http1, &[sockless_tls::ALPN_HTTP11]),
        HttpVersion::Http2PriorKnowledge => (sockless_rt::HttpVersion::Http2, &[sockless_tls::ALPN_H2]),
        HttpVersion::Http2 => {
            (sockless_rt::HttpVersion::H2cUpgrade, &[sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11])
        }
        HttpVersion::Default => {
            (sockless_rt::HttpVersion::Negotiate, &[sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11])
        }
    };
    let tls = tls::client_config(alpn, &[], insecure)?;
    Ok(ClientConfig {
        version,
        tls: Some(tls),
        user_agent: Some("sockless/0.1".to_string()),
        ..ClientConfig::default()
    })
}

/// Classifies a client error with curl's exit codes.
pub fn failure(url: &str, e: ClientError) -> Failure {
    match e {
        ClientError::Url(m) => Failure::new(3, m),
        ClientError::Connect(io) | ClientError::Io(io) => Failure::from_io(&io),
        e if e.is_timeout() => Failure::new(28, format!("{url}: {e}")),
        e => Failure::new(56, format!("{url}: {e}")),
    }
}

async fn fetch_all(args: &GetArgs) -> Result<(), Failure> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| Failure::new(23, format!("{}: {e}", path.display())))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let client = sockless_tokio::client_with(client_config(args.version, args.insecure)?)
        .map_err(|e| Failure::new(35, format!("TLS setup: {e}")))?;
    let method = match &args.method {
        Some(m) => Method::from_bytes(m.as_bytes()),
        None if args.data.is_some() => Method::Post,
        None => Method::Get,
    };
    for raw in &args.urls {
        if !raw.starts_with("http://") && !raw.starts_with("https://") {
            return Err(Failure::new(1, format!("unsupported URL scheme in {raw}")));
        }
        let mut request = client.request(method.clone(), raw);
        if !args.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("accept")) {
            request = request.header("accept", "*/*");
        }
        for (n, v) in &args.headers {
            request = request.header(n, v);
        }
        if let Some(d) = &args.data {
            request = request.body(Bytes::from(d.clone()));
        }
        let response = request.send().await.map_err(|e| failure(raw, e))?;
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
