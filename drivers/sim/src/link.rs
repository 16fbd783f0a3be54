//! One direction of a simulated byte stream: latency, bandwidth, writes cut
//! into random segments, delayed reads, and faults.

use crate::rng::Rng;
use bytes::Bytes;
use sockless_core::{Duration, Instant};
use std::collections::VecDeque;

/// How a link behaves. Every random choice is drawn from the simulation's seed.
#[derive(Clone, Debug)]
pub struct LinkConfig {
    /// One-way delay of every segment.
    pub latency: Duration,
    /// Extra random delay added to each segment, up to this (order is kept, as on TCP).
    pub jitter: Duration,
    /// Bytes per second; `None` for unlimited.
    pub bandwidth: Option<u64>,
    /// Writes are cut into segments of 1 to this many bytes.
    pub max_segment: usize,
    /// Percent chance that the reader takes a segment late (up to `jitter` more).
    pub delayed_read_percent: u64,
    /// Most bytes in flight (written, not yet read): the socket buffers and
    /// the window between them. A writer that fills it waits.
    pub buffer: usize,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(2),
            bandwidth: None,
            max_segment: 1500,
            delayed_read_percent: 0,
            buffer: 256 * 1024,
        }
    }
}

impl LinkConfig {
    /// A link with random but plausible properties drawn from `rng`.
    pub fn random(rng: &mut Rng) -> Self {
        LinkConfig {
            latency: Duration::from_micros(rng.range(0, 50_000)),
            jitter: Duration::from_micros(rng.range(0, 10_000)),
            bandwidth: rng.chance(30).then(|| rng.range(10_000, 10_000_000)),
            max_segment: match rng.below(8) {
                0 => rng.range(1, 4) as usize,
                1 | 2 => rng.range(4, 64) as usize,
                3..=5 => rng.range(64, 1500) as usize,
                _ => 64 * 1024,
            },
            delayed_read_percent: rng.below(30),
            buffer: rng.range(4 * 1024, 512 * 1024) as usize,
        }
    }
}

/// What has been sent and not yet read, in order.
#[derive(Debug)]
pub(crate) struct Link {
    pub config: LinkConfig,
    /// Segments with the time they can be read.
    segments: VecDeque<(Instant, Bytes)>,
    /// When the wire is free again (bandwidth).
    busy_until: Instant,
    /// The writer closed its side: EOF follows the last segment.
    pub closed: bool,
    /// When the EOF reaches the reader.
    eof_at: Instant,
    /// The reader saw the EOF.
    pub eof_delivered: bool,
    /// Bytes written into the link so far.
    pub bytes_sent: u64,
    /// Bytes written and not yet read.
    in_flight: usize,
}

impl Link {
    pub(crate) fn new(config: LinkConfig) -> Self {
        Link {
            config,
            segments: VecDeque::new(),
            busy_until: Instant::ZERO,
            closed: false,
            eof_at: Instant::ZERO,
            eof_delivered: false,
            bytes_sent: 0,
            in_flight: 0,
        }
    }

    /// Queues bytes written at `now`, cut into random segments.
    pub(crate) fn send(&mut self, now: Instant, mut data: Bytes, rng: &mut Rng) {
        if self.closed {
            return;
        }
        self.bytes_sent += data.len() as u64;
        self.in_flight += data.len();
        while !data.is_empty() {
            let n = (rng.range(1, self.config.max_segment.max(1) as u64) as usize).min(data.len());
            let seg = data.split_to(n);
            let start = now.max(self.busy_until);
            let wire = self.config.bandwidth.map_or(Duration::ZERO, |bps| {
                Duration::from_nanos((seg.len() as u64).saturating_mul(1_000_000_000) / bps.max(1))
            });
            self.busy_until = start + wire;
            let jitter = Duration::from_nanos(rng.below(self.config.jitter.as_nanos() as u64 + 1));
            let mut at = self.busy_until + self.config.latency + jitter;
            if rng.chance(self.config.delayed_read_percent) {
                // The reader gets to it late.
                at = at + Duration::from_nanos(rng.below(self.config.jitter.as_nanos() as u64 * 4 + 1));
            }
            if let Some((last, _)) = self.segments.back() {
                at = at.max(*last); // in order, as TCP delivers
            }
            self.segments.push_back((at, seg));
        }
    }

    /// When the next segment (or the EOF) can be read.
    pub(crate) fn next_arrival(&self) -> Option<Instant> {
        match self.segments.front() {
            Some((at, _)) => Some(*at),
            None if self.closed && !self.eof_delivered => Some(self.eof_at),
            None => None,
        }
    }

    /// The front segment if it has arrived by `now`.
    pub(crate) fn take_ready(&mut self, now: Instant) -> Option<Bytes> {
        match self.segments.front() {
            Some((at, _)) if *at <= now => {
                let seg = self.segments.pop_front().map(|(_, b)| b);
                self.in_flight -= seg.as_ref().map_or(0, |b| b.len());
                seg
            }
            _ => None,
        }
    }

    /// Puts back what the reader did not take.
    pub(crate) fn unread(&mut self, now: Instant, rest: Bytes) {
        self.in_flight += rest.len();
        self.segments.push_front((now, rest));
    }

    /// The writer closes its side at `now`: the EOF travels like a segment.
    pub(crate) fn close(&mut self, now: Instant) {
        if !self.closed {
            self.closed = true;
            let last = self.segments.back().map_or(Instant::ZERO, |(at, _)| *at);
            self.eof_at = (now.max(self.busy_until) + self.config.latency).max(last);
        }
    }

    /// How many more bytes may be written now.
    pub(crate) fn space(&self) -> usize {
        self.config.buffer.saturating_sub(self.in_flight)
    }

    /// Drops everything in flight (a reset).
    pub(crate) fn reset(&mut self) {
        self.segments.clear();
        self.in_flight = 0;
        self.closed = true;
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.segments.is_empty() && (!self.closed || self.eof_delivered)
    }
}
