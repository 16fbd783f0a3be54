//! The sockless-rt suite, generated for one runtime: `suite!(env, run)`
//! where `run` drives a future to completion on that runtime.

pub fn h1_server(now: sockless_core::Instant) -> sockless_h1::ServerConnection {
    sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now)
}
pub fn h1_client() -> sockless_h1::ClientConnection {
    sockless_h1::ClientConnection::new(sockless_h1::Config::client(), sockless_core::Instant::ZERO)
}
pub fn h2_server(now: sockless_core::Instant) -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::server(sockless_h2::Config::server(), now)
}
pub fn h2_client() -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::client(sockless_h2::Config::client(), sockless_core::Instant::ZERO)
}

#[macro_export]
macro_rules! suite {
    ($env:expr, $run:path) => {
        use sockless_rt::testkit;

        #[test]
        fn h1_streamed_echo_1mb() {
            $run(testkit::h1_streamed_echo_1mb($env));
        }

        #[test]
        fn h2_concurrent_streams() {
            $run(testkit::h2_concurrent_streams($env));
        }

        #[test]
        fn h2_unread_bodies_do_not_stall_other_streams() {
            $run(testkit::h2_unread_bodies_do_not_stall_other_streams($env));
        }

        #[test]
        fn h2_window_returned_with_a_cap_above_it() {
            $run(testkit::h2_window_returned_with_a_cap_above_it($env));
        }

        #[test]
        fn cancellation_h1() {
            $run(testkit::cancellation($env, false));
        }

        #[test]
        fn cancellation_h2() {
            $run(testkit::cancellation($env, true));
        }

        #[test]
        fn graceful_shutdown_h1() {
            $run(testkit::graceful_shutdown($env, common::h1_server, common::h1_client, false));
        }

        #[test]
        fn graceful_shutdown_h2() {
            $run(testkit::graceful_shutdown($env, common::h2_server, common::h2_client, true));
        }

        #[test]
        fn max_connections() {
            $run(testkit::max_connections($env));
        }

        #[test]
        fn backpressure() {
            $run(testkit::backpressure($env));
        }

        #[test]
        fn worker_pool() {
            $run(testkit::worker_pool($env));
        }

        #[test]
        fn h1_no_body_responses() {
            $run(testkit::h1_no_body_responses($env));
        }

        #[test]
        fn handler_panics_h1() {
            $run(testkit::handler_panics($env, false));
        }

        #[test]
        fn handler_panics_h2() {
            $run(testkit::handler_panics($env, true));
        }

        #[test]
        fn known_length_date_and_server() {
            $run(testkit::known_length_date_and_server($env));
        }

        #[test]
        fn client_error_kinds() {
            $run(testkit::client_error_kinds($env));
        }

        #[test]
        fn h2_refused_streams_are_retried() {
            $run(testkit::h2_refused_streams_are_retried($env));
        }

        #[test]
        fn relative_targets_get_the_authority_h1() {
            $run(testkit::relative_targets_get_the_authority($env, false));
        }

        #[test]
        fn relative_targets_get_the_authority_h2() {
            $run(testkit::relative_targets_get_the_authority($env, true));
        }

        #[test]
        fn connection_facts() {
            $run(testkit::connection_facts($env));
        }

        #[test]
        fn upgrades_hand_over_the_transport() {
            $run(testkit::upgrades_hand_over_the_transport($env));
        }

        #[test]
        fn h1_pipelined_burst_over_the_input_cap() {
            $run(testkit::h1_pipelined_burst_over_the_input_cap($env));
        }

        #[test]
        fn h2_goaway_survives_unread_input() {
            $run(testkit::h2_goaway_survives_unread_input($env));
        }

        #[test]
        fn h2_no_body_responses() {
            $run(testkit::h2_no_body_responses($env));
        }
    };
}
