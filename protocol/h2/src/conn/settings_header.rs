//! The `HTTP2-Settings` header of an `Upgrade: h2c` request: our SETTINGS
//! payload in base64url without padding (RFC 7540 section 3.2.1).

use super::Config;
use alloc::string::String;
use alloc::vec::Vec;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The `HTTP2-Settings` value a client sends with `Upgrade: h2c`.
pub fn settings_header_value(config: &Config) -> String {
    let settings = crate::frame::Settings {
        header_table_size: Some(config.header_table_size),
        enable_push: Some(false),
        max_concurrent_streams: Some(config.max_concurrent_streams),
        initial_window_size: Some(config.initial_window_size),
        max_frame_size: Some(config.max_frame_size),
        max_header_list_size: Some(config.max_header_list_size),
    };
    let mut payload = Vec::new();
    settings.encode(&mut payload);
    let payload = &payload[9..]; // the frame header is not part of the value
    let mut out = String::new();
    for chunk in payload.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes an `HTTP2-Settings` value into a SETTINGS payload, or `None`
/// if it is not base64url (padding is tolerated).
pub fn decode_settings_header(value: &[u8]) -> Option<Vec<u8>> {
    let value = value.strip_suffix(b"==").or_else(|| value.strip_suffix(b"=")).unwrap_or(value);
    let mut out = Vec::with_capacity(value.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in value {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let v = settings_header_value(&Config::client());
        let payload = decode_settings_header(v.as_bytes()).unwrap();
        assert_eq!(payload.len() % 6, 0);
        let s = crate::frame::Settings::decode(&payload).unwrap();
        assert_eq!(s.enable_push, Some(false));
        assert_eq!(s.initial_window_size, Some(1 << 20));
        assert_eq!(decode_settings_header(b"AAMAAABkAAQAAP__").map(|p| p.len()), Some(12));
        assert_eq!(decode_settings_header(b"a*"), None);
    }
}
