//! The hub's [`Client`](sockless_rt::Client) on smol and async-std:
//! [`SmolDial`] (smol's resolver, async-io TCP) and a constructor.

use crate::{FuturesIo, SmolRuntime};
use async_io::Async;
use sockless_rt::{ClientConfig, ClientError, Dial};
use std::future::Future;
use std::io;
use std::net::TcpStream;
use std::pin::Pin;

/// Connects on the async-io reactor: DNS on smol's blocking pool, then TCP
/// to each address in turn until one answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct SmolDial;

impl Dial for SmolDial {
    type Io = FuturesIo<Async<TcpStream>>;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Io>> + Send>>;

    fn dial(&self, host: &str, port: u16) -> Self::Future {
        let host = host.to_string();
        Box::pin(async move {
            let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
            for addr in smol::net::resolve((host.as_str(), port)).await? {
                match Async::<TcpStream>::connect(addr).await {
                    Ok(stream) => return Ok(FuturesIo::tcp(stream)),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}

/// The client on smol (and async-std: the reactor is the same).
pub type Client = sockless_rt::Client<SmolRuntime, SmolDial>;

/// A client with `config`.
pub fn client_with(config: ClientConfig) -> Result<Client, ClientError> {
    sockless_rt::Client::new(SmolRuntime, SmolDial, config)
}
