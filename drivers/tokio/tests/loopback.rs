//! The sockless-rt test suite over real loopback TCP on tokio.

use sockless_rt::testkit::{self, BoxFuture, Env};
use sockless_tokio::{TokioIo, TokioListener, TokioRuntime};
use std::io;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
struct Tokio;

impl Env for Tokio {
    type Rt = TokioRuntime;
    type Listener = TokioListener;
    type Stream = TokioIo<TcpStream>;

    fn rt(&self) -> TokioRuntime {
        TokioRuntime::current()
    }

    fn bind(&self) -> io::Result<(TokioListener, SocketAddr)> {
        let std = std::net::TcpListener::bind("127.0.0.1:0")?;
        std.set_nonblocking(true)?;
        let addr = std.local_addr()?;
        Ok((TokioListener(TcpListener::from_std(std)?), addr))
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<TokioIo<TcpStream>>> {
        Box::pin(async move { TcpStream::connect(addr).await.map(TokioIo::tcp) })
    }
}

fn run(test: impl std::future::Future<Output = ()>) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(test);
}

#[test]
fn h1_streamed_echo_1mb() {
    run(testkit::h1_streamed_echo_1mb(Tokio));
}

#[test]
fn h2_concurrent_streams() {
    run(testkit::h2_concurrent_streams(Tokio));
}

#[test]
fn h2_unread_bodies_do_not_stall_other_streams() {
    run(testkit::h2_unread_bodies_do_not_stall_other_streams(Tokio));
}

#[test]
fn h2_window_returned_with_a_cap_above_it() {
    run(testkit::h2_window_returned_with_a_cap_above_it(Tokio));
}

#[test]
fn cancellation_h1() {
    run(testkit::cancellation(Tokio, false));
}

#[test]
fn cancellation_h2() {
    run(testkit::cancellation(Tokio, true));
}

#[test]
fn graceful_shutdown_h1() {
    run(testkit::graceful_shutdown(Tokio, h1_server, h1_client, false));
}

#[test]
fn graceful_shutdown_h2() {
    run(testkit::graceful_shutdown(Tokio, h2_server, h2_client, true));
}

#[test]
fn max_connections() {
    run(testkit::max_connections(Tokio));
}

#[test]
fn backpressure() {
    run(testkit::backpressure(Tokio));
}

#[test]
fn worker_pool() {
    run(testkit::worker_pool(Tokio));
}

#[test]
fn h1_no_body_responses() {
    run(testkit::h1_no_body_responses(Tokio));
}

#[test]
fn handler_panics_h1() {
    run(testkit::handler_panics(Tokio, false));
}

#[test]
fn handler_panics_h2() {
    run(testkit::handler_panics(Tokio, true));
}

#[test]
fn known_length_date_and_server() {
    run(testkit::known_length_date_and_server(Tokio));
}

#[test]
fn client_error_kinds() {
    run(testkit::client_error_kinds(Tokio));
}

#[test]
fn h2_refused_streams_are_retried() {
    run(testkit::h2_refused_streams_are_retried(Tokio));
}

#[test]
fn relative_targets_get_the_authority_h1() {
    run(testkit::relative_targets_get_the_authority(Tokio, false));
}

#[test]
fn relative_targets_get_the_authority_h2() {
    run(testkit::relative_targets_get_the_authority(Tokio, true));
}

#[test]
fn connection_facts() {
    run(testkit::connection_facts(Tokio));
}

#[test]
fn upgrades_hand_over_the_transport() {
    run(testkit::upgrades_hand_over_the_transport(Tokio));
}

#[test]
fn h1_pipelined_burst_over_the_input_cap() {
    run(testkit::h1_pipelined_burst_over_the_input_cap(Tokio));
}

#[test]
fn h2_goaway_survives_unread_input() {
    run(testkit::h2_goaway_survives_unread_input(Tokio));
}

#[test]
fn h2_no_body_responses() {
    run(testkit::h2_no_body_responses(Tokio));
}

/// A refused connection is an error of kind `Connect` that names the address.
#[test]
fn connect_error_kind() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // closed again: nothing listens there now
    run(async move {
        let e = sockless_tokio::connect(addr, h1_client()).await.expect_err("refused");
        assert_eq!(sockless_rt::Error::of(&e).map(|e| e.kind()), Some(sockless_rt::ErrorKind::Connect), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    });
}

fn h1_server(now: sockless_core::Instant) -> sockless_h1::ServerConnection {
    sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now)
}
fn h1_client() -> sockless_h1::ClientConnection {
    sockless_h1::ClientConnection::new(sockless_h1::Config::client(), sockless_core::Instant::ZERO)
}
fn h2_server(now: sockless_core::Instant) -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::server(sockless_h2::Config::server(), now)
}
fn h2_client() -> sockless_h2::H2Connection {
    sockless_h2::H2Connection::client(sockless_h2::Config::client(), sockless_core::Instant::ZERO)
}
