//! # sockless-soak
//!
//! The soak and attack suite (issue 10, item 15): raw-socket clients against
//! `sockless serve` over loopback, each scenario bounded in time and count,
//! each printing its figure and checking its bound. `cargo test -p
//! sockless-soak` runs the short form; `cargo run --release -p sockless-soak
//! -- --long` the full counts.
//!
//! ```no_run
//! use sockless_soak::{run, Ctx, SCENARIOS};
//!
//! // The `sockless-soak` binary doubles as the server (`sockless-soak serve ...`
//! // is `sockless serve ...`).
//! let ctx = Ctx { server_exe: "target/release/sockless-soak".into(), driver: "tokio", long: false };
//! let report = run(&ctx, &SCENARIOS[0]);
//! assert!(report.broken.is_empty(), "{:?}", report.broken);
//! ```

pub mod flood;
pub mod h1;
pub mod h2;
pub mod measure;
pub mod scenarios;
pub mod server;

pub use scenarios::SCENARIOS;

use std::path::PathBuf;

/// Where and how big a run is.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// A program that takes `serve --addr A --driver D --hello|--echo` the
    /// way `sockless` does (the `sockless-soak` binary itself, or `sockless`).
    pub server_exe: PathBuf,
    /// `tokio`, `smol` or `async-std`.
    pub driver: &'static str,
    /// The full counts of the issue instead of the short form's.
    pub long: bool,
}

impl Ctx {
    /// `short` in the short form, `long` in the long one.
    pub fn pick<T>(&self, short: T, long: T) -> T {
        if self.long {
            long
        } else {
            short
        }
    }
}

/// The drivers `sockless serve --driver` offers.
pub const DRIVERS: [&str; 3] = ["tokio", "smol", "async-std"];

/// One scenario: a name and the function that runs it.
pub struct Scenario {
    /// What the figures are printed under.
    pub name: &'static str,
    /// Runs it: figures and bounds go into the report; an `Err` is a failure
    /// that stopped the scenario (a timeout, a refused connection).
    pub run: fn(&Ctx, &mut Report) -> Result<(), String>,
}

/// What a scenario measured and which of its bounds broke.
#[derive(Debug)]
pub struct Report {
    /// `scenario/driver`.
    pub name: String,
    /// Every figure, in order.
    pub figures: Vec<String>,
    /// The broken bounds and errors; empty when the scenario passed.
    pub broken: Vec<String>,
}

impl Report {
    /// Records (and prints) a figure.
    pub fn figure(&mut self, line: impl Into<String>) {
        let line = line.into();
        println!("{}: {line}", self.name);
        self.figures.push(line);
    }

    /// Records a figure with a bound: `ok` says whether the bound held.
    pub fn bound(&mut self, ok: bool, line: impl Into<String>) {
        let line = line.into();
        if ok {
            self.figure(format!("{line} [ok]"));
        } else {
            self.figure(format!("{line} [BROKEN]"));
            self.broken.push(line);
        }
    }

    /// Records a figure against a goal the project has not reached yet:
    /// printed as met or missed, never failing the run (its `bound` beside
    /// it is what guards against a regression).
    pub fn goal(&mut self, met: bool, line: impl Into<String>) {
        let line = line.into();
        self.figure(format!("{line} [goal {}]", if met { "met" } else { "MISSED" }));
    }
}

/// Open files the largest scenario needs on each side: 10 000 connections
/// (the server's default ceiling), and room for the probes and the process.
pub const FILES_NEEDED: u64 = 10_000 + 200;

/// Raises this process's soft open-file limit to its hard limit (the server
/// child inherits it); Err if even that is below [`FILES_NEEDED`].
pub fn raise_open_file_limit() -> Result<(), String> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        setrlimit(Resource::Nofile, limit).map_err(|e| format!("raising the open-file limit: {e}"))?;
    }
    match limit.current {
        Some(n) if n < FILES_NEEDED => {
            Err(format!("the open-file limit is {n}, the suite needs {FILES_NEEDED} (ulimit -Hn)"))
        }
        _ => Ok(()),
    }
}

/// Runs `scenario` in `ctx`, turning an early error into a broken bound.
pub fn run(ctx: &Ctx, scenario: &Scenario) -> Report {
    let mut report =
        Report { name: format!("{}/{}", scenario.name, ctx.driver), figures: Vec::new(), broken: Vec::new() };
    let started = std::time::Instant::now();
    if let Err(e) = raise_open_file_limit().and_then(|()| (scenario.run)(ctx, &mut report)) {
        report.figure(format!("FAILED: {e}"));
        report.broken.push(e);
    }
    report.figure(format!("took {:.1} s", started.elapsed().as_secs_f64()));
    report
}
