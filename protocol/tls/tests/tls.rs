//! Tls<C> end to end, in memory: a Tls server and a Tls client wrapping
//! sockless-h1 and sockless-h2 connections.

mod common;

use common::*;
use rustls::AlertDescription;
use sockless_core::{Bytes, CloseReason, Connection, Duration, Error, Event, Instant, Method, RequestHead, UserError};
use sockless_tls::{
    client_config, server_config, CertifiedKey, Config, Roots, Tls, TlsErrorKind, ALPN_H2, ALPN_HTTP11,
};
use std::sync::Arc;

struct Pki {
    ca: Ca,
    server: CertifiedKey,
    client: CertifiedKey,
}

fn pki() -> Pki {
    let ca = Ca::new("sockless test CA");
    let server = ca.leaf(&["localhost", "127.0.0.1"]);
    let client = ca.leaf(&["client.example"]);
    Pki { ca, server, client }
}

fn server_cfg(p: &Pki, alpn: &[&[u8]], mtls: bool) -> Arc<rustls::ServerConfig> {
    let roots = if mtls { Some(p.ca.roots()) } else { None };
    server_config(p.server.0.clone(), p.server.1.clone_key(), alpn, roots).unwrap()
}

fn client_cfg(p: &Pki, alpn: &[&[u8]], cert: Option<&CertifiedKey>) -> Arc<rustls::ClientConfig> {
    client_config(Roots::Store(p.ca.roots()), alpn, cert.map(|(c, k)| (c.clone(), k.clone_key()))).unwrap()
}

fn pair(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
    name: &str,
) -> (Tls<Either>, Tls<Either>) {
    let now = Instant::ZERO;
    let s = Tls::server(server, now, Either::server).unwrap();
    let c = Tls::client(client, name, now, Either::client).unwrap();
    (s, c)
}

fn kind(t: &Tls<Either>) -> Option<TlsErrorKind> {
    t.last_error().map(|e| e.kind())
}

/// The connection reported its failure as an error and then closed with it.
fn assert_failed(log: &Log) {
    let errs = log.errors();
    assert_eq!(errs.len(), 1, "{:?}", log.events);
    let Event::Error(pe) = errs[0] else { unreachable!() };
    assert_eq!(log.events.last(), Some(&Event::Closed(CloseReason::Error(*pe))), "{:?}", log.events);
}

fn handshake(net: &mut Net, c: &mut Tls<Either>, capp: &mut Client, s: &mut Tls<Either>, sapp: &mut Server) {
    net.run(c, capp, s, sapp);
}

#[test]
fn h1_request_response_over_tls() {
    let p = pki();
    let (mut s, mut c) =
        pair(server_cfg(&p, &[ALPN_H2, ALPN_HTTP11], false), client_cfg(&p, &[ALPN_HTTP11], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(11), Client::default());
    let mut net = Net::simple();
    assert!(s.is_handshaking() && c.is_handshaking());
    handshake(&mut net, &mut c, &mut capp, &mut s, &mut sapp);
    assert!(!s.is_handshaking() && !c.is_handshaking());
    assert_eq!(capp.log.events, vec![Event::Ready { reusable: true }]);
    assert!(sapp.log.events.is_empty());
    assert!(matches!(s.inner(), Some(Either::H1Server(_))));
    assert!(matches!(c.inner(), Some(Either::H1Client(_))));

    let stream = c.send_request(&post("/upload", 5), false).unwrap();
    capp.sender.queue(stream, Bytes::from_static(b"hello"), true);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let sstream = streams(&sapp.log)[0];
    assert_eq!(sapp.log.body(sstream), b"hello");
    assert!(matches!(&capp.log.events[1], Event::Response { head, .. } if head.status == 200));
    assert_eq!(capp.log.body(stream), &pattern(11, 7)[..]);
    assert!(capp.log.events.contains(&Event::EndStream { stream }));
    assert!(s.last_error().is_none() && c.last_error().is_none());
}

#[test]
fn h2_request_response_over_tls() {
    let p = pki();
    let (mut s, mut c) = pair(
        server_cfg(&p, &[ALPN_H2, ALPN_HTTP11], false),
        client_cfg(&p, &[ALPN_H2, ALPN_HTTP11], None),
        "localhost",
    );
    let (mut sapp, mut capp) = (Server::new(1000), Client::default());
    let mut net = Net::simple();
    handshake(&mut net, &mut c, &mut capp, &mut s, &mut sapp);
    assert!(c.inner().unwrap().is_h2() && s.inner().unwrap().is_h2());
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = c.send_request(&post("https://localhost/up", 100 + i), false).unwrap();
        capp.sender.queue(id, pattern(100 + i, i as u8), true);
        ids.push(id);
    }
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let sstreams = streams(&sapp.log);
    assert_eq!(sstreams.len(), 3);
    for (i, id) in sstreams.iter().enumerate() {
        assert_eq!(sapp.log.body(*id), &pattern(100 + i, i as u8)[..]);
    }
    for id in ids {
        assert_eq!(capp.log.body(id), &pattern(1000, 7)[..]);
        assert!(capp.log.events.contains(&Event::EndStream { stream: id }));
    }
    assert!(capp.log.errors().is_empty() && sapp.log.errors().is_empty());
}

#[test]
fn alpn_picks_the_protocol_and_the_factory_sees_it() {
    let p = pki();
    let both: &[&[u8]] = &[ALPN_H2, ALPN_HTTP11];
    type Case<'a> = (&'a [&'a [u8]], &'a [&'a [u8]], Option<&'a [u8]>);
    let cases: &[Case] = &[
        (both, both, Some(ALPN_H2)),
        (&[ALPN_HTTP11, ALPN_H2], &[ALPN_H2, ALPN_HTTP11], Some(ALPN_HTTP11)), // the server's preference wins
        (both, &[ALPN_HTTP11], Some(ALPN_HTTP11)),
        (both, &[ALPN_H2], Some(ALPN_H2)),
        (both, &[], None),
        (&[], both, None),
    ];
    for (server_alpn, client_alpn, expected) in cases {
        let seen = Arc::new(std::sync::Mutex::new(None));
        let seen2 = seen.clone();
        let mut s = Tls::server(server_cfg(&p, server_alpn, false), Instant::ZERO, move |hs, now| {
            *seen2.lock().unwrap() = Some(hs.alpn.clone());
            Either::server(hs, now)
        })
        .unwrap();
        let mut c = Tls::client(client_cfg(&p, client_alpn, None), "localhost", Instant::ZERO, Either::client).unwrap();
        let (mut sapp, mut capp) = (Server::new(0), Client::default());
        Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
        let expected = expected.map(<[u8]>::to_vec);
        assert_eq!(*seen.lock().unwrap(), Some(expected.clone()));
        assert_eq!(c.handshake().unwrap().alpn, expected);
        assert_eq!(s.inner().unwrap().is_h2(), expected.as_deref() == Some(ALPN_H2));
        assert_eq!(c.inner().unwrap().is_h2(), expected.as_deref() == Some(ALPN_H2));
    }
}

#[test]
fn no_shared_alpn_protocol_is_a_clear_error_on_both_sides() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_H2], false), client_cfg(&p, &[ALPN_HTTP11], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&s), Some(TlsErrorKind::NoApplicationProtocol));
    assert_eq!(kind(&c), Some(TlsErrorKind::AlertReceived(AlertDescription::NoApplicationProtocol)));
    assert!(c.last_error().unwrap().to_string().contains("none of our ALPN protocols"), "{}", c.last_error().unwrap());
    assert_failed(&sapp.log);
    assert_failed(&capp.log);
    assert!(s.inner().is_none() && c.inner().is_none());
    assert!(s.is_closed() && c.is_closed());
}

#[test]
fn sni_is_visible_on_the_server() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    Net::simple().run(&mut c, &mut Client::default(), &mut s, &mut Server::new(0));
    assert_eq!(s.handshake().unwrap().sni.as_deref(), Some("localhost"));
    assert_eq!(c.handshake().unwrap().sni.as_deref(), Some("localhost"));
    assert!(c.handshake().unwrap().protocol_version.is_some());
    assert_eq!(c.handshake().unwrap().peer_certificates, p.server.0);

    // An IP address is verified against the certificate, but never sent as SNI.
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "127.0.0.1");
    Net::simple().run(&mut c, &mut Client::default(), &mut s, &mut Server::new(0));
    assert!(c.last_error().is_none(), "{:?}", c.last_error());
    assert_eq!(s.handshake().unwrap().sni, None);
}

#[test]
fn a_name_the_certificate_does_not_cover_is_refused() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "other.example");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&c), Some(TlsErrorKind::NameMismatch));
    assert!(matches!(kind(&s), Some(TlsErrorKind::AlertReceived(_))), "{:?}", s.last_error());
    assert_failed(&capp.log);
    assert_failed(&sapp.log);
}

#[test]
fn an_invalid_server_name_is_refused_up_front() {
    let p = pki();
    let err = Tls::client(client_cfg(&p, &[], None), "not a host name", Instant::ZERO, Either::client).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::InvalidServerName);
}

#[test]
fn mtls_succeeds_with_a_client_certificate() {
    let p = pki();
    let (mut s, mut c) =
        pair(server_cfg(&p, &[ALPN_H2], true), client_cfg(&p, &[ALPN_H2], Some(&p.client)), "localhost");
    let (mut sapp, mut capp) = (Server::new(3), Client::default());
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(s.handshake().unwrap().peer_certificates, p.client.0);
    let id = c.send_request(&RequestHead::new(Method::Get, "https://localhost/"), true).unwrap();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(capp.log.body(id), &pattern(3, 7)[..]);
}

#[test]
fn mtls_without_a_client_certificate_fails_clearly_on_both_sides() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], true), client_cfg(&p, &[], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&s), Some(TlsErrorKind::CertificateRequired));
    assert!(s.last_error().unwrap().during_handshake());
    assert!(s.last_error().unwrap().to_string().contains("client certificate is required"));
    assert_eq!(kind(&c), Some(TlsErrorKind::AlertReceived(AlertDescription::CertificateRequired)));
    assert!(c.last_error().unwrap().to_string().contains("requires a client certificate"));
    assert_failed(&sapp.log);
    assert_failed(&capp.log);
    assert!(s.inner().is_none());
    // Sticky: every later input call returns the error.
    for t in [&mut s, &mut c] {
        assert!(matches!(t.handle_input(Instant::ZERO, b"more"), Err(Error::Protocol(_))));
        assert!(t.input_buffer().is_empty());
        assert!(matches!(t.send_request(&post("/", 0), true), Err(Error::User(UserError::Closed))));
    }
}

#[test]
fn mtls_with_a_client_certificate_from_an_unknown_ca_fails() {
    let p = pki();
    let stranger = Ca::new("stranger").leaf(&["client.example"]);
    let (mut s, mut c) = pair(server_cfg(&p, &[], true), client_cfg(&p, &[], Some(&stranger)), "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&s), Some(TlsErrorKind::UnknownIssuer));
    assert_eq!(kind(&c), Some(TlsErrorKind::AlertReceived(AlertDescription::UnknownCA)));
    assert_failed(&sapp.log);
    assert_failed(&capp.log);
}

#[test]
fn an_unknown_ca_is_a_clear_error_on_both_sides() {
    let p = pki();
    let other = Ca::new("other CA");
    let client = client_config(Roots::from_certificates([&other.cert()]).unwrap(), &[ALPN_HTTP11], None).unwrap();
    let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_HTTP11], false), client, "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&c), Some(TlsErrorKind::UnknownIssuer));
    assert!(c.last_error().unwrap().to_string().contains("not signed by a trusted certificate authority"));
    assert!(c.last_error().unwrap().rustls_error().is_some());
    assert_eq!(kind(&s), Some(TlsErrorKind::AlertReceived(AlertDescription::UnknownCA)));
    assert_failed(&capp.log);
    assert_failed(&sapp.log);
    assert!(c.handshake().is_none() && s.handshake().is_none());
    assert!(matches!(c.send_request(&post("/", 0), true), Err(Error::User(UserError::Closed))));
}

#[cfg(feature = "webpki-roots")]
#[test]
fn the_webpki_roots_do_not_trust_a_private_ca() {
    let p = pki();
    let client = client_config(Roots::WebPki, &[], None).unwrap();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client, "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(kind(&c), Some(TlsErrorKind::UnknownIssuer));
    assert!(Roots::WebPki.into_store().len() > 50);
}

#[test]
fn commands_before_the_handshake_are_busy() {
    let p = pki();
    let (_, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    assert_eq!(c.send_request(&post("/", 0), true), Err(Error::User(UserError::Busy)));
    assert_eq!(c.ping(Instant::ZERO), Err(Error::User(UserError::Busy)));
    assert_eq!(c.poll_event(), None);
    // The ClientHello is ready at once.
    let mut slices: [&[u8]; 4] = [&[]; 4];
    assert_eq!(c.poll_transmit(&mut slices), 1);
    assert_eq!(slices[0][0], 0x16, "a handshake record");
}

#[test]
fn the_handshake_times_out() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let deadline = Instant::ZERO + Duration::from_secs(10);
    assert_eq!(s.poll_timeout(), Some(deadline));
    // The client's hello is lost on the way.
    let mut lost: [&[u8]; 4] = [&[]; 4];
    let n = c.poll_transmit(&mut lost);
    let len: usize = lost[..n].iter().map(|s| s.len()).sum();
    c.advance_transmit(len);

    s.handle_timeout(Instant::from_millis(9_999));
    assert!(s.last_error().is_none());
    s.handle_timeout(deadline);
    assert_eq!(kind(&s), Some(TlsErrorKind::HandshakeTimeout));
    assert!(s.last_error().unwrap().during_handshake());
    // The error is reported at once; Closed waits for the close_notify to be written.
    let mut log = Log::default();
    log.events.extend(s.poll_event());
    assert!(matches!(log.events[0], Event::Error(_)));
    assert_eq!(s.poll_event(), None);
    assert_eq!(s.poll_timeout(), Some(deadline), "a turn of the driver's loop is asked for");
    assert!(!s.is_closed());
    let mut net = Net::simple();
    net.now = deadline;
    net.ba.carry(&mut s, &mut c, deadline);
    log.events.extend(std::iter::from_fn(|| s.poll_event()));
    assert_failed(&log);
    assert!(s.is_closed());
    assert_eq!(s.poll_timeout(), None);
    // rustls ignores an unauthenticated close_notify during the handshake;
    // the transport's end that follows is what the client sees.
    assert!(c.last_error().is_none());
    c.handle_eof(deadline);
    let mut clog = Log::default();
    clog.events.extend(std::iter::from_fn(|| c.poll_event()));
    assert_eq!(kind(&c), Some(TlsErrorKind::ClosedDuringHandshake));
    assert!(c.last_error().unwrap().to_string().contains("closed the connection during the TLS handshake"));
    assert_failed(&clog);
}

#[test]
fn a_configured_handshake_timeout_applies_and_ends_with_the_handshake() {
    let p = pki();
    let cfg = Config { handshake_timeout: Duration::from_secs(3), ..Config::default() };
    let mut s = Tls::server(server_cfg(&p, &[], false), Instant::ZERO, Either::server).unwrap().with_config(cfg);
    let mut c = Tls::client(client_cfg(&p, &[], None), "localhost", Instant::ZERO, Either::client).unwrap();
    assert_eq!(s.poll_timeout(), Some(Instant::from_millis(3_000)));
    Net::simple().run(&mut c, &mut Client::default(), &mut s, &mut Server::new(0));
    assert!(s.inner().is_some());
    // Now the inner connection's timers rule (h1's header-read timeout).
    assert_eq!(s.poll_timeout(), s.inner().unwrap().poll_timeout());
    assert_ne!(s.poll_timeout(), Some(Instant::from_millis(3_000)));
    s.handle_timeout(Instant::from_millis(3_000));
    assert!(s.last_error().is_none());
}

#[test]
fn the_client_times_out_a_silent_server() {
    let p = pki();
    let (_, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let mut slices: [&[u8]; 4] = [&[]; 4];
    let n = c.poll_transmit(&mut slices);
    let len: usize = slices[..n].iter().map(|s| s.len()).sum();
    c.advance_transmit(len);
    let t = c.poll_timeout().unwrap();
    c.handle_timeout(t);
    assert_eq!(kind(&c), Some(TlsErrorKind::HandshakeTimeout));
}

#[test]
fn eof_during_the_handshake() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    Net::simple().ab.carry(&mut c, &mut s, Instant::ZERO);
    s.handle_eof(Instant::ZERO);
    assert_eq!(kind(&s), Some(TlsErrorKind::ClosedDuringHandshake));
    let mut log = Log::default();
    loop {
        let mut slices: [&[u8]; 4] = [&[]; 4];
        let n = s.poll_transmit(&mut slices);
        let len: usize = slices[..n].iter().map(|s| s.len()).sum();
        s.advance_transmit(len);
        match s.poll_event() {
            Some(e) => log.events.push(e),
            None => break,
        }
    }
    assert_failed(&log);
}

#[test]
fn close_notify_from_the_server_when_it_closes() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(4), Client::default());
    sapp.close = true;
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let id = c.send_request(&post("/", 0), true).unwrap();
    // Run the server (the client's events wait): after `Connection: close`
    // its h1 closes, close_notify follows the response, then Closed.
    for _ in 0..10 {
        net.ab.carry(&mut c, &mut s, net.now);
        while let Some(e) = s.poll_event() {
            App::on_event(&mut sapp, &mut s, &e);
        }
        App::on_turn(&mut sapp, &mut s);
        net.ba.carry(&mut s, &mut c, net.now);
    }
    assert_eq!(sapp.log.events.last(), Some(&Event::Closed(CloseReason::Done)));
    assert!(s.is_closed());
    assert!(c.received_close_notify());
    // The client still reads the whole response, then its h1 sees the end.
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(capp.log.body(id), &pattern(4, 7)[..]);
    assert!(matches!(capp.log.events.last(), Some(Event::Closed(_))), "{:?}", capp.log.events);
    assert!(c.is_closed());
    assert!(capp.log.errors().is_empty() && sapp.log.errors().is_empty());
}

#[test]
fn close_notify_from_the_client_on_shutdown() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(4), Client::default());
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    c.send_request(&post("/", 0), true).unwrap();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert!(sapp.log.closed().is_none() && capp.log.closed().is_none());
    c.shutdown(Instant::ZERO);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert!(matches!(capp.log.events.last(), Some(Event::Closed(CloseReason::Done))), "{:?}", capp.log.events);
    // The server's h1 sees its end of input and closes; it answers with its own close_notify.
    assert!(s.received_close_notify());
    assert_eq!(sapp.log.events.last(), Some(&Event::Closed(CloseReason::PeerClosed)));
    assert!(c.received_close_notify() || net.ba.dropped > 0, "the server's close_notify was sent");
    assert!(s.is_closed() && c.is_closed());
}

#[test]
fn close_notify_over_h2() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_H2], false), client_cfg(&p, &[ALPN_H2], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(4), Client::default());
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let id = c.send_request(&RequestHead::new(Method::Get, "https://localhost/"), true).unwrap();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(capp.log.body(id), &pattern(4, 7)[..]);
    s.shutdown(Instant::ZERO);
    // h2's graceful shutdown waits for a PING ack or a second.
    for ms in [0, 1_000, 2_000, 5_000] {
        net.now = Instant::from_millis(ms);
        net.run(&mut c, &mut capp, &mut s, &mut sapp);
    }
    assert!(matches!(sapp.log.events.last(), Some(Event::Closed(_))), "{:?}", sapp.log.events);
    assert!(matches!(capp.log.events.last(), Some(Event::Closed(_))), "{:?}", capp.log.events);
    assert!(c.received_close_notify() || s.received_close_notify());
    assert!(s.is_closed() && c.is_closed());
}

#[test]
fn a_transport_eof_without_close_notify_still_ends_the_inner_connection() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    s.handle_eof(Instant::ZERO);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert!(!s.received_close_notify());
    assert_eq!(sapp.log.events.last(), Some(&Event::Closed(CloseReason::PeerClosed)));
    assert!(c.received_close_notify(), "the server still says goodbye properly");
}

fn exchange_large(alpn: &'static [u8], upload: usize, download: usize, max_chunk: usize, input: Input) -> Net {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[alpn], false), client_cfg(&p, &[alpn], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(download), Client::default());
    let mut net = Net::new(max_chunk, input, 99);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let id = c.send_request(&post("https://localhost/big", upload), false).unwrap();
    capp.sender.queue(id, pattern(upload, 3), true);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    let sid = streams(&sapp.log)[0];
    assert!(sapp.log.body(sid) == pattern(upload, 3), "upload differs");
    assert!(capp.log.body(id) == pattern(download, 7), "download differs");
    assert!(capp.log.events.contains(&Event::EndStream { stream: id }));
    // Ciphertext waiting for the transport stays near the cap.
    let cap = Config::default().max_transmit_buffer + 20 * 1024;
    assert!(net.ab.max_offered <= cap && net.ba.max_offered <= cap, "{} {}", net.ab.max_offered, net.ba.max_offered);
    net
}

#[test]
fn large_bodies_over_h1() {
    let net = exchange_large(ALPN_HTTP11, 1_500_000, 3_000_000, 1 << 20, Input::Copy);
    assert!(net.ab.carried > 1_500_000 && net.ba.carried > 3_000_000);
    exchange_large(ALPN_HTTP11, 300_000, 700_000, 5_000, Input::Lent);
}

#[test]
fn large_bodies_over_h2() {
    let net = exchange_large(ALPN_H2, 1_500_000, 3_000_000, 1 << 20, Input::Copy);
    assert!(net.ab.carried > 1_500_000 && net.ba.carried > 3_000_000);
    exchange_large(ALPN_H2, 300_000, 700_000, 5_000, Input::Owned);
}

/// One h1 conversation (two pipelined exchanges, bodies both ways), its
/// events normalized.
fn h1_conversation(max_chunk: usize, input: Input, seed: u64) -> (Vec<Event>, Vec<Event>) {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_HTTP11], false), client_cfg(&p, &[ALPN_HTTP11], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(20_000), Client::default());
    let mut net = Net::new(max_chunk, input, seed);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    for i in 0..2 {
        let id = c.send_request(&post("/split", 9_000 + i), false).unwrap();
        capp.sender.queue(id, pattern(9_000 + i, i as u8), true);
        net.run(&mut c, &mut capp, &mut s, &mut sapp);
    }
    assert!(s.last_error().is_none() && c.last_error().is_none());
    (sapp.log.normalized(), capp.log.normalized())
}

#[test]
fn ciphertext_split_anywhere_gives_the_same_events() {
    let reference = h1_conversation(1 << 20, Input::Copy, 1);
    assert_eq!(reference.0.iter().filter(|e| matches!(e, Event::Request { .. })).count(), 2);
    let mut rng = Rng(0x5eed);
    for seed in 1..=12u64 {
        let input = [Input::Copy, Input::Lent, Input::Owned][seed as usize % 3];
        let max_chunk = match seed {
            1 => 1,
            2 => 5,
            _ => 1 + rng.below(3_000),
        };
        let got = h1_conversation(max_chunk, input, seed);
        assert_eq!(got.0, reference.0, "server events, seed {seed}, {input:?}, chunks up to {max_chunk}");
        assert_eq!(got.1, reference.1, "client events, seed {seed}, {input:?}, chunks up to {max_chunk}");
    }
}

#[test]
fn h2_split_anywhere_delivers_the_same_bodies() {
    for (seed, input) in [(3u64, Input::Copy), (4, Input::Lent), (5, Input::Owned)] {
        let p = pki();
        let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_H2], false), client_cfg(&p, &[ALPN_H2], None), "localhost");
        let (mut sapp, mut capp) = (Server::new(30_000), Client::default());
        let mut net = Net::new(1 + seed as usize * 300, input, seed);
        net.run(&mut c, &mut capp, &mut s, &mut sapp);
        let ids: Vec<_> = (0..3)
            .map(|i| {
                let id = c.send_request(&post("https://localhost/", 20_000 + i), false).unwrap();
                capp.sender.queue(id, pattern(20_000 + i, i as u8), true);
                id
            })
            .collect();
        net.run(&mut c, &mut capp, &mut s, &mut sapp);
        let mut bodies: Vec<Vec<u8>> = streams(&sapp.log).iter().map(|id| sapp.log.body(*id)).collect();
        bodies.sort_by_key(Vec::len);
        for (i, b) in bodies.iter().enumerate() {
            assert!(*b == pattern(20_000 + i, i as u8), "seed {seed}: body {i}");
        }
        for id in ids {
            assert!(capp.log.body(id) == pattern(30_000, 7), "seed {seed}");
        }
    }
}

#[test]
fn garbage_instead_of_a_handshake_is_a_protocol_violation() {
    let p = pki();
    let mut s = Tls::server(server_cfg(&p, &[], false), Instant::ZERO, Either::server).unwrap();
    let r = s.handle_input(Instant::ZERO, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
    assert!(matches!(kind(&s), Some(TlsErrorKind::ProtocolViolation)), "{:?}", s.last_error());
    assert!(s.last_error().unwrap().during_handshake());
}

#[test]
fn a_corrupted_record_after_the_handshake_closes_with_an_error() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[], false), client_cfg(&p, &[], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    c.send_request(&post("/", 0), true).unwrap();
    let mut slices: [&[u8]; 4] = [&[]; 4];
    let n = c.poll_transmit(&mut slices);
    let mut bytes = slices[..n].concat();
    c.advance_transmit(bytes.len());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    assert!(matches!(s.handle_input(Instant::ZERO, &bytes), Err(Error::Protocol(_))));
    assert_eq!(kind(&s), Some(TlsErrorKind::ProtocolViolation));
    assert!(!s.last_error().unwrap().during_handshake());
    Net::simple().run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_failed(&sapp.log);
    assert!(
        matches!(kind(&c), Some(TlsErrorKind::AlertReceived(AlertDescription::BadRecordMac))),
        "{:?}",
        c.last_error()
    );
}

#[test]
fn the_inner_connections_backpressure_reaches_the_transport() {
    let p = pki();
    let inner_cfg = sockless_h1::Config {
        max_buffered_events: 4 * 1024,
        max_buffered_input: 16 * 1024,
        ..sockless_h1::Config::server()
    };
    let mut s = Tls::server(server_cfg(&p, &[], false), Instant::ZERO, move |_, now| {
        sockless_h1::ServerConnection::new(inner_cfg, now)
    })
    .unwrap();
    let mut c = Tls::client(client_cfg(&p, &[], None), "localhost", Instant::ZERO, Either::client).unwrap();
    let (mut sapp, mut capp) = (Server::new(0), Client::default());
    let mut net = Net::simple();
    net.run(&mut c, &mut capp, &mut s, &mut sapp);

    // The whole request, encrypted, offered at once to a server whose
    // application reads no events.
    const LEN: usize = 300_000;
    let id = c.send_request(&post("/", LEN), false).unwrap();
    capp.sender.queue(id, pattern(LEN, 5), true);
    let mut wire = Vec::new();
    for _ in 0..1000 {
        App::on_turn(&mut capp, &mut c);
        let mut slices: [&[u8]; 4] = [&[]; 4];
        let n = c.poll_transmit(&mut slices);
        if n == 0 {
            break;
        }
        let bytes = slices[..n].concat();
        c.advance_transmit(bytes.len());
        wire.extend_from_slice(&bytes);
    }
    assert!(wire.len() > LEN);
    let first = s.handle_input(Instant::ZERO, &wire).unwrap();
    assert!(first < wire.len() / 2, "took {first} of {}", wire.len());
    assert_eq!(s.handle_input(Instant::ZERO, &wire[first..]).unwrap(), 0, "nothing more until events are read");
    wire.drain(..first);

    // Reading events lets the refused plaintext through, then more ciphertext.
    let mut rounds = 0;
    while !wire.is_empty() || sapp.log.events.iter().all(|e| !matches!(e, Event::EndStream { .. })) {
        rounds += 1;
        assert!(rounds < 10_000, "stuck with {} bytes on the wire", wire.len());
        while let Some(e) = s.poll_event() {
            App::on_event(&mut sapp, &mut s, &e);
        }
        let n = s.handle_input(Instant::ZERO, &wire).unwrap();
        wire.drain(..n);
    }
    let sid = streams(&sapp.log)[0];
    assert!(sapp.log.body(sid) == pattern(LEN, 5));
    assert!(rounds > 3, "{rounds}");
}

#[test]
fn tls12_works_the_same() {
    let p = pki();
    let server = rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12])
        .with_no_client_auth()
        .with_single_cert(p.server.0.clone(), p.server.1.clone_key())
        .unwrap();
    let (mut s, mut c) = pair(Arc::new(server), client_cfg(&p, &[], Some(&p.client)), "localhost");
    let (mut sapp, mut capp) = (Server::new(5), Client::default());
    let mut net = Net::new(700, Input::Lent, 5);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(c.handshake().unwrap().protocol_version, Some(rustls::ProtocolVersion::TLSv1_2));
    let id = c.send_request(&post("/", 3), false).unwrap();
    capp.sender.queue(id, Bytes::from_static(b"abc"), true);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert_eq!(capp.log.body(id), &pattern(5, 7)[..]);
    c.shutdown(Instant::ZERO);
    net.run(&mut c, &mut capp, &mut s, &mut sapp);
    assert!(s.received_close_notify());
    assert_eq!(sapp.log.events.last(), Some(&Event::Closed(CloseReason::PeerClosed)));
}

#[test]
fn pem_certificates_and_keys_load() {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let pem = format!("{}{}", ck.cert.pem(), ck.signing_key.serialize_pem());
    let chain = sockless_tls::certs_from_pem(pem.as_bytes()).unwrap();
    assert_eq!(chain, vec![ck.cert.der().clone()]);
    let key = sockless_tls::key_from_pem(pem.as_bytes()).unwrap();
    let server = server_config(chain.clone(), key, &[ALPN_HTTP11], None).unwrap();
    let client = client_config(Roots::from_certificates(&chain).unwrap(), &[ALPN_HTTP11], None).unwrap();
    let (mut s, mut c) = pair(server, client, "localhost");
    Net::simple().run(&mut c, &mut Client::default(), &mut s, &mut Server::new(0));
    assert!(s.handshake().is_some() && c.handshake().is_some());
    assert!(sockless_tls::key_from_pem(b"no key here").is_err());
    // A key that does not match the certificate is refused up front.
    let other = rcgen::KeyPair::generate().unwrap();
    let other = rustls::pki_types::PrivatePkcs8KeyDer::from(other.serialize_der()).into();
    let err = server_config(chain, other, &[], None).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Config);
}

#[cfg(feature = "self-signed")]
#[test]
fn a_self_signed_localhost_certificate_serves_https() {
    let (chain, key) = sockless_tls::self_signed_localhost().unwrap();
    let server = server_config(chain.clone(), key, &[ALPN_H2, ALPN_HTTP11], None).unwrap();
    for name in ["localhost", "127.0.0.1", "::1"] {
        let client = client_config(Roots::from_certificates(&chain).unwrap(), &[ALPN_H2], None).unwrap();
        let (mut s, mut c) = pair(server.clone(), client, name);
        Net::simple().run(&mut c, &mut Client::default(), &mut s, &mut Server::new(0));
        assert!(c.last_error().is_none(), "{name}: {:?}", c.last_error());
        assert!(c.handshake().unwrap().is_h2());
    }
}

/// The owned output path (completion IO) and the lent one offer the same
/// ciphertext at every moment, whichever was used before and however much
/// of it a partial send took: here a 200 kB response leaves the server in
/// sends of varying size, alternating between the two paths, and the client
/// reads it whole.
#[test]
fn owned_and_lent_transmit_agree_over_partial_sends() {
    let p = pki();
    let (mut s, mut c) = pair(server_cfg(&p, &[ALPN_HTTP11], false), client_cfg(&p, &[ALPN_HTTP11], None), "localhost");
    let (mut sapp, mut capp) = (Server::new(200_000), Client::default());
    let mut net = Net::simple();
    handshake(&mut net, &mut c, &mut capp, &mut s, &mut sapp);
    let stream = c.send_request(&post("/upload", 5), false).unwrap();
    capp.sender.queue(stream, Bytes::from_static(b"hello"), true);
    let now = Instant::ZERO;
    let mut held: Vec<Bytes> = Vec::new();
    let mut step = 0usize;
    for _ in 0..100_000 {
        let mut moved = false;
        capp.on_turn(&mut c);
        sapp.on_turn(&mut s);
        // Client to server: the lent path, whole.
        let mut slices: [&[u8]; 8] = [&[]; 8];
        let n = c.poll_transmit(&mut slices);
        let flat = slices[..n].concat();
        if !flat.is_empty() {
            assert_eq!(s.handle_input(now, &flat).unwrap(), flat.len());
            c.advance_transmit(flat.len());
            moved = true;
        }
        while let Some(e) = s.poll_event() {
            sapp.on_event(&mut s, &e);
            moved = true;
        }
        // Server to client: the two paths must agree, then a partial send.
        step += 1;
        held.clear();
        s.poll_transmit_owned(&mut held, usize::MAX);
        let owned = held.concat();
        let mut slices: [&[u8]; 64] = [&[]; 64];
        let n = s.poll_transmit(&mut slices);
        assert_eq!(slices[..n].concat(), owned, "step {step}");
        let k = owned.len().min([1, 700, 5_000, 17_000, usize::MAX][step % 5]);
        if k > 0 {
            assert_eq!(c.handle_input(now, &owned[..k]).unwrap(), k);
            s.advance_transmit(k);
            moved = true;
        }
        while let Some(e) = c.poll_event() {
            capp.on_event(&mut c, &e);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    assert_eq!(sapp.log.body(streams(&sapp.log)[0]), b"hello");
    assert_eq!(capp.log.body(stream), &pattern(200_000, 7)[..]);
    assert!(capp.log.events.contains(&Event::EndStream { stream }));
}
