//! Interop against real peers: curl, nghttp, h2load and httpx as clients of
//! `sockless serve` (on every driver), and `sockless get` as a client of
//! nghttpd, nginx and hypercorn.
//!
//! The peers are installed by `scripts/test.sh`, the README's test command (Debian: curl, nghttp2-client,
//! nghttp2-server, nginx, openssl; PyPI: httpx[http2], hypercorn, h2). A
//! missing peer fails its test with a message saying what to install: these
//! tests never skip silently. Every peer listens on 127.0.0.1 on a free port,
//! is killed when its guard drops, and every command runs under a timeout.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const SOCKLESS: &str = env!("CARGO_BIN_EXE_sockless");
const DRIVERS: [&str; 4] = ["tokio", "smol", "async-std", "epoll"];

/// The drivers to test against: [`DRIVERS`], and the io_uring one where
/// the kernel lets us use io_uring (where not, it says why and is left out).
fn drivers() -> Vec<&'static str> {
    let mut all = DRIVERS.to_vec();
    match sockless_uring::probe() {
        Ok(_) => all.push("uring"),
        Err(e) => eprintln!("uring driver SKIPPED: {e}"),
    }
    all
}
/// Longest any one client command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a peer may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// Processes, temporary directories and ports
// ---------------------------------------------------------------------------

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sockless-interop-{}-{tag}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Fails the test unless `tool` is on the PATH.
fn require(tool: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]) {
        let candidate = dir.join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "`{tool}` is not installed; the interop tests need it \
         (`bash scripts/test.sh` installs it: apt-get install {package})"
    );
}

/// Fails the test unless python3 can import every module.
fn require_python(modules: &str) {
    require("python3", "python3");
    let out = run(Command::new("python3").args(["-c", &format!("import {modules}")]));
    assert!(
        out.status.success(),
        "python3 cannot import {modules} (`bash scripts/test.sh` installs them): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd` to completion with captured output, killing it after
/// [`COMMAND_TIMEOUT`].
fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait().expect("wait for a child") {
            Some(status) => break Some(status),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(status) => Output { status, stdout, stderr },
        None => panic!(
            "{shown} did not finish within {COMMAND_TIMEOUT:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    }
}

/// Runs `cmd`, asserts it succeeded, and returns its stdout.
fn run_ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({})\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind 127.0.0.1:0").port()
}

/// A server process, killed (and its directory removed) on drop. Its stdout
/// and stderr go to files in its directory, shown when something fails.
struct Peer {
    name: String,
    child: Child,
    addr: SocketAddr,
    /// Every port it listens on (the first is `addr`'s).
    ports: Vec<u16>,
    dir: TempDir,
}

impl Peer {
    /// Starts `cmd` with its output in `dir`; does not wait.
    fn spawn(name: &str, mut cmd: Command, dir: TempDir) -> Peer {
        let out = fs::File::create(dir.file("stdout.log")).expect("log file");
        let err = fs::File::create(dir.file("stderr.log")).expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Peer { name: name.to_string(), child, addr: ([127, 0, 0, 1], 0).into(), ports: Vec::new(), dir }
    }

    /// What the peer printed so far.
    fn log(&self) -> String {
        let read = |f: &str| fs::read_to_string(self.dir.file(f)).unwrap_or_default();
        format!("{} stdout: {}\n{} stderr: {}", self.name, read("stdout.log"), self.name, read("stderr.log"))
    }

    /// Waits until `addr` accepts connections; `Err` when the peer exited first.
    fn wait_accepting(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for a peer") {
                return Err(format!("{} exited ({status}) before accepting on {addr}\n{}", self.name, self.log()));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                panic!("{} did not accept on {addr} within {START_TIMEOUT:?}\n{}", self.name, self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    fn https(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a peer on free ports (`ports` of them), retrying with other ports
/// when it exits before accepting (another process took a port meanwhile).
fn start_on_free_ports(name: &str, ports: usize, make: impl Fn(&[u16], &TempDir) -> Command) -> Peer {
    let mut last = String::new();
    for _ in 0..3 {
        let ports: Vec<u16> = (0..ports).map(|_| free_port()).collect();
        let dir = TempDir::new(name);
        let cmd = make(&ports, &dir);
        let mut peer = Peer::spawn(name, cmd, dir);
        let mut ok = true;
        for &port in &ports {
            if let Err(e) = peer.wait_accepting(([127, 0, 0, 1], port).into()) {
                last = e;
                ok = false;
                break;
            }
        }
        if ok {
            peer.addr = ([127, 0, 0, 1], ports[0]).into();
            peer.ports = ports;
            return peer;
        }
    }
    panic!("{name} would not start: {last}");
}

/// `sockless serve` on `driver` with `args` (`--echo`, `--tls`, ...), on a
/// port the kernel picks (read from its `listening on` line).
fn sockless_serve(driver: &str, args: &[&str]) -> Peer {
    let dir = TempDir::new("sockless-serve");
    let mut cmd = Command::new(SOCKLESS);
    cmd.args(["serve", "--addr", "127.0.0.1:0", "--driver", driver]).args(args);
    let mut peer = Peer::spawn(&format!("sockless serve --driver {driver} {}", args.join(" ")), cmd, dir);
    let deadline = Instant::now() + START_TIMEOUT;
    let addr = loop {
        let out = fs::read_to_string(peer.dir.file("stdout.log")).unwrap_or_default();
        if let Some(line) = out.lines().find(|l| l.starts_with("listening on ")) {
            let addr = line.rsplit("://").next().unwrap_or_default();
            break addr.parse::<SocketAddr>().unwrap_or_else(|e| panic!("bad listening line {line:?}: {e}"));
        }
        if let Some(status) = peer.child.try_wait().expect("wait for sockless") {
            panic!("{} exited ({status}) before listening\n{}", peer.name, peer.log());
        }
        assert!(Instant::now() < deadline, "{} printed no `listening on` line\n{}", peer.name, peer.log());
        std::thread::sleep(Duration::from_millis(10));
    };
    let tls = args.contains(&"--tls");
    let line = fs::read_to_string(peer.dir.file("stdout.log")).unwrap_or_default();
    let scheme = if tls { "https" } else { "http" };
    assert!(line.starts_with(&format!("listening on {scheme}://")), "{line}");
    peer.wait_accepting(addr).unwrap_or_else(|e| panic!("{e}"));
    peer.addr = addr;
    peer.ports = vec![addr.port()];
    peer
}

/// A self-signed certificate for localhost and 127.0.0.1 (P-256, openssl).
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    require("openssl", "openssl");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run_ok(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args([
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
                key.to_str().expect("utf-8 path"),
                "-out",
                cert.to_str().expect("utf-8 path"),
            ]),
    );
    (cert, key)
}

/// Standard base64 with padding (to predict `--echo`'s `body_b64`).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Checks an `--echo` answer: method, target, version and body.
fn assert_echo(json: &str, method: &str, target: &str, version: &str, body: &[u8]) {
    for want in [
        format!("\"method\":\"{method}\""),
        format!("\"target\":\"{target}\""),
        format!("\"version\":\"{version}\""),
        format!("\"body_b64\":\"{}\"", base64(body)),
    ] {
        assert!(json.contains(&want), "echo lacks {want}: {json}");
    }
}

// ---------------------------------------------------------------------------
// curl against `sockless serve`
// ---------------------------------------------------------------------------

const CURL_MARK: &str = "\n@@http_version=";

/// Runs curl with `args` and returns each transfer's (body, `%{http_version}`).
fn curl(args: &[&str]) -> Vec<(String, String)> {
    require("curl", "curl");
    let write_out = format!("{CURL_MARK}%{{http_version}}@@\n");
    let out = run_ok(Command::new("curl").args(["-sS", "--max-time", "10", "-w", &write_out]).args(args));
    let mut transfers = Vec::new();
    let mut rest = out.as_str();
    while let Some(i) = rest.find(CURL_MARK) {
        let body = &rest[..i];
        let after = &rest[i + CURL_MARK.len()..];
        let end = after.find("@@\n").unwrap_or_else(|| panic!("curl output: {out}"));
        transfers.push((body.to_string(), after[..end].to_string()));
        rest = &after[end + 3..];
    }
    assert!(rest.is_empty(), "curl printed more than its transfers: {out}");
    transfers
}

fn curl_one(args: &[&str]) -> (String, String) {
    let mut t = curl(args);
    assert_eq!(t.len(), 1, "{t:?}");
    t.remove(0)
}

fn curl_against(driver: &str) {
    // --hello over HTTP/1.1 and h2c prior knowledge (the Upgrade has its own test).
    let hello = sockless_serve(driver, &["--hello"]);
    let url = hello.http("/");
    for (flag, version) in [("--http1.1", "1.1"), ("--http2-prior-knowledge", "2")] {
        let (body, v) = curl_one(&[flag, &url]);
        assert_eq!((body.as_str(), v.as_str()), ("Hello, World!", version), "{driver} curl {flag}\n{}", hello.log());
    }
    // Several requests over one connection. (Not with --http2-prior-knowledge:
    // curl 7.88 fails to reuse such a connection with "Error in the HTTP2
    // framing layer" before sending anything, against nghttpd too.)
    let transfers = curl(&["--http1.1", &url, &url, &url]);
    assert_eq!(transfers.len(), 3);
    for (body, v) in &transfers {
        assert_eq!((body.as_str(), v.as_str()), ("Hello, World!", "1.1"), "{driver} curl --http1.1 x3");
    }

    // --echo: bodies, methods, targets and headers arrive intact.
    let echo = sockless_serve(driver, &["--echo"]);
    let url = echo.http("/echo?x=1");
    let data = format!("posted to {driver}");
    for (flag, version, json_version) in [("--http1.1", "1.1", "HTTP/1.1"), ("--http2-prior-knowledge", "2", "HTTP/2")]
    {
        let (json, v) = curl_one(&[flag, "-d", &data, &url]);
        assert_eq!(v, version, "{driver} curl {flag}: {json}");
        assert_echo(&json, "POST", "/echo?x=1", json_version, data.as_bytes());
        let (json, _) = curl_one(&[flag, "-X", "PUT", "-H", "X-Interop: yes", "-d", "", &url]);
        assert_echo(&json, "PUT", "/echo?x=1", json_version, b"");
        assert!(json.to_ascii_lowercase().contains("[\"x-interop\",\"yes\"]"), "{json}");
    }

    // HTTPS: ALPN picks h2, or http/1.1 when that is all curl offers.
    let tls = sockless_serve(driver, &["--tls", "--echo"]);
    let url = tls.https("/secure");
    for (flag, version, json_version) in [("--http2", "2", "HTTP/2"), ("--http1.1", "1.1", "HTTP/1.1")] {
        let (json, v) = curl_one(&["-k", flag, "-d", &data, &url]);
        assert_eq!(v, version, "{driver} curl -k {flag}: {json}");
        assert_echo(&json, "POST", "/secure", json_version, data.as_bytes());
    }
    // Several requests over one TLS connection.
    let transfers = curl(&["-k", "--http2", &url, &url]);
    assert!(transfers.iter().all(|(json, v)| v == "2" && json.contains("\"version\":\"HTTP/2\"")), "{transfers:?}");
}

#[test]
fn curl_against_sockless_tokio() {
    curl_against("tokio");
}

#[test]
fn curl_against_sockless_smol() {
    curl_against("smol");
}

#[test]
fn curl_against_sockless_async_std() {
    curl_against("async-std");
}

#[test]
fn curl_against_sockless_epoll() {
    curl_against("epoll");
}

#[test]
fn curl_against_sockless_uring() {
    if let Err(e) = sockless_uring::probe() {
        eprintln!("SKIPPED: {e}");
        return;
    }
    curl_against("uring");
}

/// curl verifies a certificate given with `--cert`/`--key` (no `-k`).
/// HEAD over HTTP/1.1 and h2c: the head alone, with the length a GET would
/// send and a Date field; curl sees no framing error (over HTTP/2 a body
/// would be a protocol error). (That a keep-alive connection serves the
/// requests after a HEAD is the testkit's `h1_no_body_responses`.)
#[test]
fn curl_head_against_sockless() {
    let hello = sockless_serve("tokio", &["--hello"]);
    let url = hello.http("/");
    for flag in ["--http1.1", "--http2-prior-knowledge"] {
        let (head, _) = curl_one(&[flag, "-I", &url]);
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with("http/"), "{flag}: {head}\n{}", hello.log());
        assert!(head.contains(" 200") && head.contains("content-length: 13\r\n"), "{flag}: {head}");
        assert!(head.contains("\r\ndate: "), "{flag}: {head}");
    }
}

/// `sockless serve --echo` answers CONNECT with 200 and then echoes the
/// tunnel's bytes, those sent with the CONNECT first, on the async drivers
/// (sockless-epoll and sockless-uring answer 501: they do not hand transports over yet).
/// (curl -p -x makes the tunnel too, but then reads its own request echoed
/// back as a response, so a raw client checks the bytes.)
#[test]
fn connect_tunnel_against_sockless() {
    use std::io::Write;
    for driver in drivers() {
        let echo = sockless_serve(driver, &["--echo"]);
        let mut s = TcpStream::connect(echo.addr).expect("connect");
        s.set_read_timeout(Some(COMMAND_TIMEOUT)).expect("timeout");
        if driver == "epoll" || driver == "uring" {
            // sockless-epoll does not hand a connection's socket over after
            // an upgrade yet: CONNECT gets a clear 501, the connection lives on.
            s.write_all(b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n").expect("write");
            let mut got = [0u8; 64];
            let n = s.read(&mut got).expect("an answer");
            assert!(got[..n].starts_with(b"HTTP/1.1 501 "), "{driver}: {}", String::from_utf8_lossy(&got[..n]));
            continue;
        }
        s.write_all(b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\nearly|").expect("write");
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(b"early|") {
            let n = s.read(&mut buf).unwrap_or_else(|e| panic!("{driver}: {e}\n{}", echo.log()));
            assert!(n > 0, "{driver}: closed after {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200 "), "{driver}: {}", String::from_utf8_lossy(&got));
        s.write_all(b"through the tunnel").expect("write");
        let mut more = vec![0u8; 18];
        s.read_exact(&mut more).expect("echoed");
        assert_eq!(&more[..], b"through the tunnel", "{driver}");
    }
}

#[test]
fn curl_verifies_given_certificate() {
    let certs = TempDir::new("certs");
    let (cert, key) = make_cert(certs.path());
    let (cert_s, key_s) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let server = sockless_serve("tokio", &["--tls", "--cert", cert_s, "--key", key_s, "--hello"]);
    let url = format!("https://localhost:{}/", server.port());
    let resolve = format!("localhost:{}:127.0.0.1", server.port());
    let (body, v) = curl_one(&["--cacert", cert_s, "--resolve", &resolve, "--http2", &url]);
    assert_eq!((body.as_str(), v.as_str()), ("Hello, World!", "2"));
}

/// curl `--http2` on http:// (h2c Upgrade): the upgrade request is answered
/// over HTTP/2 as stream 1, and later requests share the connection.
#[test]
fn curl_h2c_upgrade_against_sockless() {
    for driver in drivers() {
        let hello = sockless_serve(driver, &["--hello"]);
        let url = hello.http("/");
        let (body, v) = curl_one(&["--http2", &url]);
        assert_eq!((body.as_str(), v.as_str()), ("Hello, World!", "2"), "{driver}\n{}", hello.log());
        let transfers = curl(&["--http2", &url, &url, &url]);
        assert_eq!(transfers.len(), 3);
        for (body, v) in &transfers {
            assert_eq!((body.as_str(), v.as_str()), ("Hello, World!", "2"), "{driver} curl --http2 x3");
        }
        let echo = sockless_serve(driver, &["--echo"]);
        let (json, v) = curl_one(&["--http2", &echo.http("/echo?x=1")]);
        assert_eq!(v, "2", "{driver}: {json}");
        assert_echo(&json, "GET", "/echo?x=1", "HTTP/2", b"");
    }
}

/// curl's h2c Upgrade carries a POST body in the HTTP/1.1 request; the
/// handler must see it as stream 1's body.
#[test]
fn curl_h2c_upgrade_post_keeps_body() {
    for driver in drivers() {
        let echo = sockless_serve(driver, &["--echo"]);
        let (json, v) = curl_one(&["--http2", "-d", "upgrade body", &echo.http("/up")]);
        assert_eq!(v, "2", "{driver}: {json}");
        assert_echo(&json, "POST", "/up", "HTTP/2", b"upgrade body");
    }
}

// ---------------------------------------------------------------------------
// nghttp, h2load and httpx against `sockless serve`
// ---------------------------------------------------------------------------

#[test]
fn nghttp_against_sockless() {
    require("nghttp", "nghttp2-client");
    for driver in drivers() {
        let hello = sockless_serve(driver, &["--hello"]);
        // Prior knowledge (nghttp's default for http://), three concurrent
        // streams on one connection.
        let out = run_ok(Command::new("nghttp").args(["-v", "-n"]).args([
            hello.http("/1"),
            hello.http("/2"),
            hello.http("/3"),
        ]));
        assert_eq!(out.matches(":status: 200").count(), 3, "{driver} nghttp: {out}");
        let out = run_ok(Command::new("nghttp").arg(hello.http("/")));
        assert_eq!(out, "Hello, World!", "{driver} nghttp");

        // POST bodies, in cleartext and over TLS.
        let echo = sockless_serve(driver, &["--echo"]);
        let tls = sockless_serve(driver, &["--tls", "--echo"]);
        let data_dir = TempDir::new("nghttp-data");
        let data = data_dir.file("body.txt");
        let body = format!("nghttp body for {driver}\n").repeat(100);
        fs::write(&data, &body).expect("write data");
        for url in [echo.http("/n?1"), tls.https("/n?1")] {
            let out = run_ok(Command::new("nghttp").arg("-v").arg("-d").arg(&data).arg(&url));
            assert!(out.contains(":status: 200"), "{driver} nghttp -d {url}: {out}");
            let json = out.lines().find(|l| l.starts_with("{\"method\"")).unwrap_or_else(|| panic!("{out}"));
            assert_echo(json, "POST", "/n?1", "HTTP/2", body.as_bytes());
        }
        let out = run_ok(Command::new("nghttp").arg("-v").arg(tls.https("/")));
        assert!(out.contains("The negotiated protocol: h2"), "{driver} nghttp over TLS: {out}");
    }
}

/// nghttp `-u`: the h2c Upgrade (GET, then OPTIONS * when a body is sent).
#[test]
fn nghttp_upgrade_against_sockless() {
    require("nghttp", "nghttp2-client");
    for driver in drivers() {
        let hello = sockless_serve(driver, &["--hello"]);
        let out = run_ok(Command::new("nghttp").args(["-v", "-u"]).arg(hello.http("/")));
        assert!(out.contains(":status: 200"), "{driver} nghttp -u: {out}");
        assert!(out.contains("Hello, World!"), "{driver} nghttp -u: {out}");
        assert!(!out.contains("recv GOAWAY"), "{driver} nghttp -u: {out}");
    }
}

fn h2load_ok(url: &str, n: usize, what: &str) {
    let n_s = n.to_string();
    let out = run_ok(Command::new("h2load").args(["-n", &n_s, "-c", "4", "-m", "8", url]));
    let want = format!("{n} succeeded, 0 failed, 0 errored");
    assert!(out.contains(&want), "{what}: h2load {url}: expected `{want}`:\n{out}");
    assert!(out.contains(&format!("status codes: {n} 2xx")), "{what}: h2load {url}:\n{out}");
}

#[test]
fn h2load_against_sockless() {
    require("h2load", "nghttp2-client");
    for driver in drivers() {
        let hello = sockless_serve(driver, &["--hello"]);
        h2load_ok(&hello.http("/"), 2000, driver);
    }
    for driver in drivers().into_iter().filter(|d| matches!(*d, "tokio" | "epoll" | "uring")) {
        let tls = sockless_serve(driver, &["--tls", "--hello"]);
        h2load_ok(&tls.https("/"), 500, &format!("{driver} over TLS"));
    }
}

const HTTPX_SCRIPT: &str = r#"
import sys, httpx
url, mode = sys.argv[1], sys.argv[2]
kw = {"h1": dict(http1=True, http2=False),
      "h2": dict(http2=True, verify=False),
      "h2c": dict(http1=False, http2=True)}[mode]
with httpx.Client(timeout=10, **kw) as c:
    for i in range(3):
        r = c.post(url, content=b"httpx %d" % i)
        j = r.json()
        print(r.status_code, r.http_version, j["version"], j["method"], j["target"], j["body_b64"])
    r = c.get(url)
    print(r.status_code, r.http_version, r.json()["method"])
"#;

#[test]
fn httpx_against_sockless() {
    require_python("httpx, h2");
    for driver in drivers() {
        let echo = sockless_serve(driver, &["--echo"]);
        let tls = sockless_serve(driver, &["--tls", "--echo"]);
        for (url, mode, version) in
            [(echo.http("/x"), "h1", "HTTP/1.1"), (echo.http("/x"), "h2c", "HTTP/2"), (tls.https("/x"), "h2", "HTTP/2")]
        {
            let out = run_ok(Command::new("python3").args(["-c", HTTPX_SCRIPT, &url, mode]));
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 4, "{driver} httpx {mode}: {out}");
            for (i, line) in lines[..3].iter().enumerate() {
                let want = format!("200 {version} {version} POST /x {}", base64(format!("httpx {i}").as_bytes()));
                assert_eq!(*line, want, "{driver} httpx {mode}");
            }
            assert_eq!(lines[3], format!("200 {version} GET"), "{driver} httpx {mode}");
        }
    }
}

// ---------------------------------------------------------------------------
// `sockless get` against nghttpd, nginx and hypercorn
// ---------------------------------------------------------------------------

/// Runs `sockless get` and returns its stdout; asserts exit status 0.
/// The first line of `sockless get -i` output.
fn status_line(out: &str) -> &str {
    out.split("\r\n").next().unwrap_or_default()
}

fn get(args: &[&str]) -> String {
    run_ok(Command::new(SOCKLESS).arg("get").args(["--max-time", "15"]).args(args))
}

#[test]
fn sockless_get_against_nghttpd() {
    require("nghttpd", "nghttp2-server");
    let certs = TempDir::new("certs");
    let (cert, key) = make_cert(certs.path());
    let docroot = TempDir::new("docroot");
    fs::write(docroot.file("hello.txt"), "hello from nghttpd\n").expect("write");
    let big = "0123456789abcdef".repeat(8 * 1024); // 128 KiB: more than one window
    fs::write(docroot.file("big.txt"), &big).expect("write");
    let root = docroot.path().to_path_buf();

    let h2c = start_on_free_ports("nghttpd-h2c", 1, |ports, _| {
        let mut cmd = Command::new("nghttpd");
        cmd.args(["-a", "127.0.0.1", "-d"]).arg(&root).arg("--no-tls").arg(ports[0].to_string());
        cmd
    });
    let out = get(&["--http2-prior-knowledge", "-i", &h2c.http("/hello.txt")]);
    assert!(status_line(&out).starts_with("HTTP/2 200"), "{out}\n{}", h2c.log());
    assert!(out.ends_with("\r\n\r\nhello from nghttpd\n"), "{out}");
    // Several URLs over one connection, one of them larger than the windows.
    let out =
        get(&["--http2-prior-knowledge", &h2c.http("/hello.txt"), &h2c.http("/big.txt"), &h2c.http("/hello.txt")]);
    assert_eq!(out, format!("hello from nghttpd\n{big}hello from nghttpd\n"), "{}", h2c.log());
    // A missing file is a 404 answer, still a complete exchange.
    let out = get(&["--http2-prior-knowledge", "-i", &h2c.http("/missing")]);
    assert!(status_line(&out).starts_with("HTTP/2 404"), "{out}");

    let tls = start_on_free_ports("nghttpd-tls", 1, |ports, _| {
        let mut cmd = Command::new("nghttpd");
        cmd.args(["-a", "127.0.0.1", "-d"]).arg(&root).arg(ports[0].to_string()).arg(&key).arg(&cert);
        cmd
    });
    let out = get(&["-k", "-i", &tls.https("/hello.txt"), &tls.https("/big.txt")]);
    assert!(status_line(&out).starts_with("HTTP/2 200"), "{out}\n{}", tls.log());
    assert!(out.contains("\r\n\r\nhello from nghttpd\nHTTP/2 200"), "{out}");
    assert!(out.ends_with(&big), "TLS body of big.txt differs");
    // Without -k the self-signed certificate is refused, with a one-line error.
    let out = run(Command::new(SOCKLESS).args(["get", "--max-time", "15", &tls.https("/hello.txt")]));
    assert!(!out.status.success(), "an untrusted certificate must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one-line error: {err}");
}

/// nginx's version as (major, minor, patch).
fn nginx_version() -> (u32, u32, u32) {
    let out = run(Command::new("nginx").arg("-v"));
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let v = text.split("nginx/").nth(1).unwrap_or_else(|| panic!("nginx -v: {text}"));
    let mut parts = v.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

#[test]
fn sockless_get_against_nginx() {
    require("nginx", "nginx");
    let certs = TempDir::new("certs");
    let (cert, key) = make_cert(certs.path());
    // `http2 on;` arrived in 1.25.1; older versions take it on `listen`.
    let (h2_listen, h2_directive) = if nginx_version() >= (1, 25, 1) { ("", "http2 on;") } else { (" http2", "") };
    let nginx = start_on_free_ports("nginx", 3, |ports, dir| {
        let d = dir.path().display();
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
error_log stderr;
pid {d}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{p1};
        location / {{ return 200 "hello from nginx\n"; }}
    }}
    server {{
        listen 127.0.0.1:{p2} ssl{h2_listen};
        {h2_directive}
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{ return 200 "hello over h2\n"; }}
    }}
    server {{
        listen 127.0.0.1:{p3};
        keepalive_timeout 1s;
        keepalive_requests 2;
        location / {{ return 200 "short keepalive\n"; }}
    }}
}}
"#,
            p1 = ports[0],
            p2 = ports[1],
            p3 = ports[2],
            cert = cert.display(),
            key = key.display(),
        );
        let path = dir.file("nginx.conf");
        fs::write(&path, conf).expect("write nginx.conf");
        let mut cmd = Command::new("nginx");
        cmd.args(["-e", "stderr", "-p"]).arg(dir.path()).arg("-c").arg(&path);
        cmd
    });
    let tls_url = format!("https://127.0.0.1:{}/", nginx.ports[1]);

    let out = get(&["-i", &nginx.http("/")]);
    assert!(status_line(&out).starts_with("HTTP/1.1 200"), "{out}\n{}", nginx.log());
    assert!(out.ends_with("\r\n\r\nhello from nginx\n"), "{out}");
    let out = get(&[&nginx.http("/a"), &nginx.http("/b"), &nginx.http("/c")]);
    assert_eq!(out, "hello from nginx\n".repeat(3), "{}", nginx.log());
    let out = get(&["-d", "some data", &nginx.http("/post")]);
    assert_eq!(out, "hello from nginx\n", "{}", nginx.log());

    let out = get(&["-k", "-i", &tls_url, &tls_url]);
    assert!(status_line(&out).starts_with("HTTP/2 200"), "{out}\n{}", nginx.log());
    assert_eq!(out.matches("HTTP/2 200").count(), 2, "{out}");
    assert!(out.ends_with("\r\n\r\nhello over h2\n"), "{out}");
    let out = get(&["-k", "-i", "--http1.1", &tls_url]);
    assert!(status_line(&out).starts_with("HTTP/1.1 200"), "{out}\n{}", nginx.log());
    assert!(out.ends_with("hello over h2\n"), "{out}");

    // keepalive_requests 2: nginx closes every second connection after its
    // answer; the connection is replaced and each URL still answered.
    let short = format!("http://127.0.0.1:{}", nginx.ports[2]);
    let urls: Vec<String> = (0..5).map(|i| format!("{short}/{i}")).collect();
    let args: Vec<&str> = urls.iter().map(String::as_str).collect();
    assert_eq!(get(&args), "short keepalive\n".repeat(5), "{}", nginx.log());

    // keepalive_timeout 1s: nginx closes the idle connection after a second;
    // the client sees the EOF on the idle socket and retires it, so the next
    // request goes out on a new connection without a failed attempt.
    let client = sockless_tokio::BlockingClient::new(Default::default()).expect("client");
    let r = client.get(&format!("{short}/idle")).expect("first request");
    assert_eq!(&r.bytes(1024).expect("body")[..], b"short keepalive\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.client().connections() > 0 {
        assert!(Instant::now() < deadline, "the idle connection's EOF was not seen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = client.get(&format!("{short}/again")).expect("request after the idle close");
    assert_eq!(r.head.status, 200);
    let stats = client.client().stats();
    assert_eq!((stats.connects, stats.retries), (2, 0), "{stats:?}");
}

const HYPERCORN_APP: &str = r#"
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    text = "%s HTTP/%s %s [%s]\n" % (scope["method"], scope["http_version"], scope["path"], body.decode())
    data = text.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
"#;

#[test]
fn sockless_get_against_hypercorn() {
    require_python("hypercorn, h2");
    let hypercorn = start_on_free_ports("hypercorn", 1, |ports, dir| {
        fs::write(dir.file("app.py"), HYPERCORN_APP).expect("write app.py");
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "hypercorn", "-w", "0", "--bind", &format!("127.0.0.1:{}", ports[0]), "app:app"])
            .current_dir(dir.path());
        cmd
    });
    // h2c Upgrade: the first request is answered over HTTP/2, and so is the next.
    let out = get(&["--http2", "-i", &hypercorn.http("/one"), &hypercorn.http("/two")]);
    assert!(status_line(&out).starts_with("HTTP/2 200"), "{out}\n{}", hypercorn.log());
    assert!(out.contains("GET HTTP/2 /one []\n"), "{out}\n{}", hypercorn.log());
    assert!(out.ends_with("GET HTTP/2 /two []\n"), "{out}\n{}", hypercorn.log());
    // Plain HTTP/1.1 still works, with a body.
    let out = get(&["-d", "h1 body", &hypercorn.http("/post")]);
    assert_eq!(out, "POST HTTP/1.1 /post [h1 body]\n", "{}", hypercorn.log());
    // Prior knowledge too.
    let out = get(&["--http2-prior-knowledge", "-d", "pk body", &hypercorn.http("/pk")]);
    assert_eq!(out, "POST HTTP/2 /pk [pk body]\n", "{}", hypercorn.log());
}

// ---------------------------------------------------------------------------
// `sockless bench` against `sockless serve`
// ---------------------------------------------------------------------------

#[test]
fn sockless_bench_against_sockless_serve() {
    let hello = sockless_serve("tokio", &["--hello"]);
    let url = hello.http("/");
    for (flags, conns) in
        [(&["--http1.1", "-c", "3"][..], 3), (&["--http2-prior-knowledge", "-c", "1", "-m", "16"][..], 1)]
    {
        let out = run_ok(Command::new(SOCKLESS).args(["bench", &url, "-n", "2000"]).args(flags));
        assert!(out.contains("2000 total, 2000 done, 2000 succeeded, 0 failed"), "{flags:?}: {out}");
        assert!(out.contains("2000 2xx"), "{out}");
        assert!(out.contains(&format!("connections: {conns} opened")), "{flags:?}: {out}");
        assert!(out.contains("p50") && out.contains("p99") && out.contains("req/s"), "{out}");
    }
    // A POST with a body, and a failure count when nothing listens.
    let out = run_ok(Command::new(SOCKLESS).args(["bench", &url, "-n", "50", "-c", "2", "-d", "x"]));
    assert!(out.contains("50 succeeded, 0 failed"), "{out}");
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let out = run(Command::new(SOCKLESS).args(["bench", &format!("http://{closed}/"), "-n", "3"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 failed"), "{out:?}");
}

// ---------------------------------------------------------------------------
// h2spec: RFC 7540/9113 and RFC 7541 conformance, every driver, h2c and TLS
// ---------------------------------------------------------------------------

/// How many times in a row each driver and transport must pass all of h2spec (the long form,
/// by hand: `SOCKLESS_H2SPEC_ROUNDS=50 cargo test -p sockless-examples --test interop h2spec`).
fn h2spec_rounds() -> usize {
    std::env::var("SOCKLESS_H2SPEC_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3)
}

/// The h2spec binary `scripts/test.sh` builds from the sources vendored in tools/h2spec
/// (`SOCKLESS_H2SPEC` names it), or one on the PATH.
fn h2spec() -> PathBuf {
    if let Some(path) = std::env::var_os("SOCKLESS_H2SPEC") {
        return PathBuf::from(path);
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/h2spec/h2spec");
    if built.is_file() {
        return built;
    }
    require("h2spec", "golang-go, then `bash scripts/test.sh` builds tools/h2spec")
}

/// All 146 h2spec cases pass on `driver`, over h2c (prior knowledge) and over TLS, several
/// runs in a row against one server.
fn h2spec_against(driver: &str) {
    let h2spec = h2spec();
    for tls in [false, true] {
        let args: &[&str] = if tls { &["--echo", "--tls"] } else { &["--echo"] };
        let server = sockless_serve(driver, args);
        let port = server.port().to_string();
        for round in 1..=h2spec_rounds() {
            let mut cmd = Command::new(&h2spec);
            cmd.args(["-h", "127.0.0.1", "-p", &port, "-o", "5"]);
            if tls {
                cmd.args(["-t", "-k"]);
            }
            let out = run(&mut cmd);
            let stdout = String::from_utf8_lossy(&out.stdout);
            let summary = stdout.lines().rev().find(|l| l.contains(" tests, ")).unwrap_or_default();
            assert!(
                out.status.success() && summary.contains("146 tests, 146 passed, 0 skipped, 0 failed"),
                "h2spec on {driver} (tls: {tls}), round {round}: {summary}\n{stdout}\n{}",
                server.log()
            );
        }
        eprintln!("h2spec on {driver} (tls: {tls}): 146/146, {} rounds", h2spec_rounds());
    }
}

#[test]
fn h2spec_against_sockless_tokio() {
    h2spec_against("tokio");
}

#[test]
fn h2spec_against_sockless_smol() {
    h2spec_against("smol");
}

#[test]
fn h2spec_against_sockless_async_std() {
    h2spec_against("async-std");
}

#[test]
fn h2spec_against_sockless_epoll() {
    h2spec_against("epoll");
}

#[test]
fn h2spec_against_sockless_uring() {
    if let Err(e) = sockless_uring::probe() {
        eprintln!("SKIPPED: {e}");
        return;
    }
    h2spec_against("uring");
}
