//! The hub's [`Client`](sockless_rt::Client) on tokio: [`TokioDial`]
//! (tokio's resolver and TCP), constructors, and [`BlockingClient`] for
//! plain threads.

use crate::{TokioIo, TokioRuntime};
use sockless_core::ResponseHead;
use sockless_rt::{ClientConfig, ClientError, ClientRequest, Dial, ResponseBody};
use std::future::Future;
use std::io;
use std::pin::Pin;
use tokio::net::TcpStream;

/// Connects with tokio: DNS through tokio's resolver (the system's, on the
/// blocking pool), then TCP.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioDial;

impl Dial for TokioDial {
    type Io = TokioIo<TcpStream>;
    type Future = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

    fn dial(&self, host: &str, port: u16) -> Self::Future {
        let host = host.to_string();
        Box::pin(async move { Ok(TokioIo::tcp(TcpStream::connect((host.as_str(), port)).await?)) })
    }
}

/// The client on tokio.
pub type Client = sockless_rt::Client<TokioRuntime, TokioDial>;

/// A client with the default configuration on the current runtime.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn client() -> Client {
    client_with(ClientConfig::default()).expect("the default TLS configuration builds")
}

/// A client with `config` on the current runtime.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn client_with(config: ClientConfig) -> Result<Client, ClientError> {
    sockless_rt::Client::new(TokioRuntime::current(), TokioDial, config)
}

/// A client for plain threads: its own tokio runtime runs the connections,
/// and each call blocks the calling thread until its answer. Any number of
/// threads may call at once; they share the connections.
///
/// ```no_run
/// let client = sockless_tokio::BlockingClient::new(Default::default())?;
/// let response = client.get("http://example.com/")?;
/// let status = response.head.status;
/// println!("{status} {} bytes", response.bytes(1 << 20)?.len());
/// # Ok::<(), sockless_rt::ClientError>(())
/// ```
#[derive(Debug)]
pub struct BlockingClient {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

/// A response to a [`BlockingClient`] request.
#[derive(Debug)]
pub struct BlockingResponse {
    /// The head.
    pub head: ResponseHead,
    /// The URL that answered.
    pub url: url::Url,
    body: ResponseBody,
    handle: tokio::runtime::Handle,
}

impl BlockingResponse {
    /// The next chunk of the body, blocking until it comes; `None` at the end.
    pub fn next_chunk(&mut self) -> Option<Result<sockless_core::Bytes, ClientError>> {
        self.handle.block_on(self.body.next_chunk())
    }

    /// The whole body, at most `limit` bytes.
    pub fn bytes(self, limit: usize) -> Result<sockless_core::Bytes, ClientError> {
        self.handle.block_on(self.body.collect(limit))
    }
}

impl BlockingClient {
    /// A client with `config` and a runtime of its own (two worker threads).
    pub fn new(config: ClientConfig) -> Result<BlockingClient, ClientError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClientError::Io)?;
        let client = sockless_rt::Client::new(TokioRuntime::from_handle(runtime.handle().clone()), TokioDial, config)?;
        Ok(BlockingClient { runtime, client })
    }

    /// The async client underneath (for fire-and-forget requests with
    /// [`Client::spawn`](sockless_rt::Client::spawn)).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `GET url`, blocking.
    pub fn get(&self, url: &str) -> Result<BlockingResponse, ClientError> {
        let request = self.client.request(sockless_core::Method::Get, url).build()?;
        self.send(request)
    }

    /// Sends `request`, blocking until the response head.
    pub fn send(&self, request: ClientRequest) -> Result<BlockingResponse, ClientError> {
        let response = self.runtime.block_on(self.client.send(request))?;
        Ok(BlockingResponse {
            head: response.head,
            url: response.url,
            body: response.body,
            handle: self.runtime.handle().clone(),
        })
    }
}
