//! Client connections on epoll loop threads, usable from any thread: a
//! blocking [`Client::send_blocking`] that waits on a condition variable,
//! or the async [`Client::send`], so that many plain threads can share a
//! few connections driven by a few loop threads.

use crate::event_loop::{epoll_for, Loop, Setup};
use crate::inbox::{Inbox, Msg};
use crate::reply::Reply;
use rustix::fd::OwnedFd;
use sockless_core::{Connection, ResponseHead};
use sockless_rt::{Body, Clock, Request, Response, ServerOptions};
use std::future::{poll_fn, Ready};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

type BoxConn = Box<dyn Connection + Send>;

/// Loop threads that carry client connections (no listener).
///
/// ```no_run
/// use sockless_core::{Instant, Method, RequestHead};
/// use sockless_epoll::{block_on, ClientLoops};
/// use sockless_rt::{Body, Request};
/// use std::time::Duration;
///
/// let loops = ClientLoops::start(2)?;
/// let h2 = sockless_h2::H2Connection::client(sockless_h2::Config::client(), Instant::ZERO);
/// let client = loops.connect("127.0.0.1:8080".parse().unwrap(), h2, Duration::from_secs(5))?;
/// // Any number of plain threads share the connection.
/// let threads: Vec<_> = (0..100)
///     .map(|_| {
///         let client = client.clone();
///         std::thread::spawn(move || -> std::io::Result<usize> {
///             let head = RequestHead::new(Method::Get, "http://127.0.0.1:8080/");
///             let response = client.send_blocking(Request::new(head, Body::empty()))?;
///             Ok(block_on(response.body.collect(1 << 20))?.len())
///         })
///     })
///     .collect();
/// for t in threads {
///     t.join().unwrap()?;
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ClientLoops {
    inboxes: Vec<Arc<Inbox>>,
    threads: Vec<JoinHandle<io::Result<()>>>,
    next: AtomicUsize,
}

impl std::fmt::Debug for ClientLoops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientLoops").field("threads", &self.threads.len()).finish()
    }
}

/// Client loops serve no requests: a client connection never asks for one.
fn no_handler(_request: Request) -> Ready<Response> {
    std::future::ready(Response::new(ResponseHead::new(500), Body::empty()))
}

/// Client loops accept nothing: never called.
fn no_server(_now: sockless_core::Instant) -> BoxConn {
    unreachable!("a client loop has no listener")
}

impl ClientLoops {
    /// Starts `threads` loop threads (at least one).
    pub fn start(threads: usize) -> io::Result<ClientLoops> {
        let clock = Clock::new(std::time::Instant::now());
        let mut inboxes = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let inbox = Arc::new(Inbox::new()?);
            let setup = Setup {
                epoll: epoll_for(None, &inbox)?,
                listener: None,
                attach: Some(|conn: BoxConn| conn),
                inbox: inbox.clone(),
                make: Arc::new(no_server as fn(sockless_core::Instant) -> BoxConn),
                handler: Arc::new(no_handler as fn(Request) -> Ready<Response>),
                workers: None,
                options: ServerOptions::default(),
                max_connections: usize::MAX,
                clock,
            };
            inboxes.push(inbox);
            let t = std::thread::Builder::new()
                .name(format!("sockless-epoll-client-{i}"))
                .spawn(move || Loop::new(setup).run())?;
            handles.push(t);
        }
        Ok(ClientLoops { inboxes, threads: handles, next: AtomicUsize::new(0) })
    }

    /// Connects to `addr` (giving up after `timeout`), sets TCP_NODELAY, and
    /// hands the socket with `connection` (an HTTP/1.1 or HTTP/2 client,
    /// possibly under TLS) to one of the loops, in turn. Blocks the calling
    /// thread while connecting.
    pub fn connect<C: Connection + Send + 'static>(
        &self,
        addr: SocketAddr,
        connection: C,
        timeout: Duration,
    ) -> io::Result<Client> {
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), Some(Protocol::TCP))?;
        socket.connect_timeout(&addr.into(), timeout)?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        let fd = OwnedFd::from(socket);
        let inbox = &self.inboxes[self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len()];
        let reply = Reply::new();
        inbox.post(Msg::Attach(fd, Box::new(connection), reply.clone()));
        let token = reply.wait()?;
        Ok(Client { inner: Arc::new(Handle { inbox: inbox.clone(), token }) })
    }

    /// Closes every connection (after what they carry finished, or the
    /// default drain timeout) and waits for the loop threads.
    pub fn shutdown(self) -> io::Result<()> {
        self.inboxes.iter().for_each(|i| i.post(Msg::Shutdown));
        let mut result = Ok(());
        for t in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a loop thread panicked")),
            }
        }
        result
    }
}

/// One client connection on a loop thread. Clones share it: over HTTP/2
/// their requests run concurrently, over HTTP/1.1 they queue one at a time.
/// When the last clone is dropped the connection finishes what it carries
/// and closes.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    inbox: Arc<Inbox>,
    token: u64,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inbox.post(Msg::Release(self.token));
    }
}

impl Client {
    fn post(&self, request: Request) -> Arc<Reply<io::Result<Response>>> {
        let reply = Reply::new();
        self.inner.inbox.post(Msg::Request(self.inner.token, request, reply.clone()));
        reply
    }

    /// Sends `request` and blocks this thread until the response head came
    /// (or the connection failed). The body streams: read it with
    /// [`block_on`](crate::block_on)`(response.body.collect(limit))` or chunk by chunk.
    pub fn send_blocking(&self, request: Request) -> io::Result<Response> {
        self.post(request).wait()
    }

    /// Sends `request`; the response head, when it came. (Dropping this
    /// future does not cancel the request: the response is read and
    /// dropped.)
    pub async fn send(&self, request: Request) -> io::Result<Response> {
        let reply = self.post(request);
        poll_fn(|cx| reply.poll_take(cx)).await
    }
}
