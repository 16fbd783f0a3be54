//! Test oracles: checkers that read the same bytes two ways and panic when
//! the readings disagree. They are for the fuzz targets and tests (feature
//! `testing`), not for code that handles connections: a panic is their
//! whole answer.
//!
//! ```
//! use sockless_h1::{oracles, Config};
//! oracles::check_in_place_matches_owned(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &Config::server());
//! oracles::check_canonical_request(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 100);
//! ```

pub use crate::parse::check_canonical_request;
pub use crate::request::check_in_place_matches_owned;
