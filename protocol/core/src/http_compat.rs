//! Conversions to and from the `http` crate (feature `http`).
//!
//! `http::HeaderMap` lowercases names and groups repeated names together, so
//! a round trip through it keeps values and per-name order but not the
//! original case or the interleaving of different names.

use crate::head::{Method, RequestHead, ResponseHead, Version};
use crate::header::HeaderList;
use bytes::Bytes;
use core::fmt;

/// A head that the `http` crate's types cannot represent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversionError {
    /// The method is not a valid `http::Method`.
    Method,
    /// The target is not a valid `http::Uri`.
    Uri,
    /// A header name or value is not valid for `http`.
    Header,
    /// The status is not a valid `http::StatusCode`.
    Status,
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConversionError::Method => "invalid method for http",
            ConversionError::Uri => "invalid URI for http",
            ConversionError::Header => "invalid header for http",
            ConversionError::Status => "invalid status for http",
        })
    }
}

impl std::error::Error for ConversionError {}

fn version_to_http(v: Version) -> http::Version {
    match v {
        Version::Http10 => http::Version::HTTP_10,
        Version::Http11 => http::Version::HTTP_11,
        Version::Http2 => http::Version::HTTP_2,
    }
}

fn version_from_http(v: http::Version) -> Version {
    match v {
        http::Version::HTTP_10 | http::Version::HTTP_09 => Version::Http10,
        http::Version::HTTP_2 => Version::Http2,
        _ => Version::Http11,
    }
}

fn headers_to_http(h: &HeaderList) -> Result<http::HeaderMap, ConversionError> {
    let mut map = http::HeaderMap::with_capacity(h.len());
    for (n, v) in h {
        let name = http::HeaderName::from_bytes(n).map_err(|_| ConversionError::Header)?;
        let value = http::HeaderValue::from_bytes(v).map_err(|_| ConversionError::Header)?;
        map.append(name, value);
    }
    Ok(map)
}

fn headers_from_http(map: &http::HeaderMap) -> HeaderList {
    map.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect()
}

impl RequestHead {
    /// Converts to `http::request::Parts` (names become lowercase).
    pub fn to_http(&self) -> Result<http::request::Parts, ConversionError> {
        let method = http::Method::from_bytes(self.method.as_bytes()).map_err(|_| ConversionError::Method)?;
        let uri = http::Uri::from_maybe_shared(self.target.clone()).map_err(|_| ConversionError::Uri)?;
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = method;
        parts.uri = uri;
        parts.version = version_to_http(self.version);
        parts.headers = headers_to_http(&self.headers)?;
        Ok(parts)
    }

    /// Converts from `http::request::Parts`; the URI becomes the target as
    /// it is (absolute-form when it has a scheme and authority).
    pub fn from_http(parts: &http::request::Parts) -> RequestHead {
        let target = parts.uri.to_string();
        RequestHead {
            method: Method::from_bytes(parts.method.as_str().as_bytes()),
            target: Bytes::from(if target.is_empty() { "/".into() } else { target }),
            version: version_from_http(parts.version),
            headers: headers_from_http(&parts.headers),
        }
    }
}

impl ResponseHead {
    /// Converts to `http::response::Parts` (names become lowercase).
    pub fn to_http(&self) -> Result<http::response::Parts, ConversionError> {
        let status = http::StatusCode::from_u16(self.status).map_err(|_| ConversionError::Status)?;
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = status;
        parts.version = version_to_http(self.version);
        parts.headers = headers_to_http(&self.headers)?;
        Ok(parts)
    }

    /// Converts from `http::response::Parts`.
    pub fn from_http(parts: &http::response::Parts) -> ResponseHead {
        ResponseHead {
            status: parts.status.as_u16(),
            reason: Bytes::new(),
            version: version_from_http(parts.version),
            headers: headers_from_http(&parts.headers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let head = RequestHead::new(Method::Post, "/a?b=1")
            .header("Host", "example.com")
            .header("X-A", "1")
            .header("x-a", "2");
        let parts = head.to_http().unwrap();
        assert_eq!(parts.method, http::Method::POST);
        assert_eq!(parts.uri, "/a?b=1");
        assert_eq!(parts.headers.get_all("x-a").iter().count(), 2);
        let back = RequestHead::from_http(&parts);
        assert_eq!(back.method, Method::Post);
        assert_eq!(&back.target[..], b"/a?b=1");
        assert_eq!(back.headers.get_all("X-A").collect::<Vec<_>>(), [&b"1"[..], b"2"]);
    }

    #[test]
    fn absolute_uri_round_trip() {
        let req =
            http::Request::builder().uri("https://example.com/x").version(http::Version::HTTP_2).body(()).unwrap();
        let (parts, ()) = req.into_parts();
        let head = RequestHead::from_http(&parts);
        assert_eq!(head.scheme(), Some(&b"https"[..]));
        assert_eq!(head.authority(), Some(&b"example.com"[..]));
        assert_eq!(head.path(), b"/x");
        assert_eq!(head.to_http().unwrap().uri, "https://example.com/x");
    }

    #[test]
    fn response_round_trip() {
        let head = ResponseHead::new(404).header("Content-Length", "0");
        let parts = head.to_http().unwrap();
        assert_eq!(parts.status, 404);
        let back = ResponseHead::from_http(&parts);
        assert_eq!(back.status, 404);
        assert_eq!(back.headers.get("content-length"), Some(&b"0"[..]));
        assert_eq!(ResponseHead::new(1000).to_http().unwrap_err(), ConversionError::Status);
        assert_eq!(
            RequestHead::new(Method::Get, "/").header("a b", "c").to_http().unwrap_err(),
            ConversionError::Header
        );
    }
}
