//! The `sockless` command: `serve`, `get`, `bench` and `demo`.

pub mod args;
pub mod bench;
pub mod demo;
pub mod get;
pub mod json;
pub mod serve;
pub mod serve_epoll;
pub mod tls;

/// An error the command reports on one line, with its exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (curl's where one fits: 7 refused, 28 timeout, 35 TLS, 56 protocol).
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

impl Failure {
    /// A failure with `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Failure {
        Failure { code, message: message.into() }
    }

    /// Classifies an IO error from connecting or exchanging.
    pub fn from_io(e: &std::io::Error) -> Failure {
        let text = e.to_string();
        let code = match e.kind() {
            std::io::ErrorKind::ConnectionRefused => 7,
            std::io::ErrorKind::TimedOut => 28,
            _ if text.contains("TLS") || text.contains("certificate") || text.contains("handshake") => 35,
            _ => 56,
        };
        Failure::new(code, text)
    }
}
