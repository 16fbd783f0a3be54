//! Every rule of the hub, driven by hand in virtual time.

mod common;

use common::{at, secs, Answer, Driver};
use sockless_core::Instant;
use sockless_pool::{
    Backoff, CloseReason, Config, Error, Origin, Outcome, Protocol, ProtocolChoice, RequestOptions, RetryReason,
    Timeouts,
};

fn h1() -> RequestOptions {
    RequestOptions { protocol: ProtocolChoice::Http1, ..RequestOptions::idempotent() }
}

fn h2() -> RequestOptions {
    RequestOptions { protocol: ProtocolChoice::Http2, ..RequestOptions::idempotent() }
}

fn post() -> RequestOptions {
    RequestOptions { protocol: ProtocolChoice::Http1, ..RequestOptions::non_idempotent() }
}

fn origin() -> Origin {
    Origin::http("a.test", 80)
}

#[test]
fn a_request_dials_and_a_finished_exchange_leaves_the_connection_idle_for_the_next() {
    let mut d = Driver::new(Config::default());
    let r1 = d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 1);
    d.connect_all(Protocol::Http1);
    d.complete(r1);
    let r2 = d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 1, "the idle connection is reused");
    d.complete(r2);
    assert_eq!(d.answers.len(), 2);
    assert_eq!(d.hub.stats().connects, 1);
}

#[test]
fn http1_dials_one_connection_per_waiting_request_up_to_the_cap() {
    let mut d = Driver::new(Config::default());
    for _ in 0..10 {
        d.submit(&origin(), h1());
    }
    assert_eq!(d.dials.len(), 4, "cap of 4 per origin");
    d.connect_all(Protocol::Http1);
    assert_eq!(d.assigned.len(), 4, "one exchange per connection");
    assert!(d.conns.values().all(|c| c.carrying.len() == 1));
}

#[test]
fn a_slow_http1_response_does_not_delay_another_request_while_a_connection_can_open() {
    let mut d = Driver::new(Config::default());
    let slow = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let quick = d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 2, "a second connection opens rather than queueing behind the slow one");
    d.connect_all(Protocol::Http1);
    assert_ne!(d.assigned[&slow], d.assigned[&quick]);
}

#[test]
fn the_most_recently_used_idle_connection_is_reused_first() {
    let mut d = Driver::new(Config::default());
    let a = d.submit(&origin(), h1());
    let b = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let (ca, cb) = (d.assigned[&a], d.assigned[&b]);
    d.complete(a);
    d.advance(secs(1));
    d.complete(b);
    let c = d.submit(&origin(), h1());
    assert_eq!(d.assigned[&c], cb, "the connection used last");
    d.complete(c);
    let e = d.submit(&origin(), h1());
    let f = d.submit(&origin(), h1());
    assert_eq!((d.assigned[&e], d.assigned[&f]), (cb, ca));
}

#[test]
fn a_dial_that_finishes_after_its_request_was_served_elsewhere_joins_the_idle_set() {
    let mut d = Driver::new(Config::default());
    let a = d.submit(&origin(), h1());
    let b = d.submit(&origin(), h1());
    let dials = d.connecting();
    d.connect(dials[0], Protocol::Http1);
    d.complete(a);
    assert_eq!(d.assigned[&b], dials[0], "b took the first connection once it was free");
    d.connect(dials[1], Protocol::Http1);
    assert!(d.conns[&dials[1]].carrying.is_empty());
    d.complete(b);
    // Both are idle now: two requests at once need no dial.
    d.submit(&origin(), h1());
    d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 2);
    assert_eq!(d.assigned.len(), 2);
}

#[test]
fn idle_connections_expire_after_the_idle_timeout() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.complete(r);
    d.advance_to(at(14.9));
    assert_eq!(d.alive(), 1);
    d.advance_to(at(15.0));
    assert_eq!(d.alive(), 0);
    assert_eq!(d.closes[0].2, CloseReason::IdleTimeout);
    assert_eq!(d.closes[0].0, at(15.0));
    assert_eq!(d.hub.stats().idle_closed, 1);
    // Reuse restarts the clock.
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.advance_to(at(20.0));
    d.complete(r);
    d.advance_to(at(34.0));
    let again = d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 2, "still idle at 14 s");
    d.complete(again);
}

#[test]
fn an_eof_on_an_idle_connection_retires_it_at_once() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let conn = d.assigned[&r];
    d.complete(r);
    d.peer_close(conn, Outcome::Failed);
    assert_eq!(d.hub.total_connections(), 0);
    let r = d.submit(&origin(), h1());
    assert_eq!(d.dials.len(), 2, "a new connection, not the closed one");
    d.connect_all(Protocol::Http1);
    d.complete(r);
    assert_eq!(d.answers[&r], Answer::Done);
}

/// A server that closes connections idle for 1 s, as nginx with
/// `keepalive_timeout 1s`: a request every 2 s gets a fresh connection each
/// time, requests 0.5 s apart share one, and the request that races the
/// close is retried once on a new connection.
#[test]
fn a_server_that_closes_idle_connections_after_one_second() {
    let mut d = Driver::new(Config::default());
    let mut server_idle_close: Option<(Instant, sockless_pool::ConnId)> = None;
    for i in 0..5 {
        d.advance_to(at(f64::from(i) * 2.0));
        if let Some((t, conn)) = server_idle_close.take() {
            assert!(t <= d.now);
            d.peer_close(conn, Outcome::Failed);
        }
        let r = d.submit(&origin(), h1());
        d.connect_all(Protocol::Http1);
        let conn = d.assigned[&r];
        d.complete(r);
        server_idle_close = Some((d.now + secs(1), conn));
    }
    assert_eq!(d.hub.stats().connects, 5, "each request after a 2 s pause needed a new connection");
    // Half-second spacing: one connection for all.
    let mut d = Driver::new(Config::default());
    for i in 0..5 {
        d.advance_to(at(f64::from(i) * 0.5));
        let r = d.submit(&origin(), h1());
        d.connect_all(Protocol::Http1);
        d.complete(r);
    }
    assert_eq!(d.hub.stats().connects, 1);
    // The race: the server closes just as a request goes out on the reused
    // connection, before any byte of it was written.
    d.advance(secs(1));
    let r = d.submit(&origin(), h1());
    let old = d.assigned[&r];
    d.peer_close(old, Outcome::ClosedBeforeSend);
    assert_eq!(d.retries, vec![(r, RetryReason::ClosedBeforeSend)]);
    d.connect_all(Protocol::Http1);
    assert_ne!(d.assigned[&r], old);
    d.complete(r);
    assert_eq!(d.answers[&r], Answer::Done);
    assert_eq!(d.hub.stats().retries, 1);
}

#[test]
fn a_fresh_connections_own_failure_is_never_retried() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let conn = d.assigned[&r];
    d.peer_close(conn, Outcome::ClosedBeforeSend);
    assert_eq!(d.answers[&r], Answer::Failed(Error::ConnectionClosed));
    assert!(d.retries.is_empty());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let conn = d.assigned[&r];
    d.peer_close(conn, Outcome::NoResponse);
    assert_eq!(d.answers[&r], Answer::Failed(Error::ConnectionClosed));
}

/// Warms one connection (an exchange completed on it) and assigns a request
/// with `options` to it.
fn on_a_reused_connection(
    d: &mut Driver,
    options: RequestOptions,
) -> (sockless_pool::RequestId, sockless_pool::ConnId) {
    let warm = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.complete(warm);
    let r = d.submit(&origin(), options);
    (r, d.assigned[&r])
}

#[test]
fn a_sent_post_without_response_is_never_sent_again() {
    let mut d = Driver::new(Config::default());
    let (r, conn) = on_a_reused_connection(&mut d, post());
    d.hub.handle_request_started(d.now, r, None);
    d.hub.handle_request_sent(d.now, r);
    d.peer_close(conn, Outcome::NoResponse);
    assert_eq!(d.answers[&r], Answer::Failed(Error::ConnectionClosed));
    assert_eq!(d.assign_log.iter().filter(|(x, _)| *x == r).count(), 1, "assigned once only");
    assert_eq!(d.hub.stats().retries, 0);
}

#[test]
fn a_post_whose_reused_connection_closed_before_a_byte_went_out_is_retried() {
    let mut d = Driver::new(Config::default());
    let (r, conn) = on_a_reused_connection(&mut d, post());
    d.peer_close(conn, Outcome::ClosedBeforeSend);
    assert_eq!(d.retries, vec![(r, RetryReason::ClosedBeforeSend)]);
}

#[test]
fn an_idempotent_request_sent_without_response_is_retried_on_a_reused_connection() {
    let mut d = Driver::new(Config::default());
    let (r, conn) = on_a_reused_connection(&mut d, h1());
    d.peer_close(conn, Outcome::NoResponse);
    assert_eq!(d.retries, vec![(r, RetryReason::NoResponse)]);
    d.connect_all(Protocol::Http1);
    d.complete(r);
    assert_eq!(d.answers[&r], Answer::Done);
}

#[test]
fn a_body_that_cannot_be_replayed_is_never_retried() {
    let mut d = Driver::new(Config::default());
    let streamed = RequestOptions { replayable: false, ..h1() };
    let (r, conn) = on_a_reused_connection(&mut d, streamed);
    d.peer_close(conn, Outcome::ClosedBeforeSend);
    assert_eq!(d.answers[&r], Answer::Failed(Error::ConnectionClosed));
}

#[test]
fn retries_stop_at_the_configured_maximum_and_each_is_counted() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h2());
    d.connect_all(Protocol::Http2);
    for attempt in 1..=3 {
        d.hub.handle_outcome(d.now, r, Outcome::Refused);
        d.drain();
        if attempt <= 2 {
            assert_eq!(d.hub.retries_of(r), Some(attempt));
            assert!(d.assigned.contains_key(&r), "reassigned at once to the same connection");
        }
    }
    assert_eq!(d.answers[&r], Answer::Failed(Error::Refused));
    assert_eq!(d.hub.stats().retries, 2);
}

#[test]
fn connect_backoff_waits_1_2_4_8_16_32_32_seconds() {
    let config = Config { connect_backoff: Some(Backoff::default()), ..Config::default() };
    let mut d = Driver::new(config);
    let r2 = d.submit(&origin(), h1());
    let mut schedule = Vec::new();
    for _ in 0..7 {
        let conn = *d.connecting().first().unwrap_or_else(|| panic!("a dial after {schedule:?}"));
        let failed_at = d.now;
        d.fail_connect(conn);
        assert!(d.connecting().is_empty(), "no dial during the backoff");
        let next = d.hub.poll_timeout().expect("the backoff's end");
        d.advance_to(next);
        schedule.push((next - failed_at).as_secs());
    }
    assert_eq!(schedule, vec![1, 2, 4, 8, 16, 32, 32]);
    // The eighth failure is the last attempt: the waiting request learns why.
    let conn = d.connecting()[0];
    d.fail_connect(conn);
    assert_eq!(d.answers[&r2], Answer::Failed(Error::ConnectFailed));
    assert_eq!(d.dials.len(), 8);
    assert_eq!(d.hub.stats().connect_failures, 8);
}

#[test]
fn without_backoff_a_failed_connect_fails_the_oldest_waiting_request() {
    let mut d = Driver::new(Config::default());
    let a = d.submit(&origin(), h1());
    let b = d.submit(&origin(), h1());
    let first = d.connecting()[0];
    d.fail_connect(first);
    assert_eq!(d.answers[&a], Answer::Failed(Error::ConnectFailed));
    assert!(!d.answers.contains_key(&b));
    d.connect_all(Protocol::Http1);
    d.complete(b);
    assert_eq!(d.answers[&b], Answer::Done);
}

#[test]
fn connect_and_tls_handshake_timeouts() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.advance_to(at(9.9));
    assert!(d.answers.is_empty());
    d.advance_to(at(10.0));
    assert_eq!(d.answers[&r], Answer::Failed(Error::ConnectTimeout));
    assert_eq!(d.closes[0].2, CloseReason::ConnectTimeout);

    let mut d = Driver::new(Config::default());
    let tls = Origin::https("a.test", 443);
    let r = d.submit(&tls, RequestOptions::idempotent());
    d.advance_to(at(5.0));
    let conn = d.connecting()[0];
    d.hub.handle_transport_up(d.now, conn);
    d.advance_to(at(14.9));
    assert!(d.answers.is_empty(), "the handshake has its own 10 s from the transport being up");
    d.advance_to(at(15.0));
    assert_eq!(d.answers[&r], Answer::Failed(Error::TlsHandshakeTimeout));
}

#[test]
fn response_head_and_read_idle_timeouts() {
    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let conn = d.assigned[&r];
    d.advance_to(at(29.9));
    assert!(d.answers.is_empty());
    d.advance_to(at(30.0));
    assert_eq!(d.answers[&r], Answer::Failed(Error::ResponseHeadTimeout));
    assert!(d.closes.iter().any(|&(_, c, why)| c == conn && why == CloseReason::Abandoned));

    let mut d = Driver::new(Config::default());
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.hub.handle_request_sent(d.now, r);
    d.hub.handle_response_head(d.now, r, 100);
    for _ in 0..5 {
        d.advance(secs(20));
        d.hub.handle_response_data(d.now, r, 1000);
    }
    assert!(d.answers.is_empty(), "bytes every 20 s keep the read-idle timer from firing");
    d.advance(secs(30));
    assert_eq!(d.answers[&r], Answer::Failed(Error::ReadIdleTimeout));
}

#[test]
fn the_total_deadline_includes_queue_time_and_pool_wait_has_its_own() {
    let config = Config { max_connections_per_origin: 1, ..Config::default() };
    let mut d = Driver::new(config);
    let busy = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let total = Timeouts { total: Some(secs(5)), ..Timeouts::default() };
    let r = d.submit(&origin(), RequestOptions { timeouts: Some(total), ..h1() });
    let pool = Timeouts { pool_wait: Some(secs(2)), ..Timeouts::default() };
    let p = d.submit(&origin(), RequestOptions { timeouts: Some(pool), ..h1() });
    d.advance_to(at(2.0));
    assert_eq!(d.answers.get(&p), Some(&Answer::Failed(Error::PoolWaitTimeout)));
    d.advance_to(at(4.0));
    d.complete(busy);
    assert_eq!(d.assigned[&r], d.assigned.values().copied().next().unwrap());
    d.advance_to(at(5.0));
    assert_eq!(d.answers[&r], Answer::Failed(Error::TotalTimeout), "4 s queued + 1 s on the connection");
}

#[test]
fn response_size_caps_fail_the_request_cleanly() {
    let config = Config { max_response_head_bytes: 1000, max_response_body_bytes: Some(5000), ..Config::default() };
    let mut d = Driver::new(config);
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.hub.handle_response_head(d.now, r, 1001);
    d.drain();
    assert_eq!(d.answers[&r], Answer::Failed(Error::ResponseHeadTooLarge));
    let r = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.hub.handle_response_head(d.now, r, 1000);
    d.hub.handle_response_data(d.now, r, 4000);
    d.hub.handle_response_data(d.now, r, 1000);
    d.drain();
    assert!(!d.answers.contains_key(&r), "exactly the cap is allowed");
    d.hub.handle_response_data(d.now, r, 1);
    d.drain();
    assert_eq!(d.answers[&r], Answer::Failed(Error::ResponseBodyTooLarge));
    assert_eq!(d.hub.total_connections(), 0, "an abandoned HTTP/1.1 exchange closes its connection");
}

#[test]
fn http2_dials_once_and_multiplexes() {
    let mut d = Driver::new(Config::default());
    let reqs: Vec<_> = (0..50).map(|_| d.submit(&origin(), h2())).collect();
    assert_eq!(d.dials.len(), 1, "one connect in flight per HTTP/2 origin");
    d.connect_all(Protocol::Http2);
    assert_eq!(d.assigned.len(), 50);
    assert!(reqs.iter().all(|r| d.assigned[r] == d.assigned[&reqs[0]]));
}

#[test]
fn negotiated_origins_dial_once_then_as_the_chosen_protocol_asks() {
    let mut d = Driver::new(Config::default());
    let tls = Origin::https("a.test", 443);
    for _ in 0..6 {
        d.submit(&tls, RequestOptions::idempotent());
    }
    assert_eq!(d.dials.len(), 1, "one dial until ALPN tells");
    d.connect_all(Protocol::Http1);
    assert_eq!(d.dials.len(), 4, "HTTP/1.1 chosen: dials up to the cap");
}

/// MAX_CONCURRENT_STREAMS of 2 and 10 long streams: connections open within
/// the cap as each fills, never more than 2 streams on one, and every
/// request completes as streams free up.
#[test]
fn max_concurrent_streams_of_two_with_ten_long_streams() {
    let mut d = Driver::new(Config::default());
    let reqs: Vec<_> = (0..10).map(|_| d.submit(&origin(), h2())).collect();
    while let Some(&conn) = d.connecting().first() {
        d.conns.get_mut(&conn).unwrap().connected = true;
        d.hub.handle_stream_limit(d.now, conn, 2);
        d.hub.handle_connected(d.now, conn, Protocol::Http2);
        d.hub.handle_stream_limit(d.now, conn, 2);
        d.drain();
    }
    assert_eq!(d.hub.total_connections(), 4);
    assert!(d.conns.values().all(|c| c.carrying.len() == 2), "two streams on each of the 4 connections");
    assert_eq!(d.assigned.len(), 8);
    let mut round = 0;
    while d.answers.len() < 10 {
        round += 1;
        d.advance(secs(2));
        let active: Vec<_> = d.assigned.keys().copied().collect();
        for r in active.into_iter().take(2) {
            d.complete(r);
        }
        assert!(d.hub.total_connections() <= 4);
        assert!(d.conns.values().all(|c| c.carrying.len() <= 2));
        assert!(round < 20);
    }
    assert!(reqs.iter().all(|r| d.answers[r] == Answer::Done));
    assert_eq!(d.hub.stats().connects, 4);
}

#[test]
fn stream_limit_known_before_requests_keeps_two_per_connection() {
    let mut d = Driver::new(Config::default());
    let first = d.submit(&origin(), h2());
    let conn = d.connecting()[0];
    d.conns.get_mut(&conn).unwrap().connected = true;
    d.hub.handle_connected(d.now, conn, Protocol::Http2);
    d.hub.handle_stream_limit(d.now, conn, 2);
    d.drain();
    for _ in 0..9 {
        d.submit(&origin(), h2());
    }
    while let Some(&c) = d.connecting().first() {
        d.conns.get_mut(&c).unwrap().connected = true;
        d.hub.handle_connected(d.now, c, Protocol::Http2);
        d.hub.handle_stream_limit(d.now, c, 2);
        d.drain();
    }
    assert!(d.conns.values().all(|c| c.carrying.len() <= 2));
    assert_eq!(d.assigned.len(), 8, "4 connections of 2 streams; 2 requests wait");
    d.complete(first);
    assert_eq!(d.assigned.len(), 8, "a freed stream takes the next waiting request");
}

#[test]
fn goaway_mid_run_drains_and_moves_requests_above_the_last_stream() {
    let mut d = Driver::new(Config::default());
    let reqs: Vec<_> = (0..10).map(|_| d.submit(&origin(), h2())).collect();
    d.connect_all(Protocol::Http2);
    let first = d.assigned[&reqs[0]];
    for (i, &r) in reqs.iter().enumerate() {
        d.hub.handle_request_started(d.now, r, Some(2 * i as u32 + 1));
    }
    // Streams 1..=9 were processed; 11..=19 were not.
    d.hub.handle_goaway(d.now, first, 9);
    d.drain();
    let moved: Vec<_> = d.retries.iter().map(|&(r, why)| (r, why)).collect();
    assert_eq!(moved, reqs[5..].iter().map(|&r| (r, RetryReason::Refused)).collect::<Vec<_>>());
    assert_eq!(d.connecting().len(), 1, "a new connection for the moved requests");
    d.connect_all(Protocol::Http2);
    for &r in &reqs[5..] {
        assert_ne!(d.assigned[&r], first);
    }
    let late = d.submit(&origin(), h2());
    assert_ne!(d.assigned[&late], first, "no new request on a draining connection");
    for &r in &reqs[..5] {
        assert_eq!(d.assigned[&r], first);
        d.complete(r);
    }
    assert!(d.closes.iter().any(|&(_, c, why)| c == first && why == CloseReason::Drained));
    for &r in reqs[5..].iter().chain([&late]) {
        d.complete(r);
    }
    assert_eq!(d.answers.values().filter(|a| **a == Answer::Done).count(), 11);
}

/// 1 000 requests waiting with a cap of 4: never more than 4 connections,
/// every request completes, in FIFO order.
#[test]
fn a_thousand_waiting_requests_with_a_cap_of_four() {
    let mut d = Driver::new(Config::default());
    let reqs: Vec<_> = (0..1000).map(|_| d.submit(&origin(), h1())).collect();
    let mut step = 0u64;
    while d.answers.len() < 1000 {
        d.connect_all(Protocol::Http1);
        step += 1;
        d.advance(sockless_core::Duration::from_millis(1 + step % 7));
        // Finish the connection whose exchange started first.
        let next = *d.assigned.keys().next().expect("something in flight");
        d.complete(next);
        assert!(d.alive() <= 4);
    }
    assert_eq!(d.max_alive[&origin()], 4);
    assert_eq!(d.hub.stats().connects, 4);
    assert!(reqs.iter().all(|r| d.answers[r] == Answer::Done));
    let order: Vec<_> = d.assign_log.iter().map(|(r, _)| *r).collect();
    assert_eq!(order, reqs, "assigned in submission order");
}

#[test]
fn the_origin_cap_evicts_the_least_recently_used_idle_origin() {
    let config = Config { max_origins: 2, ..Config::default() };
    let mut d = Driver::new(config);
    let (a, b, c) = (Origin::http("a", 80), Origin::http("b", 80), Origin::http("c", 80));
    for o in [&a, &b] {
        let r = d.submit(o, h1());
        d.connect_all(Protocol::Http1);
        d.complete(r);
        d.advance(secs(1));
    }
    let r = d.submit(&c, h1());
    assert_eq!(d.hub.connections(&a), 0, "a was used least recently");
    assert_eq!(d.hub.connections(&b), 1);
    assert!(d.closes.iter().any(|&(_, _, why)| why == CloseReason::Evicted));
    d.connect_all(Protocol::Http1);
    // Both remaining origins busy: the next origin waits for one to idle.
    let rb = d.submit(&b, h1());
    let ra = d.submit(&a, h1());
    assert_eq!(d.hub.connections(&a), 0, "no origin slot while b and c are busy");
    d.complete(rb);
    assert_eq!(d.hub.connections(&a), 1, "b went idle and was evicted for a");
    d.connect_all(Protocol::Http1);
    d.complete(ra);
    d.complete(r);
    assert_eq!(d.answers.len(), 5);
}

#[test]
fn https_and_http_to_the_same_host_and_port_are_separate_origins() {
    let mut d = Driver::new(Config::default());
    let plain = Origin::http("a.test", 8443);
    let tls = Origin::https("a.test", 8443);
    let r = d.submit(&plain, h1());
    d.connect_all(Protocol::Http1);
    d.complete(r);
    let s = d.submit(&tls, h1());
    assert_eq!(d.dials.len(), 2, "the idle plain connection is not used for https");
    d.connect_all(Protocol::Http1);
    let other_tls = Origin { tls: 7, ..tls.clone() };
    d.complete(s);
    d.submit(&other_tls, h1());
    assert_eq!(d.dials.len(), 3, "another TLS configuration is another origin");
}

#[test]
fn a_cancelled_http1_exchange_closes_its_connection_and_a_queued_one_just_leaves() {
    let config = Config { max_connections_per_origin: 1, ..Config::default() };
    let mut d = Driver::new(config);
    let a = d.submit(&origin(), h1());
    let b = d.submit(&origin(), h1());
    let c = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    d.hub.cancel(d.now, b);
    d.drain();
    d.hub.cancel(d.now, a);
    d.drain();
    assert_eq!(d.closes[0].2, CloseReason::Abandoned);
    d.connect_all(Protocol::Http1);
    d.complete(c);
    assert_eq!(d.hub.stats().cancelled, 2);
    assert!(!d.answers.contains_key(&a) && !d.answers.contains_key(&b));
}

#[test]
fn a_retried_request_goes_ahead_of_those_queued_after_it() {
    let config = Config { max_connections_per_origin: 1, ..Config::default() };
    let mut d = Driver::new(config);
    let (first, conn) = on_a_reused_connection(&mut d, h1());
    let second = d.submit(&origin(), h1());
    d.peer_close(conn, Outcome::ClosedBeforeSend);
    d.connect_all(Protocol::Http1);
    assert!(d.assigned.contains_key(&first) && !d.assigned.contains_key(&second));
    d.complete(first);
    assert!(d.assigned.contains_key(&second));
}

#[test]
fn an_h2c_upgrade_turns_a_connection_into_a_multiplexed_one() {
    let mut d = Driver::new(Config::default());
    let first = d.submit(&origin(), h1());
    d.connect_all(Protocol::Http1);
    let conn = d.assigned[&first];
    d.hub.handle_upgraded(d.now, conn);
    d.drain();
    let more: Vec<_> = (0..5).map(|_| d.submit(&origin(), h1())).collect();
    assert!(more.iter().all(|r| d.assigned[r] == conn), "multiplexed on the upgraded connection");
    assert_eq!(d.dials.len(), 1);
    for r in more.into_iter().chain([first]) {
        d.complete(r);
    }
    assert_eq!(d.answers.len(), 6);
}
