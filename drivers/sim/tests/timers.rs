//! Timers fire at the right virtual time; an hour of waiting costs
//! microseconds.

mod common;

use common::{fixed, Client, EchoServer, Planned, RawPeer, Recorder};
use sockless_core::{
    Answer, CloseReason, Duration, ErrorCode, Event, Instant, Method, ProtocolErrorKind as Kind, RequestHead,
};
use sockless_sim::{run, Fault, Stop};

const MS: Duration = Duration::from_millis(1);

fn at(d: Duration) -> Instant {
    Instant::ZERO + d
}

#[test]
fn h1_header_read_timeout_answers_408_ten_seconds_after_the_first_byte() {
    let scenario = fixed(1, 5 * MS);
    let mut peer = RawPeer { to_send: b"GET / HTTP/1.1\r\nHo".to_vec(), ..RawPeer::default() };
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let (mut papp, mut sapp) = (Recorder::default(), Recorder::default());
    let outcome = run(&scenario, &mut peer, &mut server, &mut papp, &mut sapp);
    // The head's first byte arrives at 5 ms; the timer runs from there.
    let t = sapp.when(|e| matches!(e, Event::Error(e) if e.kind == Kind::HeaderTimeout)).expect("timeout");
    assert_eq!(t, at(Duration::from_secs(10) + 5 * MS), "{outcome:?}");
    assert!(String::from_utf8_lossy(&peer.received).starts_with("HTTP/1.1 408 Request Timeout\r\n"));
    assert!(peer.eof, "the server closed after its answer");
}

#[test]
fn h1_idle_keep_alive_timeout_closes_sixty_seconds_after_the_response() {
    let scenario = fixed(2, 5 * MS);
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let plan = vec![Planned {
        head: RequestHead::new(Method::Get, "/").header("Host", "h"),
        body: Default::default(),
        piece: 1,
    }];
    let mut capp = Client::new(plan, false);
    let mut sapp = EchoServer::default();
    let outcome = run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    assert_eq!(capp.done, 1);
    // Request at 0 arrives at 5 ms and is answered at once: idle from 5 ms.
    assert!(sapp.closed);
    assert_eq!(outcome.now, at(Duration::from_secs(60) + 10 * MS), "{outcome:?}");
    assert_eq!(capp.transport.len(), 1, "client saw the server's close");
}

#[test]
fn h1_continue_timer_releases_the_body_after_one_second() {
    /// A server that answers only once the whole body arrived, never calling read_body.
    #[derive(Default)]
    struct Silent(Recorder);
    impl sockless_sim::App<sockless_h1::ServerConnection> for Silent {
        fn on_event(&mut self, conn: &mut sockless_h1::ServerConnection, event: Event, now: Instant) {
            use sockless_core::Connection;
            if let Event::EndStream { stream } = &event {
                conn.send_response(*stream, &sockless_core::ResponseHead::new(204), true).unwrap();
            }
            self.0.events.push((now, event));
        }
    }
    let mut scenario = fixed(3, 5 * MS);
    scenario.stop_when_client_finished = true;
    let head = RequestHead::new(Method::Put, "/")
        .header("Host", "h")
        .header("Expect", "100-continue")
        .header("Content-Length", "3");
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
    let mut capp = Client::new(vec![Planned { head, body: bytes::Bytes::from_static(b"abc"), piece: 3 }], false);
    let mut sapp = Silent::default();
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    let body_at = sapp.0.when(|e| matches!(e, Event::Data { .. })).expect("body arrived");
    assert_eq!(body_at, at(Duration::from_secs(1) + 5 * MS), "released by the 1 s continue timer");
}

#[test]
fn h2_settings_ack_timeout_fires_at_ten_seconds() {
    let scenario = fixed(4, 5 * MS).with_fault(Fault::PartitionAt(Instant::ZERO));
    let mut client = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
    let mut server = sockless_h2::H2Connection::server(sockless_h2::Config::server(), Instant::ZERO);
    let (mut capp, mut sapp) = (Recorder::default(), Recorder::default());
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    for rec in [&capp, &sapp] {
        let t = rec.when(|e| matches!(e, Event::Error(e) if e.answer == Answer::GoAway(ErrorCode::SETTINGS_TIMEOUT)));
        assert_eq!(t, Some(at(Duration::from_secs(10))));
    }
}

#[test]
fn h2_ping_ack_timeout_closes_twenty_seconds_after_the_ping() {
    let scenario = fixed(5, 5 * MS).with_fault(Fault::PartitionAt(at(Duration::from_secs(1))));
    let mut config = sockless_h2::Config::client();
    config.keepalive_interval = Some(Duration::from_secs(5));
    let mut client = sockless_h2::H2Connection::client(config, Instant::ZERO);
    let mut server = sockless_h2::H2Connection::server(sockless_h2::Config::server(), Instant::ZERO);
    let (mut capp, mut sapp) = (Recorder::default(), Recorder::default());
    run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
    // Last input at 10 ms (the server's ack of our SETTINGS, sent when ours
    // arrived at 5 ms): ping at 5.010 s, dead at 25.010 s.
    let t = capp.when(|e| matches!(e, Event::Error(e) if e.kind == Kind::AckTimeout));
    assert_eq!(t, Some(at(Duration::from_secs(25) + 10 * MS)));
    assert!(capp.events.iter().any(|(_, e)| matches!(e, Event::Closed(CloseReason::Error(_)))));
}

#[test]
fn an_hour_of_idle_costs_nothing() {
    let mut scenario = fixed(6, 5 * MS);
    scenario.time_limit = Duration::from_secs(3600);
    let mut config = sockless_h1::Config::server();
    config.idle_timeout = Some(Duration::from_secs(3000));
    config.header_read_timeout = Some(Duration::from_secs(3000));
    let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
    let mut server = sockless_h1::ServerConnection::new(config, Instant::ZERO);
    let started = std::time::Instant::now();
    let outcome = run(&scenario, &mut client, &mut server, &mut Recorder::default(), &mut Recorder::default());
    // The server gives up on the silent connection at 3000 s; the client hears it 5 ms later.
    assert_eq!(outcome.now, at(Duration::from_secs(3000) + 5 * MS));
    assert!(outcome.server_closed && matches!(outcome.stop, Stop::BothClosed | Stop::Quiet));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

/// Seeded: a head dribbled over random links gets its 408 exactly
/// `header_read_timeout` after its first byte reached the server, however
/// the bytes were cut and delayed (more bytes never extend the deadline).
#[test]
fn h1_header_read_timeout_over_random_links() {
    sockless_sim::for_each_seed(300, |seed| {
        let mut scenario = sockless_sim::Scenario::random(seed);
        scenario.stop_when_client_finished = false;
        let mut rng = sockless_sim::Rng::new(seed);
        let head = b"GET /slow HTTP/1.1\r\nHost: sim\r\nX-Dribble: ";
        let cut = rng.range(1, head.len() as u64) as usize;
        let mut peer = RawPeer { to_send: head[..cut].to_vec(), ..RawPeer::default() };
        let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let (mut papp, mut sapp) = (Recorder::default(), Recorder::default());
        let outcome = run(&scenario, &mut peer, &mut server, &mut papp, &mut sapp);
        let first = outcome.server_first_read.expect("the server read the partial head");
        let t = sapp.when(|e| matches!(e, Event::Error(e) if e.kind == Kind::HeaderTimeout));
        assert_eq!(t, Some(first + Duration::from_secs(10)), "seed {seed}: {outcome:?}");
    });
}
