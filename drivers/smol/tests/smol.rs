//! The sockless-rt test suite over real loopback TCP on smol.

mod common;

use async_io::Async;
use sockless_rt::testkit::{BoxFuture, Env};
use sockless_smol::{FuturesIo, SmolListener, SmolRuntime};
use std::io;
use std::net::{SocketAddr, TcpStream};

#[derive(Clone)]
struct Smol;

impl Env for Smol {
    type Rt = SmolRuntime;
    type Listener = SmolListener;
    type Stream = FuturesIo<Async<TcpStream>>;

    fn rt(&self) -> SmolRuntime {
        SmolRuntime
    }

    fn bind(&self) -> io::Result<(SmolListener, SocketAddr)> {
        let listener = SmolListener::bind(([127, 0, 0, 1], 0).into())?;
        let addr = listener.local_addr()?;
        Ok((listener, addr))
    }

    fn connect(&self, addr: SocketAddr) -> BoxFuture<io::Result<Self::Stream>> {
        Box::pin(async move { Async::<TcpStream>::connect(addr).await.map(FuturesIo::tcp) })
    }
}

suite!(Smol, smol::block_on);

/// A refused connection is an error of kind `Connect` that names the address.
#[test]
fn connect_error_kind() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }; // closed again: nothing listens there now
    smol::block_on(async move {
        let e = sockless_smol::connect(addr, common::h1_client()).await.expect_err("refused");
        assert_eq!(sockless_rt::Error::of(&e).map(|e| e.kind()), Some(sockless_rt::ErrorKind::Connect), "{e}");
        assert!(e.to_string().contains(&addr.to_string()), "{e}");
    });
}
