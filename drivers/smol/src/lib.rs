//! sockless on smol (work in progress).
