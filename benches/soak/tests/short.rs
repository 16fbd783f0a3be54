//! The short form of the soak and attack suite: every scenario with its
//! counts scaled down, failing on a broken bound. The scenarios run one at a
//! time (each starts its own server and measures that process's memory, and
//! the fd and CPU budget of a small machine does not take two at once).

use sockless_soak::{run, scenarios, Ctx, DRIVERS};
use std::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs scenario `name` in its short form on each of `drivers`.
fn short(name: &str, drivers: &[&'static str]) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let scenario = scenarios::find(name).expect("a scenario of that name");
    let mut broken = Vec::new();
    for driver in drivers {
        let ctx = Ctx { server_exe: env!("CARGO_BIN_EXE_sockless-soak").into(), driver, long: false };
        let report = run(&ctx, scenario);
        broken.extend(report.broken.into_iter().map(|b| format!("{}: {b}", report.name)));
    }
    assert!(broken.is_empty(), "broken bounds:\n  {}", broken.join("\n  "));
}

// The cheap scenarios run on every driver; the slow ones (a timer to wait
// out, the ceiling to fill) on one each, spread over the drivers.

#[test]
fn idle_h1() {
    short("idle-h1", &DRIVERS);
}

#[test]
fn idle_h2c() {
    short("idle-h2c", &DRIVERS);
}

#[test]
fn idle_timeouts() {
    short("idle-timeouts", &["smol"]);
}

#[test]
fn ceiling() {
    short("ceiling", &["tokio"]);
}

#[test]
fn slowloris() {
    short("slowloris", &["async-std"]);
}

#[test]
fn many_requests() {
    short("many-requests", &["smol"]);
}

#[test]
fn body_over_limit() {
    short("body-over-limit", &DRIVERS);
}

#[test]
fn pipelined_unread() {
    short("pipelined-unread", &DRIVERS);
}

#[test]
fn h2_rapid_reset() {
    short("h2-rapid-reset", &DRIVERS);
}

#[test]
fn h2_continuation_flood() {
    short("h2-continuation-flood", &DRIVERS);
}

#[test]
fn h2_ping_flood() {
    short("h2-ping-flood", &DRIVERS);
}

#[test]
fn h2_settings_flood() {
    short("h2-settings-flood", &DRIVERS);
}

/// Fails on main until defect 10.1 (connection window credit) is fixed.
#[test]
fn h2_uploads_read() {
    short("h2-uploads-read", &DRIVERS);
}

/// Fails on main until defect 10.1 (connection window credit) is fixed.
#[test]
fn h2_uploads_cancelled() {
    short("h2-uploads-cancelled", &DRIVERS);
}
