//! Shared helpers of the HTTP/2 fuzz targets: tight limits, the check that
//! a connection's output is a valid HTTP/2 frame stream, and HPACK table
//! comparison. The generic helpers (PRNG, splitting, feeding, draining) are
//! in `common.rs`.
#![allow(dead_code)]

use bytes::BytesMut;
use sockless_core::{Duration, StreamId};
use sockless_h2::frame::{Frame, FrameDecoder, MAX_PAYLOAD_LEN};
use sockless_h2::hpack::{table::DynamicTable, Decoder, DecoderError};
use sockless_h2::Config;

/// Small limits so that every limit of the connection is reachable with a
/// few hundred bytes: streams, windows, header list, field block,
/// CONTINUATION count, rapid resets, control-frame backlog, empty frames,
/// send buffer, timers.
pub fn tight(mut c: Config) -> Config {
    c.max_concurrent_streams = 3;
    c.initial_window_size = 64;
    c.connection_window_size = 65_535;
    c.max_header_list_size = 160;
    c.header_table_size = 96;
    c.max_header_block = 256;
    c.max_continuations = 2;
    c.max_rapid_resets = 3;
    c.max_pending_control = 6;
    c.max_empty_frames = 6;
    c.max_send_buffer = 200;
    c.max_buffered_input = 64;
    c.read_size = 32;
    c.settings_timeout = Duration::from_millis(1500);
    c.keepalive_interval = Some(Duration::from_millis(2000));
    c.ping_timeout = Duration::from_millis(1000);
    c.shutdown_timeout = Duration::from_millis(2500);
    c
}

/// Checks what a connection wrote: a valid frame stream (optionally after
/// the client preface), the first frame a SETTINGS, every field block
/// decodable by one persistent HPACK decoder (its encoder kept in step).
pub struct WireCheck {
    buf: BytesMut,
    preface_left: usize,
    decoder: FrameDecoder,
    hpack: Decoder,
    frames: usize,
    block: Vec<u8>,
    block_stream: Option<StreamId>,
    /// Server output: every field block must start with `:status`.
    server: bool,
    pub goaway: bool,
    pub heads: usize,
}

impl WireCheck {
    pub fn new(server: bool) -> Self {
        let mut decoder = FrameDecoder::new();
        decoder.set_max_frame_size(MAX_PAYLOAD_LEN).set_max_header_block(usize::MAX).set_max_continuations(usize::MAX);
        let mut hpack = Decoder::new(4096);
        // The encoder follows the peer's SETTINGS_HEADER_TABLE_SIZE up to its
        // default cap of 64 KiB; allow any size update up to that.
        hpack.set_max_table_size(sockless_h2::hpack::DEFAULT_TABLE_SIZE_CAP);
        WireCheck {
            buf: BytesMut::new(),
            preface_left: if server { 0 } else { sockless_h2::frame::PREFACE.len() },
            decoder,
            hpack,
            frames: 0,
            block: Vec::new(),
            block_stream: None,
            server,
            goaway: false,
            heads: 0,
        }
    }

    /// Adds written bytes and checks every complete frame.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.preface_left > 0 {
            let p = sockless_h2::frame::PREFACE;
            let at = p.len() - self.preface_left;
            let n = self.preface_left.min(bytes.len());
            assert_eq!(&bytes[..n], &p[at..at + n], "client output does not start with the preface");
            self.preface_left -= n;
            bytes = &bytes[n..];
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let frame = match self.decoder.decode(&mut self.buf) {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => panic!("our own output is not a valid frame stream: {e} (frame {})", self.frames),
            };
            if crate::common::debug() {
                eprintln!("wire: {frame:?}");
            }
            if self.frames == 0 {
                assert!(matches!(frame, Frame::Settings(_)), "first frame is not SETTINGS: {frame:?}");
            }
            self.frames += 1;
            match &frame {
                Frame::Headers(h) => {
                    self.check_stream(h.stream);
                    self.block.clear();
                    self.block.extend_from_slice(&h.fragment);
                    self.block_stream = Some(h.stream);
                    if h.end_headers {
                        self.end_block();
                    }
                }
                Frame::Continuation(c) => {
                    assert_eq!(Some(c.stream), self.block_stream);
                    self.block.extend_from_slice(&c.fragment);
                    if c.end_headers {
                        self.end_block();
                    }
                }
                Frame::Data(d) => self.check_stream(d.stream),
                Frame::PushPromise(_) => panic!("we never push: {frame:?}"),
                Frame::GoAway(_) => self.goaway = true,
                Frame::WindowUpdate(w) => assert!(w.increment > 0),
                _ => {}
            }
        }
    }

    fn check_stream(&self, s: StreamId) {
        // Both roles: HEADERS and DATA only on client-initiated (odd) streams; we never push.
        assert!(s.get() % 2 == 1, "HEADERS/DATA on {s:?}, not a client stream");
    }

    fn end_block(&mut self) {
        let mut fields = Vec::new();
        let r = self.hpack.decode(&self.block, usize::MAX, |n: &[u8], v: &[u8], _| {
            fields.push((n.to_vec(), v.to_vec()));
            Ok::<(), DecoderError>(())
        });
        if let Err(e) = r {
            panic!("our own field block does not decode: {e} ({:02x?})", self.block);
        }
        self.heads += 1;
        if self.server {
            // A response head starts with :status; trailers have no pseudo-fields.
            for (i, (n, _)) in fields.iter().enumerate() {
                if n.starts_with(b":") {
                    assert!(i == 0 && n == b":status", "pseudo-field {:?} at {i}", String::from_utf8_lossy(n));
                }
            }
        } else {
            let mut regular = false;
            for (n, _) in &fields {
                if n.starts_with(b":") {
                    assert!(!regular, "pseudo-field after a regular field");
                } else {
                    regular = true;
                }
            }
        }
        for (n, _) in &fields {
            assert!(!n.iter().any(|b| b.is_ascii_uppercase()), "uppercase field name {:?}", String::from_utf8_lossy(n));
        }
        self.block_stream = None;
    }

    /// Whether everything received so far was whole frames (nothing half-written).
    pub fn at_frame_boundary(&self) -> bool {
        self.buf.is_empty() && self.block_stream.is_none()
    }
}

/// Asserts two dynamic tables hold the same entries with the same sizes.
pub fn same_table(a: &DynamicTable, b: &DynamicTable, what: &str) {
    assert_eq!((a.len(), a.size(), a.max_size()), (b.len(), b.size(), b.max_size()), "{what}: table shape");
    for i in 0..a.len() {
        assert_eq!(a.get(i), b.get(i), "{what}: entry {i}");
    }
    assert!(a.size() <= a.max_size(), "{what}: table size {} over its maximum {}", a.size(), a.max_size());
}

// ---- HPACK decoding, limited vs unlimited ----

pub type Fields = Vec<(Vec<u8>, Vec<u8>, bool)>;

pub fn decode(d: &mut Decoder, block: &[u8], limit: usize) -> (Result<(), DecoderError>, Fields) {
    let mut fields = Vec::new();
    let r = d.decode(block, limit, |n: &[u8], v: &[u8], ni| {
        fields.push((n.to_vec(), v.to_vec(), ni));
        Ok::<(), DecoderError>(())
    });
    (r, fields)
}

/// Decodes `block` with `limit` through `d` and through a clone without a
/// limit, and checks that the two agree.
pub fn check(d: &mut Decoder, block: &[u8], limit: usize) -> Result<(), DecoderError> {
    let mut free = d.clone();
    let (r, fields) = decode(d, block, limit);
    let (r_free, all) = decode(&mut free, block, usize::MAX);
    let size = |f: &Fields| f.iter().map(|(n, v, _)| n.len() + v.len() + 32).sum::<usize>();
    assert!(size(&fields) <= limit, "fields over the limit were handed out");
    match (r, r_free) {
        (Ok(()), Ok(())) => assert_eq!(fields, all),
        (Err(DecoderError::HeaderListTooLarge { limit: l }), Ok(())) => {
            assert_eq!(l, limit);
            assert!(fields.len() < all.len(), "limit error with every field handed out");
            assert_eq!(fields[..], all[..fields.len()], "fields before the limit");
            let next = &all[fields.len()];
            assert!(size(&fields) + next.0.len() + next.1.len() + 32 > limit, "stopped below the limit");
            assert!(size(&all) > limit);
        }
        (Err(e), Err(e_free)) => {
            assert!(e.is_compression_error() && e_free.is_compression_error());
            assert_eq!(e, e_free, "a different error with the limit");
            return Err(e);
        }
        (r, r_free) => panic!("with limit {limit}: {r:?}, without: {r_free:?}"),
    }
    same_table(d.table(), free.table(), "limited vs unlimited decoder");
    assert!(d.table().max_size() <= d.max_table_size().max(d.table().max_size()));
    Ok(())
}

pub fn table_size(b: u8) -> usize {
    match b {
        0xff => 4096,
        0xfe => 65536,
        b => usize::from(b) * 8,
    }
}

pub fn list_limit(b: u8) -> usize {
    match b {
        0xff => usize::MAX,
        b => usize::from(b) * 4,
    }
}
