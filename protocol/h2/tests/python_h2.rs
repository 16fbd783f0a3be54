//! Conversations with Python's `h2` package (PyPI, 4.x) in both roles.
//!
//! Each test spawns `python3 tests/h2_peer.py <client|server> <scenario>`,
//! which runs an `h2.connection.H2Connection` through one deterministic
//! script, and runs our [`H2Connection`] in the other role. The pipes are the
//! transport: our `poll_transmit` goes to the child's stdin, its stdout to our
//! `handle_input`. When the peer is finished it writes one line
//! `H2PEER-REPORT <json>` to stderr with everything it observed, and both
//! sides' observations are asserted on. Every conversation is bounded by a
//! 10 s timeout; a missing `python3` or `h2` fails the test (install with
//! `python3 -m pip install -r requirements-test.txt`).
//!
//! Scenarios, each in both roles (our server with an h2 client, our client
//! with an h2 server): GET and an echoed 200 kB POST, trailers both ways, 50
//! interleaved concurrent streams, a flow-control stall of a 1 MB body both
//! ways with a 16 KiB window released late, RST_STREAM mid-body from each
//! side, graceful GOAWAY from either end, PING both ways, and field blocks
//! that break RFC 9113 section 8.2 answered with RST_STREAM(PROTOCOL_ERROR).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration as StdDuration;

use serde_json::Value;
use sockless_core::{
    Answer, Bytes, CloseReason, Connection, Error, ErrorCode, Event, HeaderList, Instant, Method, ProtocolError,
    RequestHead, ResponseHead, StreamId, UserError,
};
use sockless_h2::{Config, H2Connection};

/// The longest any conversation may take.
const TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// `/big` answers this many bytes, then RST_STREAM(INTERNAL_ERROR).
const BIG: usize = 30_000;
/// The receive window of the flow-control scenario (both sides).
const SMALL_WINDOW: u32 = 16_384;
/// The body of the flow-control scenario.
const FLOW_BODY: usize = 1_000_000;
/// The receiver releases what it received this long after it arrived.
const RELEASE_DELAY_NS: u64 = 3_000_000;
/// Our side offers bodies to `send_data` in pieces of at most this.
const CHUNK: usize = 64 << 10;
const MAX_STREAM_ID: u64 = (1 << 31) - 1;

// ---------------------------------------------------------------------------
// Shared helpers: the body pattern both sides generate, CRC-32 as zlib's.

/// The body sent on stream `sid`: byte i is (7 i + sid) mod 251 (h2_peer.py's `pattern`).
fn pattern(sid: u32, n: usize) -> Vec<u8> {
    (0..n).map(|i| ((7 * i + sid as usize) % 251) as u8).collect()
}

/// Body size of the i-th stream of the concurrency scenario (h2_peer.py's `concurrent_size`).
fn concurrent_size(i: usize) -> usize {
    (i * 7919) % 40_000 + 1
}

fn crc32(data: &[u8]) -> u64 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 };
        }
        *t = c;
    }
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    u64::from(!c)
}

fn sid(n: u32) -> StreamId {
    StreamId::new(n)
}

// ---------------------------------------------------------------------------
// Our side: the connection, what it reported, and what it still has to send.

/// What our side saw on one stream.
#[derive(Debug, Default)]
struct Rec {
    request: Option<RequestHead>,
    response: Option<ResponseHead>,
    body: Vec<u8>,
    trailers: Option<HeaderList>,
    ended: bool,
    reset: Option<(ErrorCode, bool)>,
}

/// A body waiting to be accepted by `send_data`.
struct Outgoing {
    data: Bytes,
    end: bool,
    trailers: Option<HeaderList>,
    then_reset: Option<ErrorCode>,
    stalled: bool,
}

struct Ours {
    conn: H2Connection,
    streams: BTreeMap<u32, Rec>,
    /// Every event but Data, in order, for assertions and failure messages.
    log: Vec<String>,
    /// Order of events as (kind, stream): "req", "data", "end".
    order: Vec<(&'static str, u32)>,
    errors: Vec<ProtocolError>,
    goaways: Vec<(u32, ErrorCode)>,
    closed: Option<CloseReason>,
    input_error: Option<Error>,
    out: BTreeMap<u32, Outgoing>,
    /// Times a body waited: `send_data` accepted nothing while bytes remained.
    send_stalls: u32,
    /// Flow-control scenario: received bytes are released only after a delay.
    hold: bool,
    held: BTreeMap<u32, usize>,
    max_held: usize,
    release_at: Option<Instant>,
    release_rounds: u32,
}

impl Ours {
    fn new(conn: H2Connection) -> Self {
        Ours {
            conn,
            streams: BTreeMap::new(),
            log: Vec::new(),
            order: Vec::new(),
            errors: Vec::new(),
            goaways: Vec::new(),
            closed: None,
            input_error: None,
            out: BTreeMap::new(),
            send_stalls: 0,
            hold: false,
            held: BTreeMap::new(),
            max_held: 0,
            release_at: None,
            release_rounds: 0,
        }
    }

    fn rec(&mut self, stream: StreamId) -> &mut Rec {
        self.streams.entry(stream.get()).or_default()
    }

    fn stream(&self, n: u32) -> &Rec {
        self.streams.get(&n).unwrap_or_else(|| panic!("our side saw nothing on stream {n}; log: {:?}", self.log))
    }

    fn record(&mut self, now: Instant, ev: &Event) {
        match ev {
            Event::Request { stream, head, .. } => {
                self.order.push(("req", stream.get()));
                self.rec(*stream).request = Some(head.clone());
            }
            Event::Response { stream, head } => self.rec(*stream).response = Some(head.clone()),
            Event::Data { stream, data } => {
                self.order.push(("data", stream.get()));
                self.rec(*stream).body.extend_from_slice(data);
                if self.hold {
                    let held = self.held.entry(stream.get()).or_default();
                    *held += data.len();
                    self.max_held = self.max_held.max(*held);
                    if self.release_at.is_none() {
                        self.release_at = Some(Instant::from_nanos(now.as_nanos() + RELEASE_DELAY_NS));
                    }
                } else {
                    self.conn.release_capacity(*stream, data.len()).unwrap();
                }
            }
            Event::Trailers { stream, trailers } => self.rec(*stream).trailers = Some(trailers.clone()),
            Event::EndStream { stream } => {
                self.order.push(("end", stream.get()));
                self.rec(*stream).ended = true;
            }
            Event::Reset { stream, code, remote } => self.rec(*stream).reset = Some((*code, *remote)),
            Event::GoAway { last_stream, code, .. } => self.goaways.push((last_stream.get(), *code)),
            Event::Error(e) => self.errors.push(*e),
            Event::Closed(reason) => self.closed = Some(*reason),
            _ => {}
        }
        if !matches!(ev, Event::Data { .. }) {
            self.log.push(format!("{ev:?}"));
        }
    }

    /// Flow-control scenario: releases what was held once the delay passed.
    fn release_due(&mut self, now: Instant) {
        if self.release_at.is_some_and(|at| now >= at) {
            self.release_at = None;
            self.release_rounds += 1;
            for (&s, held) in &mut self.held {
                if *held > 0 {
                    self.conn.release_capacity(sid(s), *held).unwrap();
                    *held = 0;
                }
            }
        }
    }

    fn queue(&mut self, stream: StreamId, data: Vec<u8>, end: bool) {
        self.queue_full(stream, data, end, None, None);
    }

    fn queue_full(
        &mut self,
        stream: StreamId,
        data: Vec<u8>,
        end: bool,
        trailers: Option<HeaderList>,
        then_reset: Option<ErrorCode>,
    ) {
        let prev = self.out.remove(&stream.get());
        let data = match prev {
            Some(p) => [&p.data[..], &data[..]].concat(),
            None => data,
        };
        let o = Outgoing { data: Bytes::from(data), end, trailers, then_reset, stalled: false };
        self.out.insert(stream.get(), o);
    }

    /// Offers every queued body to the connection, in pieces of [`CHUNK`].
    fn pump(&mut self) {
        let ids: Vec<u32> = self.out.keys().copied().collect();
        for id in ids {
            let o = self.out.get_mut(&id).unwrap();
            let stream = sid(id);
            while !o.data.is_empty() {
                let n = o.data.len().min(CHUNK);
                let end = n == o.data.len() && o.end && o.trailers.is_none() && o.then_reset.is_none();
                match self.conn.send_data(stream, o.data.slice(..n), end) {
                    Ok(0) => {
                        if !o.stalled {
                            o.stalled = true;
                            self.send_stalls += 1;
                        }
                        break;
                    }
                    Ok(k) => {
                        o.stalled = false;
                        o.data = o.data.slice(k..);
                    }
                    Err(e) => {
                        self.log.push(format!("send_data({id}) failed: {e:?}"));
                        o.data = Bytes::new();
                        o.end = true;
                        o.trailers = None;
                        o.then_reset = None;
                    }
                }
            }
            if o.data.is_empty() {
                if let Some(t) = o.trailers.take() {
                    self.conn.send_trailers(stream, &t).unwrap();
                }
                if let Some(code) = o.then_reset.take() {
                    self.conn.reset_stream(stream, code).unwrap();
                    o.end = true;
                }
                if o.end {
                    self.out.remove(&id);
                }
            }
        }
    }

    // --- server role -------------------------------------------------

    /// Answers a request whose body ended, routed on its path like h2_peer.py's server.
    fn serve(&mut self, ev: &Event) {
        let Event::EndStream { stream } = ev else { return };
        let Some(rec) = self.streams.get(&stream.get()) else { return };
        let Some(req) = &rec.request else { return };
        match req.path() {
            b"/hello" => {
                self.conn.send_response(*stream, &ResponseHead::new(200), false).unwrap();
                self.queue(*stream, b"hello".to_vec(), true);
            }
            b"/echo" => {
                let body = rec.body.clone();
                let trailers = rec.trailers.as_ref().map(|t| {
                    let v = t.get("x-req-trailer").unwrap_or_default().to_vec();
                    HeaderList::new().with("x-echo-trailer", v).with("x-body-len", body.len().to_string())
                });
                self.conn
                    .send_response(*stream, &ResponseHead::new(200), body.is_empty() && trailers.is_none())
                    .unwrap();
                self.queue_full(*stream, body, true, trailers, None);
            }
            b"/big" => {
                self.conn.send_response(*stream, &ResponseHead::new(200), false).unwrap();
                self.queue_full(*stream, pattern(stream.get(), BIG), false, None, Some(ErrorCode::INTERNAL_ERROR));
            }
            other => panic!("no route for {}", String::from_utf8_lossy(other)),
        }
    }

    // --- client role -------------------------------------------------

    fn request(&mut self, method: Method, path: &str, body: Option<Vec<u8>>, end: bool) -> StreamId {
        let head = RequestHead::new(method, format!("https://example.com{path}"));
        self.request_head(head, body, end)
    }

    fn request_head(&mut self, head: RequestHead, body: Option<Vec<u8>>, end: bool) -> StreamId {
        let no_body = body.is_none() && end;
        let stream = self.conn.send_request(&head, no_body).unwrap();
        self.streams.entry(stream.get()).or_default();
        if let Some(body) = body {
            self.queue(stream, body, end);
        }
        stream
    }

    fn finished(&self, ids: &[u32]) -> bool {
        ids.iter().all(|n| self.streams.get(n).is_some_and(|r| r.ended || r.reset.is_some()))
    }
}

/// One side's script: reacts to our events and to time.
trait Script {
    fn start(&mut self, _o: &mut Ours, _now: Instant) {}
    fn on_event(&mut self, _o: &mut Ours, _now: Instant, _ev: &Event) {}
    fn tick(&mut self, _o: &mut Ours, _now: Instant) {}
    /// Our side has nothing more to do: the child's stdin is closed.
    fn done(&self, o: &Ours) -> bool {
        o.closed.is_some()
    }
}

// ---------------------------------------------------------------------------
// The harness.

/// What the Python peer observed (its final report).
struct Py(Value);

impl Py {
    fn stream(&self, n: u32) -> &Value {
        let s = &self.0["streams"][n.to_string()];
        assert!(!s.is_null(), "the h2 peer saw nothing on stream {n}; report: {}", self.0);
        s
    }

    fn errors_empty(&self) {
        assert_eq!(self.0["errors"], serde_json::json!([]), "the h2 peer raised: {}", self.0);
    }

    fn status(&self, n: u32) -> Option<String> {
        let h = self.stream(n)["headers"].as_array()?;
        h.iter().find(|kv| kv[0] == ":status").map(|kv| kv[1].as_str().unwrap().to_string())
    }

    fn header(&self, n: u32, key: &str, name: &str) -> Option<String> {
        let h = self.stream(n)[key].as_array()?;
        h.iter().find(|kv| kv[0] == name).map(|kv| kv[1].as_str().unwrap().to_string())
    }

    fn body_is(&self, n: u32, expected: &[u8]) {
        let s = self.stream(n);
        assert_eq!(s["body_len"].as_u64(), Some(expected.len() as u64), "h2 peer: body length on stream {n}");
        assert_eq!(s["body_crc"].as_u64(), Some(crc32(expected)), "h2 peer: body content on stream {n}");
    }

    fn ended(&self, n: u32) -> bool {
        self.stream(n)["ended"] == Value::Bool(true)
    }

    fn reset(&self, n: u32) -> Option<(u64, bool)> {
        let s = self.stream(n);
        Some((s["reset"].as_u64()?, s["remote_reset"].as_bool()?))
    }

    fn events(&self) -> Vec<&str> {
        self.0["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect()
    }

    fn u64(&self, key: &str) -> u64 {
        self.0[key].as_u64().unwrap_or_else(|| panic!("no {key} in {}", self.0))
    }
}

fn peer_script() -> String {
    format!("{}/tests/h2_peer.py", env!("CARGO_MANIFEST_DIR"))
}

fn write_all(stdin: &mut Option<ChildStdin>, bytes: &[u8]) {
    if let Some(pipe) = stdin {
        if pipe.write_all(bytes).and_then(|()| pipe.flush()).is_err() {
            *stdin = None; // the peer exited; what it saw is in its report
        }
    }
}

/// Runs one conversation: `py_role` is h2's role, ours is the other.
fn converse(py_role: &str, scenario: &str, config: Config, hold: bool, script: &mut dyn Script) -> (Ours, Py) {
    let mut child = Command::new("python3")
        .arg(peer_script())
        .arg(py_role)
        .arg(scenario)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): the h2 interop tests need python3 with the h2 package \
                 (python3 -m pip install -r requirements-test.txt)"
            )
        });
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let err_reader = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let start = std::time::Instant::now();
    let clock = || Instant::from_nanos(start.elapsed().as_nanos() as u64);
    let conn = match py_role {
        "client" => H2Connection::server(config, clock()),
        _ => H2Connection::client(config, clock()),
    };
    let mut ours = Ours::new(conn);
    ours.hold = hold;
    script.start(&mut ours, clock());
    let mut pending: Vec<u8> = Vec::new();
    let mut child_eof = false;
    let mut eof_fed = false;
    let mut timed_out = false;
    loop {
        if start.elapsed() > TIMEOUT {
            timed_out = true;
            break;
        }
        let now = clock();
        if ours.conn.poll_timeout().is_some_and(|t| now >= t) {
            ours.conn.handle_timeout(now);
        }
        ours.release_due(now);
        script.tick(&mut ours, now);
        ours.pump();
        let bytes = sockless_core::transmit_all(&mut ours.conn);
        if !bytes.is_empty() {
            write_all(&mut stdin, &bytes);
        }
        let mut any = false;
        while let Some(ev) = ours.conn.poll_event() {
            any = true;
            ours.record(now, &ev);
            script.on_event(&mut ours, now, &ev);
        }
        if any {
            continue;
        }
        if ours.closed.is_some() {
            pending.clear(); // closed: the driver closes the transport, later bytes are dropped
        }
        if !pending.is_empty() && ours.input_error.is_none() {
            match ours.conn.handle_input(now, &pending) {
                Ok(n) => {
                    pending.drain(..n);
                    if n > 0 {
                        continue;
                    }
                }
                Err(e) => {
                    ours.input_error = Some(e);
                    pending.clear();
                    continue;
                }
            }
        }
        if script.done(&ours) && stdin.is_some() {
            stdin = None; // closes the pipe: the peer reports and exits
        }
        if child_eof {
            if pending.is_empty() || ours.input_error.is_some() {
                if !eof_fed {
                    eof_fed = true;
                    ours.conn.handle_eof(now);
                    continue;
                }
                break;
            }
        } else {
            match rx.recv_timeout(StdDuration::from_millis(1)) {
                Ok(Some(bytes)) => pending.extend_from_slice(&bytes),
                Ok(None) | Err(RecvTimeoutError::Disconnected) => child_eof = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
    drop(stdin);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if !timed_out && start.elapsed() < TIMEOUT + StdDuration::from_secs(2) => {
                thread::sleep(StdDuration::from_millis(5))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let err = err_reader.join().unwrap_or_default();
    let report = err.lines().rev().find_map(|l| l.strip_prefix("H2PEER-REPORT "));
    if timed_out || status.is_none() {
        panic!(
            "{scenario} (h2 as {py_role}) did not finish within {TIMEOUT:?}; our events: {:#?}\nh2 peer stderr:\n{err}",
            ours.log
        );
    }
    let status = status.unwrap();
    assert!(
        status.success() && report.is_some(),
        "the h2 peer failed ({status}); python3 with the h2 4.x package is required \
         (python3 -m pip install -r requirements-test.txt)\nstderr:\n{err}"
    );
    let report: Value = serde_json::from_str(report.unwrap()).expect("the h2 peer's report is JSON");
    (ours, Py(report))
}

// ---------------------------------------------------------------------------
// Scripts.

/// Our server: answers every request by its path; optionally shuts down
/// gracefully once `shutdown_after` requests arrived, or pings once settled.
#[derive(Default)]
struct Server {
    shutdown_after: Option<usize>,
    requests: usize,
    ping: PingProbe,
    probe_ping: bool,
}

impl Script for Server {
    fn on_event(&mut self, o: &mut Ours, now: Instant, ev: &Event) {
        if let Event::Request { .. } = ev {
            self.requests += 1;
            if self.shutdown_after == Some(self.requests) {
                o.conn.shutdown(now);
            }
        }
        o.serve(ev);
    }

    fn tick(&mut self, o: &mut Ours, now: Instant) {
        if self.probe_ping {
            self.ping.tick(o, now);
        }
    }
}

/// Sends a PING once our SETTINGS are acknowledged (no timer left), and
/// sees its ACK as the ping deadline going away again.
#[derive(Default, Debug, PartialEq, Eq)]
enum PingProbe {
    #[default]
    Settling,
    Sent,
    Acked,
}

impl PingProbe {
    fn tick(&mut self, o: &mut Ours, now: Instant) {
        match self {
            PingProbe::Settling if o.conn.poll_timeout().is_none() => {
                o.conn.ping(now).unwrap();
                assert!(o.conn.poll_timeout().is_some(), "an unanswered PING arms a timer");
                *self = PingProbe::Sent;
            }
            PingProbe::Sent if o.conn.poll_timeout().is_none() => *self = PingProbe::Acked,
            _ => {}
        }
    }
}

/// Our client: a start action, event hook and completion test as closures.
struct Client<S, E, D> {
    start: S,
    event: E,
    done: D,
}

impl<S, E, D> Script for Client<S, E, D>
where
    S: FnMut(&mut Ours, Instant),
    E: FnMut(&mut Ours, Instant, &Event),
    D: Fn(&Ours) -> bool,
{
    fn start(&mut self, o: &mut Ours, now: Instant) {
        (self.start)(o, now)
    }
    fn on_event(&mut self, o: &mut Ours, now: Instant, ev: &Event) {
        (self.event)(o, now, ev)
    }
    fn done(&self, o: &Ours) -> bool {
        o.closed.is_some() || (self.done)(o)
    }
}

fn client<S, E, D>(start: S, event: E, done: D) -> Client<S, E, D>
where
    S: FnMut(&mut Ours, Instant),
    E: FnMut(&mut Ours, Instant, &Event),
    D: Fn(&Ours) -> bool,
{
    Client { start, event, done }
}

fn no_events(_: &mut Ours, _: Instant, _: &Event) {}

fn assert_clean(o: &Ours) {
    assert!(o.errors.is_empty(), "our side reported protocol errors: {:?}; log: {:#?}", o.errors, o.log);
    assert!(o.input_error.is_none(), "handle_input failed: {:?}; log: {:#?}", o.input_error, o.log);
}

fn response_status(o: &Ours, n: u32) -> u16 {
    o.stream(n).response.as_ref().unwrap_or_else(|| panic!("no response on stream {n}; log: {:#?}", o.log)).status
}

// ---------------------------------------------------------------------------
// (1) GET and an echoed 200 kB POST.

#[test]
fn basic_our_server() {
    let (o, py) = converse("client", "basic", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    let get = o.stream(1).request.as_ref().expect("GET arrived");
    assert_eq!((get.method.clone(), get.path()), (Method::Get, &b"/hello"[..]));
    assert_eq!(get.authority(), Some(&b"example.com"[..]));
    assert_eq!(o.stream(3).body, pattern(3, 200_000));
    assert_eq!(py.status(1).as_deref(), Some("200"));
    py.body_is(1, b"hello");
    assert_eq!(py.status(3).as_deref(), Some("200"));
    py.body_is(3, &pattern(3, 200_000));
    assert!(py.ended(1) && py.ended(3));
    assert_eq!(o.goaways, [(0, ErrorCode::NO_ERROR)], "h2 closes with GOAWAY when done");
    assert_eq!(o.closed, Some(CloseReason::Done));
}

#[test]
fn basic_our_client() {
    let mut script = client(
        |o, _| {
            o.request(Method::Get, "/hello", None, true);
            o.request(Method::Post, "/echo", Some(pattern(3, 200_000)), true);
        },
        no_events,
        |o| o.finished(&[1, 3]),
    );
    let (o, py) = converse("server", "basic", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(response_status(&o, 1), 200);
    assert_eq!(o.stream(1).body, b"hello");
    assert_eq!(response_status(&o, 3), 200);
    assert_eq!(o.stream(3).body, pattern(3, 200_000));
    assert!(o.stream(3).ended);
    assert_eq!(py.header(1, "headers", ":method").as_deref(), Some("GET"));
    assert_eq!(py.header(1, "headers", ":authority").as_deref(), Some("example.com"));
    assert_eq!(py.header(3, "headers", ":path").as_deref(), Some("/echo"));
    py.body_is(3, &pattern(3, 200_000));
}

// ---------------------------------------------------------------------------
// (2) Trailers in both directions.

#[test]
fn trailers_our_server() {
    let (o, py) = converse("client", "trailers", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    let rec = o.stream(1);
    assert_eq!(rec.body, pattern(1, 10_000));
    assert_eq!(rec.trailers.as_ref().and_then(|t| t.get("x-req-trailer")), Some(&b"abc"[..]));
    assert!(rec.ended);
    py.body_is(1, &pattern(1, 10_000));
    assert_eq!(py.header(1, "trailers", "x-echo-trailer").as_deref(), Some("abc"));
    assert_eq!(py.header(1, "trailers", "x-body-len").as_deref(), Some("10000"));
    assert!(py.ended(1));
}

#[test]
fn trailers_our_client() {
    let mut script = client(
        |o, _| {
            let head = RequestHead::new(Method::Post, "https://example.com/echo").header("te", "trailers");
            let s = o.request_head(head, None, false);
            let t = HeaderList::new().with("x-req-trailer", "abc");
            o.queue_full(s, pattern(1, 10_000), true, Some(t), None);
        },
        no_events,
        |o| o.finished(&[1]),
    );
    let (o, py) = converse("server", "trailers", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(py.header(1, "trailers", "x-req-trailer").as_deref(), Some("abc"));
    py.body_is(1, &pattern(1, 10_000));
    let rec = o.stream(1);
    assert_eq!(rec.body, pattern(1, 10_000));
    let t = rec.trailers.as_ref().expect("response trailers");
    assert_eq!(t.get("x-echo-trailer"), Some(&b"abc"[..]));
    assert_eq!(t.get("x-body-len"), Some(&b"10000"[..]));
    assert!(rec.ended);
}

// ---------------------------------------------------------------------------
// (3) 50 concurrent streams, interleaved, of differing sizes.

fn concurrent_streams() -> impl Iterator<Item = (u32, usize)> {
    (0..50).map(|i| (2 * i as u32 + 1, concurrent_size(i)))
}

#[test]
fn concurrent_our_server() {
    let (o, py) = converse("client", "concurrent", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    for (s, n) in concurrent_streams() {
        assert_eq!(o.stream(s).body, pattern(s, n), "request body on stream {s}");
        assert_eq!(py.status(s).as_deref(), Some("200"));
        py.body_is(s, &pattern(s, n));
    }
    // Interleaved: every request head arrived before the first body ended.
    let last_req = o.order.iter().rposition(|e| e.0 == "req").unwrap();
    let first_end = o.order.iter().position(|e| e.0 == "end").unwrap();
    assert!(last_req < first_end, "the 50 requests were not concurrent: {:?}", o.order);
}

#[test]
fn concurrent_our_client() {
    let mut script = client(
        |o, _| {
            for (s, n) in concurrent_streams() {
                let got = o.request(Method::Post, "/echo", Some(pattern(s, n)), true);
                assert_eq!(got, sid(s));
            }
        },
        no_events,
        |o| o.finished(&concurrent_streams().map(|(s, _)| s).collect::<Vec<_>>()),
    );
    let (o, py) = converse("server", "concurrent", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    for (s, n) in concurrent_streams() {
        py.body_is(s, &pattern(s, n));
        assert_eq!(response_status(&o, s), 200);
        assert_eq!(o.stream(s).body, pattern(s, n), "response body on stream {s}");
    }
    let events = py.events();
    let last_req = events.iter().rposition(|e| e.starts_with("req:")).unwrap();
    let first_end = events.iter().position(|e| e.starts_with("end:")).unwrap();
    assert!(last_req < first_end, "h2 did not see 50 concurrent streams: {events:?}");
    let mut ends = 0;
    let mut interleaved = false;
    let mut last = 0;
    for (kind, s) in &o.order {
        if *kind == "data" {
            interleaved |= last != 0 && last != *s && ends < 49;
            last = *s;
        } else if *kind == "end" {
            ends += 1;
        }
    }
    assert!(interleaved, "responses were not interleaved: {:?}", o.order);
}

// ---------------------------------------------------------------------------
// (4) Flow-control stall: 1 MB each way through a 16 KiB window released late.

fn small_window(mut config: Config) -> Config {
    config.initial_window_size = SMALL_WINDOW;
    config.connection_window_size = 65_535;
    config
}

fn assert_flow(o: &Ours, py: &Py) {
    let rounds = (FLOW_BODY / SMALL_WINDOW as usize) as u64;
    // Our receive side: the sender filled the window and waited for each release.
    assert_eq!(o.max_held, SMALL_WINDOW as usize, "h2 did not fill (or overran) our 16 KiB window");
    assert!(u64::from(o.release_rounds) >= rounds, "only {} release rounds", o.release_rounds);
    assert!(py.u64("send_stalls") >= rounds / 2, "h2 never stalled on our window: {}", py.0);
    // h2's receive side: we filled its window and resumed after each late release.
    assert_eq!(py.u64("max_unacked"), u64::from(SMALL_WINDOW), "we did not fill (or overran) h2's window");
    assert!(py.u64("ack_rounds") >= rounds, "h2 acknowledged in {} rounds", py.u64("ack_rounds"));
    assert!(o.send_stalls >= 2, "our send_data never stalled ({})", o.send_stalls);
}

#[test]
fn flow_control_our_server() {
    let config = small_window(Config::server());
    let (o, py) = converse("client", "flow_control", config, true, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(o.stream(1).body.len(), FLOW_BODY);
    assert_eq!(o.stream(1).body, pattern(1, FLOW_BODY));
    py.body_is(1, &pattern(1, FLOW_BODY));
    assert!(py.ended(1));
    assert_flow(&o, &py);
}

/// The same with h2 sending at once, before our SETTINGS (16 KiB window) reach it.
#[test]
fn flow_control_before_settings_ack_our_server() {
    let config = small_window(Config::server());
    let (o, py) = converse("client", "flow_early", config, true, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(o.stream(1).body, pattern(1, FLOW_BODY));
    py.body_is(1, &pattern(1, FLOW_BODY));
    assert!(py.ended(1));
}

/// Our client sends once the server's SETTINGS are in (our own are acknowledged).
struct FlowClient(bool);

impl Script for FlowClient {
    fn tick(&mut self, o: &mut Ours, _: Instant) {
        if !self.0 && o.conn.poll_timeout().is_none() {
            self.0 = true;
            o.request(Method::Post, "/echo", Some(pattern(1, FLOW_BODY)), true);
        }
    }
    fn done(&self, o: &Ours) -> bool {
        o.closed.is_some() || o.finished(&[1])
    }
}

#[test]
fn flow_control_our_client() {
    let mut script = FlowClient(false);
    let (o, py) = converse("server", "flow_control", small_window(Config::client()), true, &mut script);
    py.errors_empty();
    assert_clean(&o);
    py.body_is(1, &pattern(1, FLOW_BODY));
    assert_eq!(response_status(&o, 1), 200);
    assert_eq!(o.stream(1).body.len(), FLOW_BODY);
    assert_eq!(o.stream(1).body, pattern(1, FLOW_BODY));
    assert!(o.stream(1).ended);
    assert_flow(&o, &py);
}

// ---------------------------------------------------------------------------
// (5) RST_STREAM mid-body from each side.

#[test]
fn reset_our_server() {
    let (o, py) = converse("client", "reset", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    // h2 reset its upload after 16 KiB.
    let up = o.stream(1);
    assert_eq!(up.body, pattern(1, 16_384));
    assert_eq!(up.reset, Some((ErrorCode::CANCEL, true)));
    assert!(!up.ended);
    // We reset our download after 30 000 bytes.
    assert_eq!(py.status(3).as_deref(), Some("200"));
    py.body_is(3, &pattern(3, BIG));
    assert_eq!(py.reset(3), Some((u64::from(ErrorCode::INTERNAL_ERROR.0), true)));
    assert!(!py.ended(3));
    // The connection lives on.
    py.body_is(5, b"hello");
    assert!(py.ended(5));
}

#[test]
fn reset_our_client() {
    let mut script = client(
        |o, _| {
            let up = o.request(Method::Post, "/upload", None, false);
            assert_eq!(o.conn.send_data(up, Bytes::from(pattern(1, 16_384)), false).unwrap(), 16_384);
            o.conn.reset_stream(up, ErrorCode::CANCEL).unwrap();
            o.request(Method::Get, "/big", None, true);
        },
        |o, _, ev| {
            if let Event::Reset { stream, .. } = ev {
                if stream.get() == 3 {
                    o.request(Method::Get, "/hello", None, true);
                }
            }
        },
        |o| o.finished(&[5]),
    );
    let (o, py) = converse("server", "reset", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    // We reset our upload after 16 KiB.
    py.body_is(1, &pattern(1, 16_384));
    assert_eq!(py.reset(1), Some((u64::from(ErrorCode::CANCEL.0), true)));
    assert!(!py.ended(1));
    // h2 reset its download after 30 000 bytes.
    assert_eq!(response_status(&o, 3), 200);
    assert_eq!(o.stream(3).body, pattern(3, BIG));
    assert_eq!(o.stream(3).reset, Some((ErrorCode::INTERNAL_ERROR, true)));
    assert!(!o.stream(3).ended);
    assert_eq!(o.stream(5).body, b"hello");
}

// ---------------------------------------------------------------------------
// (6) GOAWAY: graceful shutdown by either end; in-flight streams complete,
// new ones are refused.

#[test]
fn goaway_our_server_shuts_down() {
    let mut server = Server { shutdown_after: Some(2), ..Server::default() };
    let (o, py) = converse("client", "goaway", Config::server(), false, &mut server);
    py.errors_empty();
    assert_clean(&o);
    // Two GOAWAYs (RFC 9113 section 6.8): 2^31-1 first, then the last stream processed.
    let goaways = py.0["goaways"].as_array().unwrap();
    assert_eq!(goaways.len(), 2, "{}", py.0);
    assert_eq!(goaways[0], serde_json::json!([MAX_STREAM_ID, 0]));
    assert_eq!(goaways[1], serde_json::json!([3, 0]));
    for s in [1, 3] {
        assert_eq!(o.stream(s).body, pattern(s, 16_000));
        assert_eq!(py.status(s).as_deref(), Some("200"));
        py.body_is(s, &pattern(s, 16_000));
        assert!(py.ended(s));
    }
    // The stream h2 opened after the final GOAWAY was ignored.
    assert!(!o.streams.contains_key(&5), "stream 5 after GOAWAY(3) was processed: {:?}", o.log);
    assert_eq!(py.status(5), None);
    assert!(!py.ended(5) && py.reset(5).is_none());
    assert_eq!(o.closed, Some(CloseReason::Done));
}

#[test]
fn goaway_h2_server_shuts_down() {
    let mut refused = None;
    let mut script = client(
        |o, _| {
            for s in [1, 3] {
                o.request(Method::Post, "/echo", Some(pattern(s, 16_000)[..8_000].to_vec()), false);
            }
            o.request(Method::Get, "/hello", None, true);
        },
        |o, _, ev| {
            if let Event::GoAway { .. } = ev {
                let head = RequestHead::new(Method::Get, "https://example.com/hello");
                refused = Some(o.conn.send_request(&head, true));
                for s in [1, 3] {
                    o.queue(sid(s), pattern(s, 16_000)[8_000..].to_vec(), true);
                }
            }
        },
        |_| false,
    );
    let (o, py) = converse("server", "goaway", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(o.goaways, [(3, ErrorCode::NO_ERROR)]);
    assert!(py.events().contains(&"ignored:5"), "{}", py.0);
    assert_eq!(o.stream(5).reset, Some((ErrorCode::REFUSED_STREAM, true)), "stream 5 above GOAWAY(3)");
    assert!(o.stream(5).response.is_none());
    assert_eq!(refused, Some(Err(Error::User(UserError::Closed))), "a new request after GOAWAY");
    for s in [1, 3] {
        py.body_is(s, &pattern(s, 16_000));
        assert_eq!(response_status(&o, s), 200);
        assert_eq!(o.stream(s).body, pattern(s, 16_000));
        assert!(o.stream(s).ended);
    }
    assert_eq!(o.closed, Some(CloseReason::Done));
}

#[test]
fn goaway_h2_client_shuts_down() {
    let (o, py) = converse("client", "goaway_client", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(o.goaways, [(0, ErrorCode::NO_ERROR)]);
    for s in [1, 3] {
        assert_eq!(o.stream(s).body, pattern(s, 16_000));
        py.body_is(s, &pattern(s, 16_000));
        assert!(py.ended(s));
    }
    assert_eq!(o.closed, Some(CloseReason::Done));
}

#[test]
fn goaway_our_client_shuts_down() {
    let mut refused = None;
    let mut script = client(
        |o, now| {
            for s in [1, 3] {
                o.request(Method::Post, "/echo", Some(pattern(s, 16_000)[..8_000].to_vec()), false);
            }
            o.conn.shutdown(now);
            let head = RequestHead::new(Method::Get, "https://example.com/hello");
            refused = Some(o.conn.send_request(&head, true));
            for s in [1, 3] {
                o.queue(sid(s), pattern(s, 16_000)[8_000..].to_vec(), true);
            }
        },
        no_events,
        |_| false,
    );
    let (o, py) = converse("server", "goaway_client", Config::client(), false, &mut script);
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(refused, Some(Err(Error::User(UserError::Closed))), "a new request after our GOAWAY");
    assert_eq!(py.0["goaways"], serde_json::json!([[0, 0]]));
    for s in [1, 3] {
        py.body_is(s, &pattern(s, 16_000));
        assert_eq!(o.stream(s).body, pattern(s, 16_000));
        assert!(o.stream(s).ended);
    }
    assert_eq!(o.closed, Some(CloseReason::Done));
}

// ---------------------------------------------------------------------------
// (7) PING round trips, both directions.

const PY_PING: &str = "70792d70696e6721"; // "py-ping!"
const OUR_PING: &str = "0000000000000001";

#[test]
fn ping_our_server() {
    let mut server = Server { probe_ping: true, ..Server::default() };
    // No idle timeout: the probe reads "no timer left" as "our SETTINGS are acknowledged".
    let config = Config { idle_timeout: None, ..Config::server() };
    let (o, py) = converse("client", "ping", config, false, &mut server);
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(server.ping, PingProbe::Acked);
    assert_eq!(py.0["ping_acks"], serde_json::json!([PY_PING]), "our PING ACK echoes the payload");
    assert_eq!(py.0["pings_received"], serde_json::json!([OUR_PING]));
    py.body_is(1, b"hello");
}

#[test]
fn ping_our_client() {
    let mut probe = PingProbe::default();
    struct PingClient<'a>(&'a mut PingProbe, bool);
    impl Script for PingClient<'_> {
        fn tick(&mut self, o: &mut Ours, now: Instant) {
            self.0.tick(o, now);
            if *self.0 == PingProbe::Acked && !self.1 {
                self.1 = true;
                o.request(Method::Get, "/hello", None, true);
            }
        }
        fn done(&self, o: &Ours) -> bool {
            o.closed.is_some() || o.finished(&[1])
        }
    }
    let (o, py) = converse("server", "ping", Config::client(), false, &mut PingClient(&mut probe, false));
    py.errors_empty();
    assert_clean(&o);
    assert_eq!(probe, PingProbe::Acked);
    assert_eq!(py.0["ping_acks"], serde_json::json!([PY_PING]), "our PING ACK echoes the payload");
    assert_eq!(py.0["pings_received"], serde_json::json!([OUR_PING]));
    assert_eq!(o.stream(1).body, b"hello");
}

// ---------------------------------------------------------------------------
// (8) Field blocks breaking RFC 9113 section 8.2: RST_STREAM(PROTOCOL_ERROR).

fn assert_stream_error(o: &Ours, n: u32) {
    let e = o.errors.iter().find(|e| e.stream == Some(sid(n)));
    let e = e.unwrap_or_else(|| panic!("no error reported on stream {n}: {:?}", o.errors));
    assert_eq!(e.answer, Answer::ResetStream(ErrorCode::PROTOCOL_ERROR));
}

#[test]
fn invalid_headers_our_server() {
    let (o, py) = converse("client", "invalid_headers", Config::server(), false, &mut Server::default());
    py.errors_empty();
    assert!(o.input_error.is_none(), "a malformed request is a stream error, not a connection error");
    for s in [1, 3, 5] {
        assert_stream_error(&o, s);
        assert!(o.streams.get(&s).is_none_or(|r| r.request.is_none()), "malformed request {s} was delivered");
        assert_eq!(py.reset(s), Some((u64::from(ErrorCode::PROTOCOL_ERROR.0), true)), "stream {s}");
    }
    assert_eq!(o.errors.len(), 3, "{:?}", o.errors);
    py.body_is(7, b"hello");
    assert!(py.ended(7));
}

#[test]
fn invalid_headers_our_client() {
    let mut script = client(
        |o, _| {
            for kind in ["upper", "connection", "transfer-encoding"] {
                o.request(Method::Get, &format!("/invalid/{kind}"), None, true);
            }
            o.request(Method::Get, "/hello", None, true);
        },
        no_events,
        |o| o.finished(&[1, 3, 5, 7]),
    );
    let (o, py) = converse("server", "invalid_headers", Config::client(), false, &mut script);
    py.errors_empty();
    assert!(o.input_error.is_none(), "a malformed response is a stream error, not a connection error");
    for s in [1, 3, 5] {
        assert_stream_error(&o, s);
        assert_eq!(o.stream(s).reset, Some((ErrorCode::PROTOCOL_ERROR, false)));
        assert!(o.stream(s).response.is_none(), "malformed response {s} was delivered");
        assert_eq!(py.reset(s), Some((u64::from(ErrorCode::PROTOCOL_ERROR.0), true)), "stream {s}");
    }
    assert_eq!(o.errors.len(), 3, "{:?}", o.errors);
    assert_eq!(o.stream(7).body, b"hello");
}
