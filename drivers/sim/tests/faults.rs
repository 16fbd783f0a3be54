//! Resets, half-closes and refusals in mid-conversation give the right
//! errors on both sides; a slow HTTP/2 reader never deadlocks flow control.

mod common;

use bytes::Bytes;
use common::{fixed, Client, EchoServer, Planned};
use sockless_core::{Duration, Instant, Method, ProtocolErrorKind as Kind, RequestHead};
use sockless_sim::{for_each_seed, run, Fault, Rng, Scenario, Stop, Transport};

const MS: Duration = Duration::from_millis(1);

fn big_post(h2: bool, size: usize) -> Planned {
    let head = if h2 {
        RequestHead::new(Method::Post, "https://sim.test/upload")
    } else {
        RequestHead::new(Method::Post, "/upload").header("Host", "sim.test").header("Content-Length", size.to_string())
    };
    Planned { head, body: Bytes::from(vec![7u8; size]), piece: 16 * 1024 }
}

/// A link slow enough that a 100 kB body takes about a second.
fn slow(seed: u64) -> Scenario {
    let mut s = fixed(seed, 5 * MS);
    s.client_link.bandwidth = Some(100_000);
    s.client_link.max_segment = 1460;
    s.client_link.buffer = 16 * 1024;
    s
}

#[test]
fn h1_reset_mid_body() {
    let scenario = slow(1).with_fault(Fault::ResetAt(Instant::ZERO + 300 * MS));
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![big_post(false, 100_000)], false);
    let mut sapp = EchoServer::default();
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    assert_eq!(capp.done, 0);
    assert!(sapp.errors.iter().any(|e| e.kind == Kind::IncompleteBody), "server: {:?}", sapp.errors);
    assert!(capp.errors.iter().any(|e| e.kind == Kind::IncompleteHead), "client: {:?}", capp.errors);
    assert_eq!(sapp.transport, [Transport::Reset]);
    assert_eq!(capp.transport, [Transport::Reset]);
    assert!(sapp.closed && capp.closed);
}

#[test]
fn h1_client_half_close_mid_body() {
    let scenario = slow(2).with_fault(Fault::ClientHalfCloseAt(Instant::ZERO + 300 * MS));
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![big_post(false, 100_000)], false);
    let mut sapp = EchoServer::default();
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    // The server reads what was in flight, then the EOF inside the body.
    assert!(sapp.errors.iter().any(|e| e.kind == Kind::IncompleteBody), "server: {:?}", sapp.errors);
    // It answers 400 with `Connection: close` (the client may still read
    // after shutting down its write side), then closes.
    assert!(capp.failures.iter().any(|f| f.contains("status 400")), "client: {:?} {:?}", capp.failures, capp.errors);
    assert_eq!(capp.done, 0);
    assert!(capp.closed && sapp.closed);
}

#[test]
fn h1_server_half_close_mid_response() {
    let mut scenario = fixed(3, 5 * MS).with_fault(Fault::ServerHalfCloseAt(Instant::ZERO + 300 * MS));
    scenario.server_link.bandwidth = Some(100_000);
    scenario.server_link.max_segment = 1460;
    scenario.server_link.buffer = 16 * 1024;
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![big_post(false, 100_000)], false);
    let mut sapp = EchoServer::default();
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    // The echo is chunked; its end never arrives.
    assert!(capp.errors.iter().any(|e| e.kind == Kind::IncompleteBody), "client: {:?}", capp.errors);
    assert_eq!(capp.done, 0);
}

#[test]
fn h2_reset_mid_body_fails_every_stream_on_both_sides() {
    let scenario = slow(4).with_fault(Fault::ResetAt(Instant::ZERO + 300 * MS));
    let mut client = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
    let mut server = sockless_h2::H2Connection::server(sockless_h2::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![big_post(true, 100_000), big_post(true, 50_000)], true);
    let mut sapp = EchoServer::default();
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    assert_eq!(capp.done, 0);
    assert!(capp.errors.iter().any(|e| e.kind == Kind::IncompleteBody), "client: {:?}", capp.errors);
    assert!(sapp.errors.iter().any(|e| e.kind == Kind::IncompleteBody), "server: {:?}", sapp.errors);
    assert!(capp.closed && sapp.closed);
}

#[test]
fn refused_connection_is_reported() {
    let scenario = Scenario::new(5).with_fault(Fault::Refuse);
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![big_post(false, 10)], false);
    let outcome = run(&scenario, &mut client, &mut server, &mut capp, &mut EchoServer::default());
    assert_eq!(outcome.stop, Stop::Refused);
    assert_eq!(capp.transport, [Transport::Refused]);
}

#[test]
fn h2_slow_reader_never_deadlocks() {
    for_each_seed(40, |seed| {
        let mut rng = Rng::new(seed);
        let scenario = Scenario::random(seed);
        let mut sconfig = sockless_h2::Config::server();
        sconfig.initial_window_size = rng.range(1, 64 * 1024) as u32;
        sconfig.connection_window_size = (sconfig.initial_window_size * 2).max(65_535);
        let mut cconfig = sockless_h2::Config::client();
        cconfig.initial_window_size = rng.range(1, 64 * 1024) as u32;
        let mut client = sockless_h2::H2Connection::client(cconfig, Instant::ZERO);
        let mut server = sockless_h2::H2Connection::server(sconfig, Instant::ZERO);
        let plan: Vec<Planned> = (0..rng.range(1, 4)).map(|_| big_post(true, rng.range(1, 200_000) as usize)).collect();
        let n = plan.len();
        let mut capp = Client::new(plan, true);
        let mut sapp = EchoServer::default();
        sapp.release_delay = Some(Duration::from_millis(rng.range(1, 200)));
        let outcome = run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
        assert!(capp.failures.is_empty(), "seed {seed}: {:?}", capp.failures);
        assert_eq!(capp.done, n, "seed {seed}: {outcome:?} {:?} {:?}", capp.errors, sapp.errors);
    });
}
