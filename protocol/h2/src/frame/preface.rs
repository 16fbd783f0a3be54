//! The client connection preface (RFC 9113 section 3.4) and prior-knowledge detection.

/// The 24 octets every HTTP/2 client sends first (followed by a SETTINGS frame).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes of a connection say about the client preface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefaceCheck {
    /// The bytes start with the whole preface; frames follow after [`PREFACE`]`.len()` octets.
    Complete,
    /// All bytes so far agree with the preface, but it is not complete: read more.
    Partial,
    /// A byte differs: this is not HTTP/2 with prior knowledge (an HTTP/1 request, say, or a
    /// broken client). Decided at the first differing byte.
    Mismatch,
}

/// Checks the bytes received so far against the client preface.
///
/// Detection needs no more bytes than it takes to tell: an HTTP/1 request such as `GET /` is a
/// [`PrefaceCheck::Mismatch`] after its first octet. A server accepting both HTTP/1.1 and h2c
/// with prior knowledge buffers until the answer is not `Partial`, then hands the same bytes to
/// the protocol chosen (an HTTP/1 parser rejects a truncated `PRI * HTTP/2.0` line itself).
///
/// ```
/// use sockless_h2::frame::{check_preface, PrefaceCheck, PREFACE};
///
/// assert_eq!(check_preface(b""), PrefaceCheck::Partial);
/// assert_eq!(check_preface(b"PRI * HTTP/2.0\r\n"), PrefaceCheck::Partial);
/// assert_eq!(check_preface(b"GET / HTTP/1.1\r\n"), PrefaceCheck::Mismatch);
/// assert_eq!(check_preface(b"PRI * HTTP/1.1\r\n"), PrefaceCheck::Mismatch);
/// let mut bytes = PREFACE.to_vec();
/// bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // the client's SETTINGS frame
/// assert_eq!(check_preface(&bytes), PrefaceCheck::Complete);
/// ```
pub fn check_preface(received: &[u8]) -> PrefaceCheck {
    let n = received.len().min(PREFACE.len());
    if received[..n] != PREFACE[..n] {
        PrefaceCheck::Mismatch
    } else if n == PREFACE.len() {
        PrefaceCheck::Complete
    } else {
        PrefaceCheck::Partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_is_partial_and_every_change_a_mismatch() {
        for n in 0..PREFACE.len() {
            assert_eq!(check_preface(&PREFACE[..n]), PrefaceCheck::Partial);
            let mut bad = *PREFACE;
            bad[n] ^= 0x20;
            assert_eq!(check_preface(&bad[..=n]), PrefaceCheck::Mismatch);
            assert_eq!(check_preface(&bad), PrefaceCheck::Mismatch);
        }
        assert_eq!(check_preface(PREFACE), PrefaceCheck::Complete);
    }
}
