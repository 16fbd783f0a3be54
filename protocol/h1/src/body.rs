//! Message bodies in: how long a body is (RFC 9112 section 6.3) and reading
//! it off the receive buffer without copying.

use crate::chunked::{Chunk, ChunkedDecoder, ChunkedLimits};
use crate::config::Config;
use bytes::BytesMut;
use sockless_core::ProtocolErrorKind as Kind;

/// How an incoming body is delimited.
#[derive(Clone, Debug)]
pub(crate) enum BodyDecoder {
    /// Exactly this many bytes remain.
    Length(u64),
    /// The chunked coding.
    Chunked(ChunkedDecoder),
    /// Everything until the connection closes (responses only).
    UntilClose,
}

impl BodyDecoder {
    pub(crate) fn chunked(config: &Config) -> Self {
        BodyDecoder::Chunked(ChunkedDecoder::new(ChunkedLimits {
            max_ext_bytes: config.max_chunk_ext_bytes,
            max_trailer_bytes: config.max_trailer_bytes,
            max_trailers: config.max_headers,
            max_body_bytes: config.max_body_bytes,
        }))
    }

    /// The next piece of the body from `buf`, or `None` if more input is needed.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Chunk>, Kind> {
        match self {
            BodyDecoder::Length(0) => Ok(Some(Chunk::End)),
            BodyDecoder::Length(remaining) => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = usize::try_from(*remaining).unwrap_or(usize::MAX).min(buf.len());
                *remaining -= n as u64;
                Ok(Some(Chunk::Data(buf.split_to(n).freeze())))
            }
            BodyDecoder::Chunked(dec) => dec.decode(buf),
            BodyDecoder::UntilClose => {
                if buf.is_empty() {
                    Ok(None)
                } else {
                    Ok(Some(Chunk::Data(buf.split().freeze())))
                }
            }
        }
    }

    /// The peer closed: does that complete the body?
    pub(crate) fn eof_completes(&self) -> bool {
        matches!(self, BodyDecoder::UntilClose | BodyDecoder::Length(0))
    }
}
