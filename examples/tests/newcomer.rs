//! The newcomer examples (src/bin/router.rs, https.rs, client.rs,
//! graceful.rs) run and do what their comments say, checked with curl and
//! with each other. Each listens on 127.0.0.1 on a port the kernel picks
//! and is killed when its guard drops.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Output, Stdio};

/// A running example; killed on drop.
struct Running {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl Running {
    /// Starts `bin` on a free port and waits for its `listening on` line.
    fn start(bin: &str) -> Running {
        let mut child = Command::new(bin)
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{bin}: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let line = next_line(&mut stdout);
        let addr = line.rsplit("://").next().unwrap_or_default().to_string();
        assert!(line.starts_with("listening on ") && !addr.is_empty(), "{bin}: {line}");
        Running { child, stdout, addr }
    }

    fn url(&self, scheme: &str, path: &str) -> String {
        format!("{scheme}://{}{path}", self.addr)
    }

    fn next_line(&mut self) -> String {
        next_line(&mut self.stdout)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn next_line(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read stdout");
    line.trim_end().to_string()
}

/// Runs curl with a time limit; returns its stdout.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "--max-time", "10"]).args(args).output().expect("curl is installed");
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn router_serves_its_routes_over_h1_and_h2c() {
    let router = Running::start(env!("CARGO_BIN_EXE_router"));
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        assert_eq!(curl(&[proto, &router.url("http", "/")]), "Hello, World!\n");
        let user = curl(&[proto, "-i", &router.url("http", "/users/7")]).to_ascii_lowercase();
        assert!(user.contains("content-type: application/json"), "{user}");
        assert!(user.ends_with("{\"id\":7,\"name\":\"user 7\"}\n"), "{user}");
        let upload = curl(&[proto, "--data-binary", &"x".repeat(100_000), &router.url("http", "/upload")]);
        assert_eq!(upload, "{\"received\":100000}\n");
        let missing = curl(&[proto, "-w", "%{http_code}", &router.url("http", "/nowhere")]);
        assert_eq!(missing, "{\"error\":\"not found\"}\n404");
    }
}

#[test]
fn https_answers_over_h2_and_http11() {
    let https = Running::start(env!("CARGO_BIN_EXE_https"));
    let url = https.url("https", "/");
    assert_eq!(curl(&["-k", "--http2", &url]), "Hello over TLS, Http2\n");
    assert_eq!(curl(&["-k", "--http1.1", &url]), "Hello over TLS, Http11\n");
}

#[test]
fn client_gets_from_the_router_over_one_h2c_connection() {
    let router = Running::start(env!("CARGO_BIN_EXE_router"));
    let out = ok(Command::new(env!("CARGO_BIN_EXE_client"))
        .args([&router.addr, "/", "/users/42", "/nowhere"])
        .output()
        .unwrap());
    assert_eq!(out, "200 Hello, World!\n200 {\"id\":42,\"name\":\"user 42\"}\n404 {\"error\":\"not found\"}\n");
}

#[test]
fn graceful_shutdown_finishes_the_request_in_flight() {
    let mut server = Running::start(env!("CARGO_BIN_EXE_graceful"));
    let url = server.url("http", "/in-flight");
    let request = std::thread::spawn(move || curl(&[&url]));
    assert_eq!(server.next_line(), "handling /in-flight");
    let interrupted = Command::new("kill").args(["-INT", &server.child.id().to_string()]).status().unwrap();
    assert!(interrupted.success());
    assert_eq!(request.join().expect("curl"), "finished\n", "the request in flight is answered");
    assert_eq!(server.next_line(), "drained: every request answered");
    assert!(server.child.wait().expect("exit").success());
}
