//! Limits, windows and timers of an HTTP/2 connection, with safe defaults.

use sockless_core::Duration;

/// Configuration of an HTTP/2 connection. Every limit says what the peer
/// gets when it reaches it. Start from [`Config::server`] or
/// [`Config::client`].
///
/// ```
/// use sockless_h2::Config;
/// let mut config = Config::server();
/// config.max_concurrent_streams = 250;
/// assert_eq!(config.initial_window_size, 1 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise: streams the peer may
    /// have open at once. A HEADERS beyond it gets RST_STREAM(REFUSED_STREAM).
    /// Default 100.
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE we advertise: bytes the peer may send on
    /// a stream before the application releases them. More is a stream
    /// FLOW_CONTROL_ERROR. Default 1 MiB.
    pub initial_window_size: u32,
    /// Our connection-level receive window (raised from 65 535 with a
    /// WINDOW_UPDATE at start). More is a connection FLOW_CONTROL_ERROR.
    /// Default 4 MiB.
    pub connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE we advertise. A larger frame is a
    /// FRAME_SIZE_ERROR. Default 16 384.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE we advertise, enforced while decoding
    /// (no HPACK bomb). Server: a 431 response; client: RST_STREAM. Default 16 KiB.
    pub max_header_list_size: u32,
    /// SETTINGS_HEADER_TABLE_SIZE we advertise (our HPACK decoder's dynamic
    /// table). Default 4 096.
    pub header_table_size: u32,
    /// Most bytes of one field block across HEADERS and CONTINUATION
    /// frames; more is GOAWAY(ENHANCE_YOUR_CALM). Default 64 KiB.
    pub max_header_block: usize,
    /// Most CONTINUATION frames in one field block (CVE-2024-27316); more
    /// is GOAWAY(ENHANCE_YOUR_CALM). Default 16.
    pub max_continuations: usize,
    /// Most streams the peer may reset (or that we refuse) before their
    /// response completed, per `rapid_reset_window`; more is
    /// GOAWAY(ENHANCE_YOUR_CALM) (CVE-2023-44487). Default 200.
    pub max_rapid_resets: u32,
    /// The window over which resets are counted. Default 10 s.
    pub rapid_reset_window: Duration,
    /// Most control frames we owe the peer (PING and SETTINGS acks, resets)
    /// that are still queued; more is GOAWAY(ENHANCE_YOUR_CALM) (PING and
    /// SETTINGS floods). Default 1 000.
    pub max_pending_control: usize,
    /// Most frames that carry nothing (empty DATA without END_STREAM, empty
    /// CONTINUATION, PRIORITY, unknown types) in a row without a useful frame;
    /// more is GOAWAY(ENHANCE_YOUR_CALM). Default 1 000.
    pub max_empty_frames: u32,
    /// Most bytes queued for transmission. Beyond it input is not read
    /// (a peer that floods us with work while not reading waits), and
    /// `send_data` accepts nothing. Default 1 MiB.
    pub max_send_buffer: usize,
    /// Most received bytes held before they are parsed. Default 64 KiB plus a frame.
    pub max_buffered_input: usize,
    /// Size of the buffer lent by `input_buffer`. Default 16 KiB.
    pub read_size: usize,
    /// How long the peer may take to acknowledge our SETTINGS; then
    /// GOAWAY(SETTINGS_TIMEOUT). Default 10 s.
    pub settings_timeout: Duration,
    /// Send a PING after this long without input (keep-alive). Default `None`.
    pub keepalive_interval: Option<Duration>,
    /// How long a PING may go unanswered; then the connection closes with
    /// an `AckTimeout` error. Default 20 s.
    pub ping_timeout: Duration,
    /// Graceful shutdown: how long in-flight streams may take after the final
    /// GOAWAY before the connection closes anyway. Default 30 s.
    pub shutdown_timeout: Duration,
    /// Graceful shutdown (server): the final GOAWAY follows the first one when
    /// the PING sent with it is answered, or after this long (the requests the
    /// peer sent meanwhile are still served). Default 1 s.
    pub goaway_grace: Duration,
    /// Close a connection that has had no open stream for this long: a graceful
    /// shutdown (GOAWAY(NO_ERROR), then close once the grace is over), as
    /// HTTP/1.1 closes an idle keep-alive connection. `None`: never. Server
    /// default 60 s, client default `None` (its pool decides).
    pub idle_timeout: Option<Duration>,
    /// Server: the most bytes a request body may have, as HTTP/1.1's
    /// `max_body_bytes`. A Content-Length above it is answered `413` before the
    /// application sees the request; DATA going over it is answered `413` by
    /// the connection itself while the response has not started (the
    /// application gets an `Error` (`BodyTooLarge`) and a `Reset`), and
    /// `RST_STREAM(CANCEL)` once it has. `None`: unlimited. Server default
    /// 4 MiB; the client ignores it (default `None`).
    pub max_body_bytes: Option<u64>,
    /// Client: `:scheme` for requests whose target is origin-form. Default `"https"`.
    pub default_scheme: &'static str,
}

impl Config {
    /// Defaults for the server role.
    pub fn server() -> Self {
        Config {
            max_concurrent_streams: 100,
            initial_window_size: 1 << 20,
            connection_window_size: 4 << 20,
            max_frame_size: 16_384,
            max_header_list_size: 16 << 10,
            header_table_size: 4_096,
            max_header_block: 64 << 10,
            max_continuations: 16,
            max_rapid_resets: 200,
            rapid_reset_window: Duration::from_secs(10),
            max_pending_control: 1_000,
            max_empty_frames: 1_000,
            max_send_buffer: 1 << 20,
            max_buffered_input: (64 << 10) + 16_384 + 9,
            read_size: 16 << 10,
            settings_timeout: Duration::from_secs(10),
            keepalive_interval: None,
            ping_timeout: Duration::from_secs(20),
            shutdown_timeout: Duration::from_secs(30),
            goaway_grace: Duration::from_secs(1),
            idle_timeout: Some(Duration::from_secs(60)),
            max_body_bytes: Some(4 << 20),
            default_scheme: "https",
        }
    }

    /// Defaults for the client role: the same limits, no idle timeout, no body limit.
    pub fn client() -> Self {
        Config { idle_timeout: None, max_body_bytes: None, ..Config::server() }
    }
}

impl Default for Config {
    /// Same as [`Config::server`].
    fn default() -> Self {
        Config::server()
    }
}
