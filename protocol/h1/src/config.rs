//! Limits and timers of an HTTP/1.1 connection, with safe defaults.

use sockless_core::Duration;

/// The most header fields a head may have, whatever [`Config::max_headers`]
/// says: the parser keeps its field table on the stack.
pub const MAX_HEADERS_CAP: usize = 256;

/// Configuration of an HTTP/1.1 connection. Every limit says what happens
/// when the peer reaches it. Start from [`Config::server`] or
/// [`Config::client`] and change fields.
///
/// ```
/// use sockless_h1::Config;
/// let mut config = Config::server();
/// config.max_body_bytes = Some(64 * 1024); // 413 above 64 KiB
/// assert_eq!(config.max_head_bytes, 8 * 1024);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Largest head (start line, fields, final CRLF) in bytes. Server: 431
    /// and close (414 if the request line alone is longer than
    /// `max_target_len`). Client: a protocol error and close. Default 8 KiB.
    pub max_head_bytes: usize,
    /// Most header fields in a head (capped at [`MAX_HEADERS_CAP`]). Server:
    /// 431 and close. Default 100.
    pub max_headers: usize,
    /// Longest request target in bytes. Server: 414 and close. Default 4 KiB.
    pub max_target_len: usize,
    /// Largest message body. Server default 4 MiB: a larger Content-Length
    /// is answered 413 at once, a chunked body 413 as soon as it passes the
    /// limit, then close. Client default `None` (unlimited, streamed).
    pub max_body_bytes: Option<u64>,
    /// Most bytes of chunk extensions in one message (they are checked and
    /// skipped), counting the leading zeros of chunk sizes too (valid, but
    /// they carry no data). Server: 400 and close. Default 16 KiB.
    pub max_chunk_ext_bytes: usize,
    /// Largest trailer section in bytes. Server: 431 and close. Default 8 KiB.
    pub max_trailer_bytes: usize,
    /// Server: most requests parsed ahead of their responses (pipelining).
    /// Beyond it parsing pauses until responses complete. Default 16.
    pub max_pipelined: usize,
    /// Most received bytes held before they are parsed (while parsing is
    /// paused); beyond it `handle_input` takes nothing. Default 64 KiB plus
    /// `max_head_bytes`.
    pub max_buffered_input: usize,
    /// Most body bytes held in events the application has not polled;
    /// beyond it parsing pauses. Default 256 KiB.
    pub max_buffered_events: usize,
    /// Most bytes queued for transmission; `send_data` accepts only what
    /// fits. Default 256 KiB.
    pub max_send_buffer: usize,
    /// Size of the buffer lent by `input_buffer`. Default 8 KiB.
    pub read_size: usize,
    /// Server: time allowed to receive a complete head, counted from its
    /// first byte (and from connection start for the first request). On
    /// expiry with part of a head received: 408 and close; with nothing
    /// received: a quiet close. Default 10 s.
    pub header_read_timeout: Option<Duration>,
    /// Server: how long a keep-alive connection may stay idle between
    /// requests before it is closed quietly. Default 60 s.
    pub idle_timeout: Option<Duration>,
    /// Longest pause between body bytes while a body is being received.
    /// Server: 408 if no response started, then close. Client: a protocol
    /// error and close. Server default 30 s, client `None`.
    pub body_timeout: Option<Duration>,
    /// Client: write absolute-form targets as they are (talking to a
    /// forward proxy). When `false`, `https://host/path` goes out as
    /// `/path` with `Host: host`. Default `false`.
    pub absolute_form: bool,
    /// Client: how long a request with `Expect: 100-continue` waits for
    /// `100 Continue` before its body is sent anyway. Default 1 s.
    pub continue_timeout: Duration,
    /// Server: what the client's end of input (EOF) after complete requests
    /// means. `true` (the default): a half-close — the requests are still
    /// answered, then the connection closes. `false` (hyper's default): the
    /// client went away — the requests in flight are abandoned and the
    /// connection closes at once, so a driver cancels their handlers.
    pub half_close: bool,
}

impl Config {
    /// Defaults for the server role.
    pub fn server() -> Self {
        Config {
            max_head_bytes: 8 * 1024,
            max_headers: 100,
            max_target_len: 4 * 1024,
            max_body_bytes: Some(4 * 1024 * 1024),
            max_chunk_ext_bytes: 16 * 1024,
            max_trailer_bytes: 8 * 1024,
            max_pipelined: 16,
            max_buffered_input: 64 * 1024 + 8 * 1024,
            max_buffered_events: 256 * 1024,
            max_send_buffer: 256 * 1024,
            read_size: 8 * 1024,
            header_read_timeout: Some(Duration::from_secs(10)),
            idle_timeout: Some(Duration::from_secs(60)),
            body_timeout: Some(Duration::from_secs(30)),
            absolute_form: false,
            continue_timeout: Duration::from_secs(1),
            half_close: true,
        }
    }

    /// Defaults for the client role.
    pub fn client() -> Self {
        Config {
            max_body_bytes: None,
            body_timeout: None,
            header_read_timeout: None,
            idle_timeout: None,
            ..Config::server()
        }
    }

    pub(crate) fn header_limit(&self) -> usize {
        self.max_headers.min(MAX_HEADERS_CAP)
    }
}

impl Default for Config {
    /// Same as [`Config::server`].
    fn default() -> Self {
        Config::server()
    }
}
