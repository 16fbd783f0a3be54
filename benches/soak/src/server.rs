//! The server under test: `sockless serve` as a child process, so that its
//! memory is measured alone (`VmRSS` of its own `/proc/PID/status`) and a crash
//! of it is seen as an exit status rather than taking the suite down.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What `serve` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `--hello`: a 13-byte `200` to everything, request bodies unread.
    Hello,
    /// `--echo`: reads the whole request body (up to 16 MiB) and describes it.
    Echo,
}

/// A running `sockless serve` child; killed when dropped.
pub struct Server {
    child: Child,
    /// The child's stdin, never written: `sockless-soak serve` exits when it
    /// closes, so a suite that is killed leaves no server behind.
    _lifeline: Option<std::process::ChildStdin>,
    /// Where it listens (127.0.0.1 and a port the kernel chose).
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `exe serve --addr 127.0.0.1:0 --driver DRIVER --hello|--echo`
    /// and waits (at most 20 s) for its `listening on http://ADDR` line.
    pub fn start(exe: &Path, driver: &str, mode: Mode) -> Result<Server, String> {
        let mode_flag = match mode {
            Mode::Hello => "--hello",
            Mode::Echo => "--echo",
        };
        let mut child = Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0", "--driver", driver, mode_flag])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", exe.display()))?;
        let lifeline = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let (tx, rx) = mpsc::channel();
        // The line arrives on a thread so that waiting for it has a deadline;
        // the thread then drains the pipe until the child exits.
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} serve --driver {driver}: no `listening on` line in 20 s", exe.display()));
            }
        };
        let addr = line
            .rsplit("://")
            .next()
            .and_then(|a| a.trim().parse().ok())
            .ok_or_else(|| format!("unexpected first line from serve: {line:?}"))?;
        Ok(Server { child, _lifeline: lifeline, addr })
    }

    /// The server process's resident set size, KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Result<u64, String> {
        rss_kib(self.child.id())
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Err with the exit status if the server is no longer running.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server died: {status}")),
            Err(e) => Err(format!("waiting on the server: {e}")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of process `pid`, KiB.
pub fn rss_kib(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("{path}: no VmRSS line"))
}
