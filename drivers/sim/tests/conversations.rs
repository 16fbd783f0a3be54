//! Thousands of seeded conversations over random links: every request gets
//! its right response, on HTTP/1.1 and HTTP/2.

mod common;

use common::{body_cap, plan, Client, EchoServer};
use sockless_core::Instant;
use sockless_sim::{for_each_seed, run, Rng, Scenario, Stop};

#[test]
fn h1_conversations() {
    for_each_seed(1500, |seed| {
        let scenario = Scenario::random(seed);
        let mut rng = Rng::new(seed);
        let count = rng.range(1, 5) as usize;
        let mut client = sockless_h1::ClientConnection::new(sockless_h1::Config::client(), Instant::ZERO);
        let mut server = sockless_h1::ServerConnection::new(sockless_h1::Config::server(), Instant::ZERO);
        let mut capp = Client::new(plan(&mut rng, count, false, body_cap(&scenario)), false);
        let mut sapp = EchoServer::default();
        let outcome = run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
        assert!(capp.failures.is_empty(), "seed {seed}: {:?}", capp.failures);
        assert_eq!(
            capp.done, count,
            "seed {seed}: {outcome:?} client errors {:?} server errors {:?}",
            capp.errors, sapp.errors
        );
        assert_eq!(outcome.stop, Stop::ClientFinished, "seed {seed}");
        assert!(sapp.errors.is_empty() && capp.errors.is_empty(), "seed {seed}");
    });
}

#[test]
fn h2_conversations() {
    for_each_seed(800, |seed| {
        let scenario = Scenario::random(seed);
        let mut rng = Rng::new(seed);
        let count = rng.range(1, 12) as usize;
        let mut client = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
        let mut server = sockless_h2::H2Connection::server(sockless_h2::Config::server(), Instant::ZERO);
        let mut capp = Client::new(plan(&mut rng, count, true, body_cap(&scenario)), true);
        let mut sapp = EchoServer::default();
        let outcome = run(&scenario, &mut client, &mut server, &mut capp, &mut sapp);
        assert!(capp.failures.is_empty(), "seed {seed}: {:?}", capp.failures);
        assert_eq!(
            capp.done, count,
            "seed {seed}: {outcome:?} client errors {:?} server errors {:?}",
            capp.errors, sapp.errors
        );
        assert!(sapp.errors.is_empty() && capp.errors.is_empty(), "seed {seed}");
    });
}
