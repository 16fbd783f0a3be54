//! Split invariance: the same bytes, offered in any chunking, give the same
//! events and the same answers, for valid and hostile input, both roles.

mod common;

use common::{drain, feed_split, normalise};
use proptest::prelude::*;
use sockless_core::{Connection, Instant, Method, RequestHead};
use sockless_h1::{ClientConnection, Config, ServerConnection};

/// Pieces that make up plausible (and plausibly broken) HTTP/1.1 traffic.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
        Just(b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello".to_vec()),
        Just(
            b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
                .to_vec()
        ),
        Just(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok".to_vec()),
        Just(b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"Content-Length: 3\r\n".to_vec()),
        Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        Just(b"X: a\r\n b\r\n".to_vec()),
        Just(b"5\r\n12345\r\n".to_vec()),
        Just(b"0\r\n\r\n".to_vec()),
        Just(b"GET / HTTP/2.0\r\n".to_vec()),
        Just(b"Host: b\r\n".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

fn traffic() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 1..12).prop_map(|v| v.concat())
}

fn small_limits(config: &mut Config) {
    config.max_head_bytes = 96;
    config.max_target_len = 40;
    config.max_headers = 4;
    config.max_body_bytes = Some(64);
    config.max_chunk_ext_bytes = 8;
    config.max_trailer_bytes = 24;
    config.max_pipelined = 3;
}

proptest! {

    #[test]
    fn server_events_do_not_depend_on_chunking(
        input in traffic(),
        cuts in proptest::collection::vec(0usize..600, 0..24),
        tight in any::<bool>(),
        eof in any::<bool>(),
    ) {
        let mut config = Config::server();
        if tight {
            small_limits(&mut config);
        }
        let mut whole = ServerConnection::new(config.clone(), Instant::ZERO);
        let mut split = ServerConnection::new(config, Instant::ZERO);
        let a = normalise(feed_split(&mut whole, &input, &[], eof));
        let b = normalise(feed_split(&mut split, &input, &cuts, eof));
        prop_assert_eq!(&a, &b, "input {:?}", String::from_utf8_lossy(&input));
        prop_assert_eq!(drain(&mut whole), drain(&mut split));
    }

    #[test]
    fn byte_at_a_time_equals_whole(input in traffic()) {
        let cuts: Vec<usize> = (1..input.len()).collect();
        let mut whole = ServerConnection::new(Config::server(), Instant::ZERO);
        let mut split = ServerConnection::new(Config::server(), Instant::ZERO);
        let a = normalise(feed_split(&mut whole, &input, &[], true));
        let b = normalise(feed_split(&mut split, &input, &cuts, true));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn client_events_do_not_depend_on_chunking(
        response in prop_oneof![
            Just(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nT: 1\r\n\r\n".to_vec()),
            Just(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".to_vec()),
            Just(b"HTTP/1.0 200 OK\r\n\r\nclose-delimited".to_vec()),
        ],
        noise in proptest::collection::vec(fragment(), 0..4),
        cuts in proptest::collection::vec(0usize..300, 0..16),
        eof in any::<bool>(),
    ) {
        let input = [response, noise.concat()].concat();
        let run = |cuts: &[usize]| {
            let mut c = ClientConnection::new(Config::client(), Instant::ZERO);
            c.send_request(&RequestHead::new(Method::Get, "/").header("Host", "a"), true).unwrap();
            drain(&mut c);
            normalise(feed_split(&mut c, &input, cuts, eof))
        };
        prop_assert_eq!(run(&[]), run(&cuts));
    }
}

/// Feeds `input` through the owned-buffer path (`take_input_buffer` /
/// `return_input_buffer`, as a completion driver does), cut at `cuts` and
/// never past the room of the buffer taken.
fn feed_split_owned(conn: &mut impl Connection, input: &[u8], cuts: &[usize], eof: bool) -> Vec<sockless_core::Event> {
    let mut events = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(input.len())).collect();
    bounds.push(input.len());
    bounds.sort_unstable();
    let mut pos = 0;
    'outer: for end in bounds {
        while pos < end {
            let mut buf = conn.take_input_buffer();
            let n = (buf.capacity() - buf.len()).min(end - pos);
            buf.extend_from_slice(&input[pos..pos + n]);
            let result = conn.return_input_buffer(Instant::ZERO, buf);
            let before = events.len();
            events.extend(common::poll_all(conn));
            if result.is_err() {
                break 'outer;
            }
            if n == 0 && events.len() == before {
                break 'outer;
            }
            pos += n;
        }
    }
    if eof {
        conn.handle_eof(Instant::ZERO);
        events.extend(common::poll_all(conn));
    }
    events
}

proptest! {
    /// The owned-buffer input path gives the events copy-in gives, for any
    /// chunking, valid and hostile input alike.
    #[test]
    fn owned_input_events_do_not_depend_on_chunking(
        input in traffic(),
        cuts in proptest::collection::vec(0usize..600, 0..24),
        tight in any::<bool>(),
        eof in any::<bool>(),
    ) {
        let mut config = Config::server();
        if tight {
            small_limits(&mut config);
        }
        let mut whole = ServerConnection::new(config.clone(), Instant::ZERO);
        let mut owned = ServerConnection::new(config, Instant::ZERO);
        let a = normalise(feed_split(&mut whole, &input, &[], eof));
        let b = normalise(feed_split_owned(&mut owned, &input, &cuts, eof));
        prop_assert_eq!(&a, &b, "input {:?}", String::from_utf8_lossy(&input));
        prop_assert_eq!(drain(&mut whole), drain(&mut owned));
    }

    #[test]
    fn owned_input_client_events_do_not_depend_on_chunking(
        response in prop_oneof![
            Just(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\nT: 1\r\n\r\n".to_vec()),
            Just(b"HTTP/1.0 200 OK\r\n\r\nclose-delimited".to_vec()),
        ],
        cuts in proptest::collection::vec(0usize..300, 0..16),
        eof in any::<bool>(),
    ) {
        let run = |owned: bool| {
            let mut c = ClientConnection::new(Config::client(), Instant::ZERO);
            c.send_request(&RequestHead::new(Method::Get, "/").header("Host", "a"), true).unwrap();
            drain(&mut c);
            let events = if owned { feed_split_owned(&mut c, &response, &cuts, eof) } else { feed_split(&mut c, &response, &[], eof) };
            normalise(events)
        };
        prop_assert_eq!(run(false), run(true));
    }
}
