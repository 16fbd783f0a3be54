//! The header fields that decide framing and connection handling, read in
//! one pass: Content-Length, Transfer-Encoding, Connection, Host, Expect,
//! Upgrade.

use sockless_core::ProtocolErrorKind as Kind;

/// What the framing-relevant fields of a head say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldInfo {
    /// Content-Length, every occurrence agreeing.
    pub content_length: Option<u64>,
    /// Transfer-Encoding, if present.
    pub transfer_encoding: Option<Coding>,
    /// `Connection: close`.
    pub close: bool,
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// `Connection: upgrade` together with an Upgrade field.
    pub upgrade: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// How many Host fields.
    pub host_count: u32,
    /// A Host value is not `uri-host [":" port]` (only requests care).
    pub host_invalid: bool,
}

/// What a Transfer-Encoding field list says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    /// Exactly `chunked`.
    Chunked,
    /// A coding other than chunked (we implement none): 501 for requests.
    Unsupported,
    /// Malformed: empty, or chunked more than once, or chunked not last.
    Invalid,
}

/// Reads the fields of one head.
#[cfg(test)]
pub(crate) fn scan<'a>(fields: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Result<FieldInfo, Kind> {
    let mut scan = Scan::default();
    for (name, value) in fields {
        scan.add(name, value)?;
    }
    Ok(scan.finish())
}

/// [`scan`] one field at a time, for parsers that already loop over fields.
#[derive(Default)]
pub(crate) struct Scan {
    info: FieldInfo,
    upgrade_field: bool,
    connection_upgrade: bool,
    codings: Codings,
}

impl Scan {
    #[inline(always)]
    pub(crate) fn add(&mut self, name: &[u8], value: &[u8]) -> Result<(), Kind> {
        let info = &mut self.info;
        match name.len() {
            4 if name_is(name, b"host") => {
                info.host_count += 1;
                info.host_invalid |= !is_host(value);
            }
            6 if name_is(name, b"expect") => {
                info.expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue");
            }
            7 if name_is(name, b"upgrade") => self.upgrade_field = true,
            10 if name_is(name, b"connection") => {
                for token in list(value) {
                    info.close |= token.eq_ignore_ascii_case(b"close");
                    info.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                    self.connection_upgrade |= token.eq_ignore_ascii_case(b"upgrade");
                }
            }
            14 if name_is(name, b"content-length") => {
                let n = parse_content_length(value)?;
                if info.content_length.is_some_and(|m| m != n) {
                    return Err(Kind::InvalidContentLength);
                }
                info.content_length = Some(n);
            }
            17 if name_is(name, b"transfer-encoding") => self.codings.add(value),
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> FieldInfo {
        let mut info = self.info;
        info.upgrade = self.upgrade_field && self.connection_upgrade;
        info.transfer_encoding = self.codings.result();
        info
    }
}

/// Whether `value` is `uri-host [":" port]` (RFC 9110 section 7.2, RFC 3986
/// section 3.2.2): a bracketed IPv6 (or IPvFuture) literal, or a reg-name
/// (which includes IPv4 addresses), then an optional port of at most 65535.
/// An empty host is allowed (a target without authority, section 7.2).
/// Stricter than the grammar in one place: a comma, which sub-delims let
/// into a reg-name, is refused, since a Host holding a list is several
/// Hosts (RFC 9110 section 5.3) and no DNS name holds one.
pub(crate) fn is_host(value: &[u8]) -> bool {
    let (host, port) = match value.iter().rposition(|&b| b == b':') {
        // A colon inside an IPv6 literal is not a port separator.
        Some(colon) if !value[colon..].contains(&b']') => (&value[..colon], Some(&value[colon + 1..])),
        _ => (value, None),
    };
    is_uri_host(host) && port.is_none_or(is_port)
}

/// `uri-host` of RFC 3986 section 3.2.2 (without a comma, see [`is_host`]).
pub(crate) fn is_uri_host(host: &[u8]) -> bool {
    match host {
        [b'[', literal @ .., b']'] => is_ip_literal(literal),
        _ => is_reg_name(host),
    }
}

/// `*DIGIT` of at most 65535 (RFC 3986 allows any digits; no port is larger).
pub(crate) fn is_port(port: &[u8]) -> bool {
    port.iter().all(u8::is_ascii_digit)
        && (port.len() <= 5)
        && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65_535
}

fn is_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'%' => {
                let hex = |j: usize| name.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
                continue;
            }
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b';' | b'=' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// `IPv6address / IPvFuture` (RFC 3986 section 3.2.2), without zone.
fn is_ip_literal(literal: &[u8]) -> bool {
    match literal {
        [b'v' | b'V', rest @ ..] => {
            let Some(dot) = rest.iter().position(|&b| b == b'.') else { return false };
            let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
            !version.is_empty()
                && version.iter().all(u8::is_ascii_hexdigit)
                && !tail.is_empty()
                && tail.iter().all(|&b| b.is_ascii_alphanumeric() || b":-._~!$&'()*+,;=".contains(&b))
        }
        _ => core::str::from_utf8(literal).is_ok_and(|s| s.parse::<core::net::Ipv6Addr>().is_ok()),
    }
}

/// Whether the field name `name` is `lower` (lowercase letters and `-`),
/// in any case, compared eight bytes at a time: setting bit 0x20 of every
/// byte lowercases letters and leaves `-` as it is. `name` must be a token
/// (RFC 9110 section 5.6.2, as every parsed or validated name is): the only
/// other byte that bit turns into `-` or a letter is CR or a control byte.
#[inline(always)]
fn name_is(name: &[u8], lower: &[u8]) -> bool {
    const CASE: u64 = 0x2020_2020_2020_2020;
    let n = lower.len();
    if name.len() != n {
        return false;
    }
    let word = |b: &[u8], at: usize| {
        let mut w = [0u8; 8];
        let end = b.len().min(at + 8);
        w[..end - at].copy_from_slice(&b[at..end]);
        u64::from_le_bytes(w) | CASE
    };
    if n <= 8 {
        return word(name, 0) == word(lower, 0);
    }
    // Whole words, then the last eight bytes (overlapping the previous word).
    let mut at = 0;
    while at + 8 < n {
        if word(name, at) != word(lower, at) {
            return false;
        }
        at += 8;
    }
    word(name, n - 8) == word(lower, n - 8)
}

/// Transfer codings across every Transfer-Encoding field, in order.
#[derive(Default)]
struct Codings {
    present: bool,
    count: usize,
    chunked_seen: usize,
    last_chunked: bool,
    unsupported: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        for coding in list(value) {
            self.count += 1;
            let chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked_seen += usize::from(chunked);
            self.unsupported |= !chunked;
            self.last_chunked = chunked;
        }
    }

    fn result(&self) -> Option<Coding> {
        if !self.present {
            None
        } else if self.unsupported {
            Some(Coding::Unsupported)
        } else if self.count == 1 && self.last_chunked {
            Some(Coding::Chunked)
        } else {
            Some(Coding::Invalid)
        }
    }
}

/// Content-Length: `1*DIGIT`, or a list of identical such values
/// (RFC 9110 section 8.6). No sign, no inner whitespace, no overflow.
pub(crate) fn parse_content_length(value: &[u8]) -> Result<u64, Kind> {
    // Almost every value is plain digits.
    if !value.is_empty() && value.len() <= 19 && value.iter().all(u8::is_ascii_digit) {
        return Ok(value.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')));
    }
    let mut result = None;
    let mut any = false;
    for item in value.split(|&b| b == b',') {
        any = true;
        let item = trim(item);
        if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
            return Err(Kind::InvalidContentLength);
        }
        let n = item.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
        if result.is_some_and(|r| r != n) {
            return Err(Kind::InvalidContentLength);
        }
        result = Some(n);
    }
    match (any, result) {
        (true, Some(n)) => Ok(n),
        _ => Err(Kind::InvalidContentLength),
    }
}

/// Elements of a comma-separated list, trimmed, empty ones skipped
/// (RFC 9110 section 5.6.1).
pub(crate) fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim).filter(|t| !t.is_empty())
}

pub(crate) fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(fields: &[(&str, &str)]) -> Result<FieldInfo, Kind> {
        scan(fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())))
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(parse_content_length(b"0"), Ok(0));
        assert_eq!(parse_content_length(b"42"), Ok(42));
        assert_eq!(parse_content_length(b"42, 42"), Ok(42));
        assert_eq!(parse_content_length(b"9999999999999999999"), Ok(9_999_999_999_999_999_999));
        for bad in [&b""[..], b"+1", b"-1", b"1 2", b"0x10", b"42, 43", b"99999999999999999999", b"1,", b" "] {
            assert_eq!(parse_content_length(bad), Err(Kind::InvalidContentLength), "{bad:?}");
        }
        assert_eq!(info(&[("Content-Length", "3"), ("content-length", "4")]), Err(Kind::InvalidContentLength));
        assert_eq!(info(&[("Content-Length", "3"), ("content-length", "3")]).unwrap().content_length, Some(3));
    }

    #[test]
    fn transfer_codings() {
        let te = |v: &[&str]| {
            let f: alloc::vec::Vec<(&str, &str)> = v.iter().map(|v| ("Transfer-Encoding", *v)).collect();
            info(&f).unwrap().transfer_encoding
        };
        assert_eq!(te(&["chunked"]), Some(Coding::Chunked));
        assert_eq!(te(&["Chunked"]), Some(Coding::Chunked));
        assert_eq!(te(&[" , chunked"]), Some(Coding::Chunked));
        assert_eq!(te(&["gzip, chunked"]), Some(Coding::Unsupported));
        assert_eq!(te(&["gzip"]), Some(Coding::Unsupported));
        assert_eq!(te(&["chunked", "chunked"]), Some(Coding::Invalid));
        assert_eq!(te(&[""]), Some(Coding::Invalid));
        assert_eq!(te(&["chunked;x=1"]), Some(Coding::Unsupported));
    }

    #[test]
    fn names_match_in_any_case_and_only_exactly() {
        for lower in [&b"host"[..], b"expect", b"upgrade", b"connection", b"content-length", b"transfer-encoding"] {
            assert!(name_is(lower, lower));
            let upper = lower.to_ascii_uppercase();
            assert!(name_is(&upper, lower));
            for i in 0..lower.len() {
                let mut other = lower.to_vec();
                other[i] = if other[i] == b'x' { b'y' } else { b'x' };
                assert!(!name_is(&other, lower), "{:?}", core::str::from_utf8(&other));
                let mut other = lower.to_vec();
                other[i] ^= 0x01;
                assert!(!name_is(&other, lower));
            }
            assert!(!name_is(&lower[1..], lower));
        }
        assert!(name_is(b"Content-LENGTH", b"content-length"));
        assert!(!name_is(b"content_length", b"content-length"));
    }

    #[test]
    fn connection_tokens() {
        let i = info(&[("Connection", "Keep-Alive, Upgrade"), ("Upgrade", "h2c"), ("Expect", "100-Continue")]).unwrap();
        assert!(i.keep_alive && i.upgrade && i.expect_continue && !i.close);
        assert!(!info(&[("Connection", "upgrade")]).unwrap().upgrade);
        assert!(info(&[("connection", "x, close")]).unwrap().close);
    }
}
