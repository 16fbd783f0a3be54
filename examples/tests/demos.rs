//! The demos run to completion and print what they promise.

use std::process::Command;

fn run(bin: &str) -> String {
    let args: &[&str] = if bin.ends_with("sockless") { &["demo"] } else { &[] };
    let out = Command::new(bin).args(args).output().expect("demo starts");
    assert!(out.status.success(), "{bin}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn h1_loopback_demo() {
    let out = run(env!("CARGO_BIN_EXE_h1-loopback"));
    assert!(out.contains("200 Hello, World!"), "{out}");
    assert!(out.contains("HTTP/1.1 400 Bad Request"), "the smuggling attempt is refused: {out}");
    assert!(out.contains("all exchanges completed"), "{out}");
}

#[test]
fn serial_link_demo() {
    let out = run(env!("CARGO_BIN_EXE_serial-link"));
    assert_eq!(out.matches("temperature=21.5C").count(), 3, "{out}");
    assert!(out.contains("no socket involved"), "{out}");
}

#[test]
fn sockless_demo_runs_every_driver_and_protocol() {
    let out = run(env!("CARGO_BIN_EXE_sockless"));
    for driver in ["tokio", "smol", "async-std"] {
        for proto in ["HTTP/1.1", "h2c", "h2 over TLS"] {
            let line = out.lines().find(|l| l.starts_with(driver) && l.contains(proto) && l.ends_with("ok"));
            assert!(line.is_some(), "{driver} {proto}: {out}");
        }
    }
}
