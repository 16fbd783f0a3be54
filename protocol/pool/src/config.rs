//! The hub's rules as numbers: every cap, timeout and retry limit, with its
//! default.

use sockless_core::Duration;

/// Timeouts, each named for what it covers. `None` turns one off.
///
/// [`Config::timeouts`] holds the defaults; a request may carry its own set
/// ([`RequestOptions::timeouts`](crate::RequestOptions::timeouts)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a request may wait in its origin's queue for a connection
    /// (default: no limit of its own; `total` still applies).
    /// Hit: the request fails with [`Error::PoolWaitTimeout`](crate::Error::PoolWaitTimeout).
    pub pool_wait: Option<Duration>,
    /// One connect attempt, from the dial to the transport being up
    /// (default 10 s). Hit: the attempt counts as a failed connect.
    pub connect: Option<Duration>,
    /// The TLS handshake, from the transport being up to the protocol
    /// being chosen (default 10 s). Hit: as a failed connect.
    pub tls_handshake: Option<Duration>,
    /// From the request being assigned to a connection to its response head
    /// (default 30 s). Hit: [`Error::ResponseHeadTimeout`](crate::Error::ResponseHeadTimeout).
    pub response_head: Option<Duration>,
    /// Once the request body is sent, the longest silence between response
    /// bytes (head or body; default 30 s). Hit:
    /// [`Error::ReadIdleTimeout`](crate::Error::ReadIdleTimeout).
    pub read_idle: Option<Duration>,
    /// The whole request, queue time and retries included (default: none).
    /// Hit: [`Error::TotalTimeout`](crate::Error::TotalTimeout).
    pub total: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            pool_wait: None,
            connect: Some(Duration::from_secs(10)),
            tls_handshake: Some(Duration::from_secs(10)),
            response_head: Some(Duration::from_secs(30)),
            read_idle: Some(Duration::from_secs(30)),
            total: None,
        }
    }
}

/// Connect retries with exponential backoff: after the `n`th failed connect
/// to an origin the next waits `initial * 2^(n-1)`, at most `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait (default 1 s).
    pub initial: Duration,
    /// The ceiling (default 32 s).
    pub max: Duration,
    /// Failed connects in a row after which the origin's waiting requests
    /// fail with the last connect error (default 8: waits of 1, 2, 4, 8, 16,
    /// 32, 32 s between them).
    pub attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(32), attempts: 8 }
    }
}

impl Backoff {
    /// The wait after the `failures`th failed connect in a row (1-based).
    pub fn delay(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        let nanos = self.initial.as_nanos().saturating_mul(1u128 << shift);
        let nanos = nanos.min(self.max.as_nanos());
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// The hub's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Connections per origin, connecting, busy and idle together (default
    /// 4). Beyond it requests wait in the origin's FIFO queue.
    pub max_connections_per_origin: usize,
    /// Origins holding connections at once (default 8). A request for
    /// another origin closes the least recently used origin whose
    /// connections are all idle, or waits until one is.
    pub max_origins: usize,
    /// How long a connection with nothing in flight is kept (default 15 s);
    /// `None` keeps it until the peer closes it.
    pub idle_timeout: Option<sockless_core::Duration>,
    /// Retries per request (default 2), only where they are safe: see
    /// [`Outcome`](crate::Outcome).
    pub max_retries: u32,
    /// Connect retries with backoff (default off: a failed connect fails
    /// the oldest waiting request of its origin).
    pub connect_backoff: Option<Backoff>,
    /// HTTP/2 streams assumed per connection until the peer's
    /// MAX_CONCURRENT_STREAMS is known (default 100, RFC 9113's advice
    /// for the smallest limit a peer should set).
    pub assumed_max_streams: u32,
    /// Largest response head accepted, in bytes (default 64 KiB). Hit:
    /// [`Error::ResponseHeadTooLarge`](crate::Error::ResponseHeadTooLarge).
    pub max_response_head_bytes: usize,
    /// Largest response body accepted, in bytes (default: no limit, the
    /// body streams). Hit: [`Error::ResponseBodyTooLarge`](crate::Error::ResponseBodyTooLarge).
    pub max_response_body_bytes: Option<u64>,
    /// Default timeouts of every request.
    pub timeouts: Timeouts,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_connections_per_origin: 4,
            max_origins: 8,
            idle_timeout: Some(Duration::from_secs(15)),
            max_retries: 2,
            connect_backoff: None,
            assumed_max_streams: 100,
            max_response_head_bytes: 64 * 1024,
            max_response_body_bytes: None,
            timeouts: Timeouts::default(),
        }
    }
}
