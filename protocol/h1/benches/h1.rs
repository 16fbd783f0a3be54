//! HTTP/1.1 server benchmarks: request-head parsing by sockless-h1 against raw httparse in the same
//! run, and a full hello-world request/response cycle on a warmed keep-alive connection.
//!
//! `cargo bench -p sockless-h1 --bench h1 -- --measurement-time 5`; `benches/h1/run.sh` at the
//! repository root runs this and the `alloc` bench and prints the ratios against the goals
//! (parsing at most 1.15x raw httparse, a hello-world cycle at most 300 ns).
//!
//! # What `parse/*` compares
//!
//! * `httparse`: what a server built directly on httparse does per request: a fresh stack array of
//!   64 `EMPTY_HEADER`s, `Request::parse` over the request bytes, then it reads the method, the
//!   path and the fields (here: hands them to `black_box`). Nothing else: no strictness checks, no
//!   framing, no owned head.
//! * `sockless`: the public server path a driver uses, from request bytes to the application
//!   holding the head: `handle_input` (copy into the receive buffer, head scan, httparse, the
//!   strict checks httparse does not do, framing fields, the head frozen as a `Bytes` slice with
//!   field offsets, the exchange queued) then `poll_event` for `Request` (whose method and target
//!   go to `black_box`, as above) and `EndStream`.
//!
//! A connection cannot take the next request before it has answered the previous one, yet
//! writing a response is not parsing. So requests are pipelined: one connection with the default
//! configuration, which parses up to `max_pipelined` (16) requests ahead of its responses, is fed
//! `BATCH` = 16 requests one `handle_input` call each (as if each arrived in its own read) and only
//! that is timed; the answers (`204`, no body) are then written and drained outside the timed
//! region, leaving the connection warmed and empty for the next batch. Timing a batch rather than
//! each request spreads the clock's own cost (two `Instant::now()`, ~20-40 ns here) over 16
//! requests. A deeper pipeline is not used on purpose: the server looks exchanges up with a linear
//! scan from the oldest (`request_complete`), which a 256-deep pipeline would turn into most of the
//! measured time while real clients rarely pipeline at all.
//!
//! # `cycle/hello`
//!
//! One full keep-alive exchange on a warmed connection: request bytes in, `Request` and
//! `EndStream` out, a prebuilt `200` head (Content-Type, Content-Length: 13) and a static
//! `Hello, World!` body in, one vectored `poll_transmit` out (two slices: head framing and the
//! body `Bytes`), `advance_transmit`, and a last `poll_event` that finds nothing.

use std::hint::black_box;
use std::time::{Duration, Instant as WallClock};

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use httparse::{Request, Status, EMPTY_HEADER};
use sockless_core::{Bytes, Connection, Event, ResponseHead};
use sockless_h1::{Config, RequestParser, ServerConnection};

mod common;
use common::{cycle, hello_head, BROWSER, NOW, WRK};

/// Requests parsed per timed batch (and pipelined on one connection): the default `max_pipelined`.
const BATCH: usize = 16;

/// What a user of raw httparse does per request.
#[inline]
fn parse_httparse(bytes: &[u8]) -> usize {
    let mut headers = [EMPTY_HEADER; 64];
    let mut req = Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(Status::Complete(n)) => {
            black_box((req.method, req.path, req.version, &req.headers));
            n
        }
        other => panic!("corpus request did not parse: {other:?}"),
    }
}

/// The sockless parse path for one request: bytes in, the head and the end of the (empty) body out.
#[inline]
fn parse_sockless(conn: &mut ServerConnection, bytes: &[u8]) -> usize {
    conn.handle_input(NOW, bytes).expect("request accepted");
    match conn.poll_event() {
        Some(Event::Request { head, .. }) => {
            black_box((&head.method, &head.target, head.version, &head.headers));
        }
        other => panic!("expected a request, got {other:?}"),
    }
    match conn.poll_event() {
        Some(Event::EndStream { .. }) => bytes.len(),
        other => panic!("expected the end of the request, got {other:?}"),
    }
}

/// The strict head parser on its own, in place (as httparse reads): the head read from the bytes,
/// checked, its framing fields read.
#[inline]
fn parse_in_place(parser: &mut RequestParser, bytes: &[u8], config: &Config) -> usize {
    let request = parser.parse_ref(bytes, config).expect("request accepted").expect("request complete");
    let head = &request.head;
    black_box((head.method, head.target, head.version, head.fields(), request.body));
    request.len
}

/// The strict head parser on its own, taking the head: one head split off the front of a buffer
/// that holds the pipelined batch, read, and dropped.
#[inline]
fn parse_owned(parser: &mut RequestParser, buf: &mut BytesMut, config: &Config) -> usize {
    let request = parser.parse(buf, config).expect("request accepted").expect("request complete");
    let head = &request.head;
    black_box((&head.method, &head.target, head.version, &head.headers, request.body));
    head.target.len()
}

/// Answers every parsed request in order with a bodiless 204 and drains the output (untimed).
fn answer_all(conn: &mut ServerConnection, first_stream: &mut u32, count: usize, head: &ResponseHead) {
    for _ in 0..count {
        let stream = sockless_core::StreamId::new(*first_stream);
        conn.send_response(stream, head, true).expect("answer");
        *first_stream += 1;
    }
    loop {
        let mut slices: [&[u8]; 64] = [&[]; 64];
        let n = conn.poll_transmit(&mut slices);
        if n == 0 {
            break;
        }
        let written = slices[..n].iter().map(|s| s.len()).sum();
        conn.advance_transmit(written);
    }
    assert!(conn.poll_event().is_none());
}

fn parse(c: &mut Criterion) {
    for (name, request) in [("parse/wrk", WRK), ("parse/browser", BROWSER)] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(request.len() as u64));
        group
            .bench_function(BenchmarkId::from_parameter("httparse"), |b| b.iter(|| parse_httparse(black_box(request))));
        group.bench_function(BenchmarkId::from_parameter("sockless-parser"), |b| {
            let config = Config::server();
            let mut parser = RequestParser::new();
            b.iter(|| parse_in_place(&mut parser, black_box(request), &config))
        });
        group.bench_function(BenchmarkId::from_parameter("sockless-owned"), |b| {
            let config = Config::server();
            let mut parser = RequestParser::new();
            let mut buf = BytesMut::with_capacity(BATCH * request.len());
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let k = left.min(BATCH as u64) as usize;
                    // The requests arrive in the buffer (a socket read: not parsing, not timed).
                    buf.clear();
                    for _ in 0..k {
                        buf.extend_from_slice(request);
                    }
                    let start = WallClock::now();
                    for _ in 0..k {
                        parse_owned(&mut parser, black_box(&mut buf), &config);
                    }
                    total += start.elapsed();
                    left -= k as u64;
                }
                total
            })
        });
        group.bench_function(BenchmarkId::from_parameter("sockless"), |b| {
            let no_content = ResponseHead::new(204);
            assert_eq!(Config::server().max_pipelined, BATCH);
            let mut conn = common::server();
            let mut next_stream = 1;
            // Warm the connection: its buffers and queues reach their working size.
            for _ in 0..4 {
                for _ in 0..BATCH {
                    parse_sockless(&mut conn, request);
                }
                answer_all(&mut conn, &mut next_stream, BATCH, &no_content);
            }
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let k = left.min(BATCH as u64) as usize;
                    let start = WallClock::now();
                    for _ in 0..k {
                        parse_sockless(&mut conn, black_box(request));
                    }
                    total += start.elapsed();
                    answer_all(&mut conn, &mut next_stream, k, &no_content);
                    left -= k as u64;
                }
                total
            })
        });
        group.finish();
    }
}

fn cycle_hello(c: &mut Criterion) {
    let mut group = c.benchmark_group("cycle");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hello", |b| {
        let head = hello_head();
        let mut conn = common::server();
        for _ in 0..100 {
            let (written, slices) = cycle(&mut conn, WRK, &head);
            assert_eq!(slices, 2, "head and body are offered as two slices for one vectored write");
            assert_eq!(written, expected_response_len(&head));
        }
        b.iter(|| cycle(&mut conn, black_box(WRK), &head))
    });
    group.finish();
}

/// Length of the hello-world response on the wire, to check the cycle writes all of it.
fn expected_response_len(head: &ResponseHead) -> usize {
    let fields: usize = head.headers.iter().map(|(n, v)| n.len() + 2 + v.len() + 2).sum();
    "HTTP/1.1 200 OK\r\n".len() + fields + 2 + Bytes::from_static(common::HELLO).len()
}

criterion_group!(benches, parse, cycle_hello);
criterion_main!(benches);
