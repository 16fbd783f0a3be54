#!/usr/bin/env python3
"""Oracle for protocol/h1/tests/h11_differential.rs: parses HTTP/1.1 byte
streams with Python's h11 and prints a normalized event list per case.

Input (stdin), one item per line, every variable field hex-encoded ("-" for
empty):

    CASE <id> S            h11 reads requests (our_role=SERVER)
    CASE <id> C            h11 reads responses (our_role=CLIENT)
    REQ <method> <ver>     client role: the request h11 sends before the next segment
    SEG <bytes>            bytes received from the peer (server role: fed in order;
                           client role: fed after the preceding REQ)
    GO                     end of case: EOF is fed and the case is run

Output, per case:

    CASE <id>
    R <method> <target> <version>      a complete request head
    S <status> <reason> <version>      a complete final response head
    I <status> <reason>                an informational response
    H <name> <value>                   a field of the head / trailer above
    B <body>                           the body, all Data concatenated
    T                                  trailers follow (H lines)
    E                                  end of message
    X <message>                        h11 raised RemoteProtocolError; nothing follows
    DONE

A message's lines are printed only once it is complete (EndOfMessage), so a
message cut short by an error leaves only the X line. Names are as h11 gives
them (lowercased); values are as h11 normalized them.
"""

import sys

try:
    import h11
except ImportError as e:  # pragma: no cover - reported by the Rust side
    sys.stderr.write("h11_oracle: cannot import h11 (pip install h11): %s\n" % e)
    sys.exit(3)


def hx(b):
    b = bytes(b)
    return b.hex() if b else "-"


def unhx(s):
    return b"" if s == "-" else bytes.fromhex(s)


def fields(out, headers):
    for name, value in headers:
        out.append("H %s %s" % (hx(name), hx(value)))


class Run:
    def __init__(self, role):
        self.role = role
        self.conn = h11.Connection(our_role=h11.SERVER if role == "S" else h11.CLIENT)
        self.lines = []
        self.pending = []
        self.body = bytearray()
        self.failed = False

    def pump(self):
        """Processes events until h11 needs data, pauses, or the connection closes."""
        conn = self.conn
        while not self.failed:
            try:
                ev = conn.next_event()
            except h11.RemoteProtocolError as e:
                self.lines.append("X %s" % hx(str(e).encode()))
                self.failed = True
                return
            if ev is h11.NEED_DATA or isinstance(ev, h11.ConnectionClosed):
                return
            if ev is h11.PAUSED:
                if not self.next_cycle():
                    return
                continue
            if isinstance(ev, h11.Request):
                self.pending = ["R %s %s %s" % (hx(ev.method), hx(ev.target), ev.http_version.decode())]
                fields(self.pending, ev.headers)
                self.body = bytearray()
            elif isinstance(ev, h11.InformationalResponse):
                self.lines.append("I %d %s" % (ev.status_code, hx(ev.reason)))
                fields(self.lines, ev.headers)
            elif isinstance(ev, h11.Response):
                self.pending = ["S %d %s %s" % (ev.status_code, hx(ev.reason), ev.http_version.decode())]
                fields(self.pending, ev.headers)
                self.body = bytearray()
            elif isinstance(ev, h11.Data):
                self.body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                self.lines.extend(self.pending)
                self.lines.append("B %s" % hx(self.body))
                if ev.headers:
                    self.lines.append("T")
                    fields(self.lines, ev.headers)
                self.lines.append("E")
                self.pending = []
                self.on_end_of_message()
                if self.role == "C":
                    # The client sends its next request only after this response.
                    return

    def on_end_of_message(self):
        if self.role == "S":
            # Answer so that h11 goes on to the next pipelined request.
            conn = self.conn
            if conn.our_state is h11.SEND_RESPONSE:
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                conn.send(h11.EndOfMessage())
            self.next_cycle()
        else:
            self.next_cycle()

    def next_cycle(self):
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            return True
        return False

    def send_request(self, method, version):
        conn = self.conn
        self.next_cycle()
        if conn.our_state is not h11.IDLE:
            # The previous exchange did not finish (h11 closes after it): what
            # follows cannot be sent; report it as h11 would see it.
            self.lines.append("X %s" % hx(b"cannot send another request in state %r" % (conn.our_state,)))
            self.failed = True
            return
        headers = [("Host", "example.com")]
        if version != "1.1":
            # h11 only sends HTTP/1.1; an HTTP/1.0 request (no keep-alive) is
            # emulated by Connection: close, which has the same effect on how
            # the response is read and on reuse.
            headers.append(("Connection", "close"))
        conn.send(h11.Request(method=method, target="/", headers=headers))
        conn.send(h11.EndOfMessage())

    def feed(self, data):
        if self.failed:
            return
        self.conn.receive_data(data)
        self.pump()

    def finish(self):
        if not self.failed:
            self.conn.receive_data(b"")
            self.pump()
        return self.lines


def main():
    data = sys.stdin.buffer.read().decode("ascii").split("\n")
    out = []
    run = None
    case_id = None
    for line in data:
        if not line:
            continue
        parts = line.split(" ")
        tag = parts[0]
        if tag == "CASE":
            case_id = parts[1]
            run = Run(parts[2])
        elif tag == "REQ":
            if not run.failed:
                run.send_request(unhx(parts[1]), parts[2])
        elif tag == "SEG":
            run.feed(unhx(parts[1]))
        elif tag == "GO":
            out.append("CASE %s" % case_id)
            out.extend(run.finish())
            out.append("DONE")
            run = None
        else:
            raise SystemExit("h11_oracle: bad input line %r" % line)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
