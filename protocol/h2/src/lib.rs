//! # sockless-h2
//!
//! HTTP/2 as a pure state machine (in progress). This release carries the
//! RFC 7541 HPACK module; the frame codec and connection follow.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
