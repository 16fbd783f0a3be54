//! The scenarios of issue 10 item 15, one module per kind of load.

mod attacks;
mod body;
mod idle;
mod load;
mod slow;
mod unread;
mod uploads;

use crate::Scenario;

/// Every scenario, in the order the suite runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "idle-h1", run: idle::idle_h1 },
    Scenario { name: "idle-h2c", run: idle::idle_h2c },
    Scenario { name: "idle-timeouts", run: idle::idle_timeouts },
    Scenario { name: "ceiling", run: idle::ceiling },
    Scenario { name: "slowloris", run: slow::slowloris },
    Scenario { name: "many-requests", run: load::many_requests },
    Scenario { name: "body-over-limit", run: body::body_over_limit },
    Scenario { name: "pipelined-unread", run: unread::pipelined_unread },
    Scenario { name: "h2-rapid-reset", run: attacks::rapid_reset },
    Scenario { name: "h2-continuation-flood", run: attacks::continuation_flood },
    Scenario { name: "h2-ping-flood", run: attacks::ping_flood },
    Scenario { name: "h2-settings-flood", run: attacks::settings_flood },
    Scenario { name: "h2-uploads-read", run: uploads::uploads_read },
    Scenario { name: "h2-uploads-cancelled", run: uploads::uploads_cancelled },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
