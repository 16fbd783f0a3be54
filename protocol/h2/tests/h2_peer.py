#!/usr/bin/env python3
"""The Python h2 peer of protocol/h2/tests/python_h2.rs.

Runs one h2.connection.H2Connection (PyPI `h2`, 4.x) as `client` or `server`
through one deterministic scenario:

    python3 h2_peer.py <client|server> <scenario>

HTTP/2 bytes come in on stdin and go out on stdout, raw (the pipes are the
transport). The peer drives its own script of actions upon h2's events and,
when it is finished (a client: its script is done; a server: stdin reached
EOF), writes one line `H2PEER-REPORT <json>` to stderr with everything it
observed, and exits 0. A missing `h2` package exits 3 with a message.

Bodies are deterministic: the body sent on stream `sid` of length `n` is
`pattern(sid, n)`, byte i being (7 * i + sid) % 251, so both sides can check
what they received. Servers route on the path:

    /hello             200 "hello"
    /echo              200 with the request body; request trailers are
                       answered with trailers (x-echo-trailer, x-body-len)
    /big               200 and 30 000 body bytes, then RST_STREAM(INTERNAL_ERROR)
    /invalid/<kind>    a response head that breaks RFC 9113 section 8.2
                       (server role only), stream left open
"""

import json
import os
import select
import sys
import time
import zlib

try:
    import h2
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
    from h2.connection import ConnectionInputs, ConnectionState
    from h2.errors import ErrorCodes
    from h2.settings import SettingCodes
except ImportError as e:  # pragma: no cover - environment problem
    sys.stderr.write(
        "h2_peer: the Python package `h2` (4.x) is missing (%s); "
        "install it with `python3 -m pip install -r requirements-test.txt`\n" % e
    )
    sys.exit(3)

if not h2.__version__.startswith("4."):
    sys.stderr.write("h2_peer: h2 4.x is required, found %s\n" % h2.__version__)
    sys.exit(3)

BIG = 30_000
SMALL_WINDOW = 16_384
FLOW_BODY = 1_000_000
ACK_DELAY = 0.003


def pattern(sid, n):
    block = bytes((7 * i + sid) % 251 for i in range(251))
    reps = n // 251 + 1
    return (block * reps)[:n]


def concurrent_size(i):
    return (i * 7919) % 40_000 + 1


def allow_graceful_goaway(conn):
    """h2 4.x moves its connection state machine to CLOSED on any GOAWAY
    (sent or received), refusing every later frame, and drops bytes it has
    not handed out yet. A graceful shutdown (RFC 9113 section 6.8) lets
    in-flight streams finish, so this peer keeps the connection open."""
    table = dict(conn.state_machine._transitions)
    for state in (ConnectionState.CLIENT_OPEN, ConnectionState.SERVER_OPEN):
        table[(state, ConnectionInputs.RECV_GOAWAY)] = (None, state)
        table[(state, ConnectionInputs.SEND_GOAWAY)] = (None, state)
    conn.state_machine._transitions = table
    conn.clear_outbound_data_buffer = lambda: None


class Out:
    """Body waiting for flow-control window."""

    def __init__(self, data, end, trailers=None, then_reset=None):
        self.data = memoryview(bytes(data))
        self.end = end
        self.trailers = trailers
        self.then_reset = then_reset
        self.stalled = False


class Peer:
    def __init__(self, role, scenario):
        self.role = role
        self.scenario = scenario
        self.client = role == "client"
        invalid = scenario == "invalid_headers"
        config = h2.config.H2Configuration(
            client_side=self.client,
            header_encoding="utf-8",
            validate_outbound_headers=not invalid,
            normalize_outbound_headers=not invalid,
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.flow = scenario in ("flow_control", "flow_early")
        if self.flow:
            self.conn.local_settings = h2.settings.Settings(
                client=self.client,
                initial_values={
                    SettingCodes.MAX_CONCURRENT_STREAMS: 100,
                    SettingCodes.MAX_HEADER_LIST_SIZE: 65536,
                    SettingCodes.INITIAL_WINDOW_SIZE: SMALL_WINDOW,
                },
            )
        if scenario.startswith("goaway"):
            allow_graceful_goaway(self.conn)
        self.outq = {}
        self.streams = {}
        self.events = []
        self.errors = []
        self.unacked = {}
        self.max_unacked = 0
        self.ack_rounds = 0
        self.send_stalls = 0
        self.next_ack = None
        self.goaways = []
        self.pings_received = []
        self.ping_acks = []
        self.goaway_last = None
        self.done = False
        self.state = {}
        self.start = time.monotonic()

    # ---- bookkeeping -------------------------------------------------

    def rec(self, sid):
        return self.streams.setdefault(
            sid,
            {
                "headers": None,
                "body": bytearray(),
                "trailers": None,
                "ended": False,
                "reset": None,
                "remote_reset": None,
                "local_reset": None,
            },
        )

    def log(self, what):
        self.events.append(what)

    def report(self):
        streams = {}
        for sid, r in sorted(self.streams.items()):
            streams[str(sid)] = {
                "headers": r["headers"],
                "body_len": len(r["body"]),
                "body_crc": zlib.crc32(bytes(r["body"])),
                "trailers": r["trailers"],
                "ended": r["ended"],
                "reset": r["reset"],
                "remote_reset": r["remote_reset"],
                "local_reset": r["local_reset"],
            }
        return {
            "role": self.role,
            "scenario": self.scenario,
            "streams": streams,
            "events": self.events,
            "errors": self.errors,
            "goaways": self.goaways,
            "pings_received": self.pings_received,
            "ping_acks": self.ping_acks,
            "max_unacked": self.max_unacked,
            "ack_rounds": self.ack_rounds,
            "send_stalls": self.send_stalls,
        }

    # ---- sending -----------------------------------------------------

    def queue(self, sid, data, end, trailers=None, then_reset=None):
        q = self.outq.get(sid)
        if q is None:
            self.outq[sid] = Out(data, end, trailers, then_reset)
        else:
            q.data = memoryview(bytes(q.data) + bytes(data))
            q.end, q.trailers, q.then_reset = end, trailers, then_reset

    def pump(self):
        """Round-robin over streams, one chunk each per pass."""
        chunk = 4_000 if self.scenario == "concurrent" else self.conn.max_outbound_frame_size
        progress = True
        while progress:
            progress = False
            for sid in list(self.outq):
                q = self.outq[sid]
                if len(q.data):
                    try:
                        window = self.conn.local_flow_control_window(sid)
                    except h2.exceptions.StreamClosedError:
                        del self.outq[sid]
                        continue
                    n = min(len(q.data), window, chunk, self.conn.max_outbound_frame_size)
                    if n <= 0:
                        if not q.stalled:
                            q.stalled = True
                            self.send_stalls += 1
                        continue
                    q.stalled = False
                    end = n == len(q.data) and q.end and q.trailers is None
                    self.conn.send_data(sid, bytes(q.data[:n]), end_stream=end)
                    q.data = q.data[n:]
                    progress = True
                if not len(q.data):
                    if q.trailers is not None:
                        self.conn.send_headers(sid, q.trailers, end_stream=True)
                    if q.then_reset is not None:
                        self.conn.reset_stream(sid, q.then_reset)
                    if q.end or q.then_reset is not None:
                        del self.outq[sid]

    def request(self, method, path, headers=(), body=b"", end=True, trailers=None):
        sid = self.conn.get_next_available_stream_id()
        head = [
            (":method", method),
            (":scheme", "https"),
            (":authority", "example.com"),
            (":path", path),
        ] + list(headers)
        no_body = not body and end and trailers is None
        self.conn.send_headers(sid, head, end_stream=no_body)
        if not no_body:
            self.queue(sid, body, end, trailers)
        self.rec(sid)
        return sid

    def respond(self, sid, status, headers=(), body=b"", trailers=None, then_reset=None, end=True):
        head = [(":status", str(status))] + list(headers)
        no_body = not body and trailers is None and then_reset is None and end
        self.conn.send_headers(sid, head, end_stream=no_body)
        if not no_body:
            self.queue(sid, body, end, trailers, then_reset)

    # ---- events ------------------------------------------------------

    def on_event(self, ev):
        E = h2.events
        if isinstance(ev, (E.RequestReceived, E.ResponseReceived)):
            r = self.rec(ev.stream_id)
            r["headers"] = [list(h) for h in ev.headers]
            if ev.stream_ended is not None:
                r["ended"] = True
            if isinstance(ev, E.RequestReceived):
                self.log("req:%d" % ev.stream_id)
                self.on_request(ev.stream_id, dict(ev.headers))
        elif isinstance(ev, E.DataReceived):
            r = self.rec(ev.stream_id)
            r["body"] += ev.data
            if self.flow:
                n = self.unacked.get(ev.stream_id, 0) + ev.flow_controlled_length
                self.unacked[ev.stream_id] = n
                self.max_unacked = max(self.max_unacked, n)
                if self.next_ack is None:
                    self.next_ack = time.monotonic() + ACK_DELAY
            elif ev.flow_controlled_length:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, E.TrailersReceived):
            self.rec(ev.stream_id)["trailers"] = [list(h) for h in ev.headers]
        elif isinstance(ev, E.StreamEnded):
            self.rec(ev.stream_id)["ended"] = True
            self.log("end:%d" % ev.stream_id)
            if not self.client:
                self.on_request_end(ev.stream_id)
        elif isinstance(ev, E.StreamReset):
            r = self.rec(ev.stream_id)
            r["reset"] = int(ev.error_code)
            r["remote_reset"] = bool(ev.remote_reset)
            self.outq.pop(ev.stream_id, None)
            self.log("reset:%d:%d:%s" % (ev.stream_id, int(ev.error_code), ev.remote_reset))
        elif isinstance(ev, E.ConnectionTerminated):
            self.goaways.append([ev.last_stream_id, int(ev.error_code)])
            self.log("goaway:%d:%d" % (ev.last_stream_id, int(ev.error_code)))
        elif isinstance(ev, E.PingReceived):
            self.pings_received.append(ev.ping_data.hex())
        elif isinstance(ev, E.PingAckReceived):
            self.ping_acks.append(ev.ping_data.hex())
        elif isinstance(ev, E.RemoteSettingsChanged):
            self.state["remote_settings"] = True
        if self.client:
            self.client_step()
        else:
            self.server_step()

    # ---- server role -------------------------------------------------

    def on_request(self, sid, headers):
        path = headers.get(":path", "")
        if self.scenario == "goaway" and self.goaway_last is None:
            seen = [s for s in self.streams if s in (1, 3)]
            if len(seen) == 2:
                self.goaway_last = 3
                self.conn.close_connection(error_code=0, last_stream_id=3)
        if self.goaway_last is not None and sid > self.goaway_last:
            self.log("ignored:%d" % sid)
            return
        if path.startswith("/invalid/"):
            kind = path[len("/invalid/"):]
            bad = {
                "upper": ("X-Upper", "1"),
                "connection": ("connection", "close"),
                "transfer-encoding": ("transfer-encoding", "chunked"),
            }[kind]
            self.conn.send_headers(sid, [(":status", "200"), bad], end_stream=False)

    def on_request_end(self, sid):
        if self.goaway_last is not None and sid > self.goaway_last:
            return
        r = self.streams[sid]
        headers = dict(r["headers"] or [])
        path = headers.get(":path", "")
        if path == "/hello":
            self.respond(sid, 200, body=b"hello")
        elif path == "/echo":
            trailers = None
            if r["trailers"]:
                t = dict(r["trailers"])
                trailers = [
                    ("x-echo-trailer", t.get("x-req-trailer", "")),
                    ("x-body-len", str(len(r["body"]))),
                ]
            self.respond(sid, 200, body=bytes(r["body"]), trailers=trailers)
        elif path == "/big":
            self.respond(sid, 200, body=pattern(sid, BIG), then_reset=ErrorCodes.INTERNAL_ERROR, end=False)

    def server_step(self):
        if self.scenario == "ping" and not self.state.get("pinged"):
            self.state["pinged"] = True
            self.conn.ping(b"py-ping!")

    # ---- client role -------------------------------------------------

    def client_start(self):
        s = self.scenario
        if s == "basic":
            self.request("GET", "/hello")
            self.request("POST", "/echo", body=pattern(3, 200_000))
        elif s == "trailers":
            self.request(
                "POST",
                "/echo",
                headers=[("te", "trailers")],
                body=pattern(1, 10_000),
                trailers=[("x-req-trailer", "abc")],
            )
        elif s == "concurrent":
            for i in range(50):
                self.request("POST", "/echo", body=pattern(2 * i + 1, concurrent_size(i)))
        elif s == "flow_control":
            pass  # waits for the server's SETTINGS (its small window), see client_step
        elif s == "flow_early":
            # Sends at once: up to 65 535 bytes may go out before the
            # server's SETTINGS (with its smaller window) arrive (RFC 9113
            # section 6.9.3: the receiver must be prepared for that).
            self.request("POST", "/echo", body=pattern(1, FLOW_BODY))
        elif s == "reset":
            sid = self.request("POST", "/upload", body=b"", end=False)
            self.conn.send_data(sid, pattern(sid, 16_384), end_stream=False)
            self.conn.reset_stream(sid, ErrorCodes.CANCEL)
            self.rec(sid)["local_reset"] = int(ErrorCodes.CANCEL)
            self.outq.pop(sid, None)
            self.request("GET", "/big")
        elif s in ("goaway", "goaway_client"):
            for sid in (1, 3):
                body = pattern(sid, 16_000)
                self.request("POST", "/echo", body=body[:8_000], end=False)
            if s == "goaway_client":
                self.conn.close_connection(error_code=0, last_stream_id=0)
                for sid in (1, 3):
                    self.queue(sid, pattern(sid, 16_000)[8_000:], True)
        elif s == "ping":
            self.conn.ping(b"py-ping!")
        elif s == "invalid_headers":
            self.request("GET", "/hello", headers=[("X-Upper", "1")])
            self.request("GET", "/hello", headers=[("connection", "close")])
            self.request("GET", "/hello", headers=[("te", "gzip")])
            self.request("GET", "/hello")
        else:
            raise SystemExit("h2_peer: unknown scenario %r" % s)

    def finished(self, sids):
        def over(r):
            return r.get("ended") or r.get("reset") is not None or r.get("local_reset") is not None
        return all(over(self.streams.get(s, {})) for s in sids)

    def client_step(self):
        s = self.scenario
        if s == "basic":
            done = self.finished([1, 3])
        elif s == "trailers":
            done = self.finished([1])
        elif s == "concurrent":
            done = self.finished(range(1, 100, 2))
        elif s == "flow_control":
            if self.state.get("remote_settings") and not self.state.get("sent"):
                self.state["sent"] = True
                self.request("POST", "/echo", body=pattern(1, FLOW_BODY))
            done = self.finished([1])
        elif s == "flow_early":
            done = self.finished([1])
        elif s == "reset":
            if self.finished([1, 3]) and 5 not in self.streams:
                self.request("GET", "/hello")
            done = self.finished([1, 3, 5])
        elif s == "goaway":
            # Our server's final GOAWAY names stream 3: a new stream now is
            # one a racing client might still send; the server must ignore it.
            final = [g for g in self.goaways if g[0] < 2**31 - 1]
            if final and not self.state.get("raced"):
                self.state["raced"] = True
                self.request("GET", "/hello")
                for sid in (1, 3):
                    self.queue(sid, pattern(sid, 16_000)[8_000:], True)
            done = False  # the server closes the connection
        elif s == "goaway_client":
            done = False  # the server closes the connection once 1 and 3 are done
        elif s == "ping":
            if self.ping_acks and self.pings_received and not self.state.get("get"):
                self.state["get"] = True
                self.request("GET", "/hello")
            done = self.finished([1]) and bool(self.state.get("get"))
        elif s == "invalid_headers":
            done = self.finished([1, 3, 5, 7])
        else:
            done = False
        if done and not self.done:
            self.done = True
            self.conn.close_connection()

    # ---- loop --------------------------------------------------------

    def flush(self):
        data = self.conn.data_to_send()
        view = memoryview(data)
        while len(view):
            n = os.write(1, view)
            view = view[n:]

    def acks_due(self):
        now = time.monotonic()
        if self.next_ack is None or now < self.next_ack:
            return
        self.next_ack = None
        self.ack_rounds += 1
        for sid, n in list(self.unacked.items()):
            if n:
                try:
                    self.conn.acknowledge_received_data(n, sid)
                except h2.exceptions.StreamClosedError:
                    pass
                self.unacked[sid] = 0

    def run(self):
        self.conn.initiate_connection()
        if self.client:
            self.client_start()
        else:
            self.server_step()
        while True:
            self.pump()
            self.flush()
            if self.done:
                break
            timeout = None
            if self.next_ack is not None:
                timeout = max(0.0, self.next_ack - time.monotonic())
            ready, _, _ = select.select([0], [], [], timeout)
            if ready:
                data = os.read(0, 65536)
                if not data:
                    self.log("eof")
                    break
                for ev in self.conn.receive_data(data):
                    self.on_event(ev)
            self.acks_due()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("client", "server"):
        sys.stderr.write("usage: h2_peer.py <client|server> <scenario>\n")
        return 2
    peer = Peer(sys.argv[1], sys.argv[2])
    try:
        peer.run()
    except Exception as e:  # an h2 error is an observation, not a crash
        peer.errors.append("%s: %s" % (type(e).__name__, e))
        try:
            peer.flush()
        except OSError:
            pass
    sys.stderr.write("H2PEER-REPORT " + json.dumps(peer.report()) + "\n")
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
