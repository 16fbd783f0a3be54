//! The scenarios of issue 10 item 15, one module per kind of load.

mod idle;

use crate::Scenario;

/// Every scenario, in the order the suite runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "idle-h1", run: idle::idle_h1 },
    Scenario { name: "idle-h2c", run: idle::idle_h2c },
    Scenario { name: "idle-timeouts", run: idle::idle_timeouts },
    Scenario { name: "ceiling", run: idle::ceiling },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
