//! The [`Client`]: sockless-pool's hub carried out on any [`Runtime`].
//!
//! The hub decides (which connection, when to dial, retry, time out); this
//! module does: dials with the runtime's [`Dial`], spawns a connection task
//! per connection (each wrapped so the protocol's readiness, GOAWAY and
//! closure reach the hub), hands assigned requests to the callers' futures,
//! and runs one timer task at the hub's next deadline. The callers' futures
//! do the exchanges themselves, so a request costs no task of its own.

mod conn;
mod message;
mod response;

pub use message::{ClientError, ClientRequest, ClientResponse, RequestBody};
pub use response::ResponseBody;

use crate::sync::lock;
use crate::{Body, ClientHandle, Clock, Io, Request, Runtime};
use conn::{ConnEvent, EventSink, Observed};
use sockless_core::{Bytes, Connection, ErrorCode, HeaderList, Instant, Method, RequestHead};
use sockless_pool::{
    Action, ConnId, Error as HubError, Hub, Origin, Outcome, Protocol, ProtocolChoice, RequestId, RequestOptions,
    Scheme, Stats, Timeouts,
};
use sockless_tls::rustls;
use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

/// Opens transports: DNS and TCP, the runtime's way. Runtime adapters
/// implement it (sockless-tokio's `TokioDial`, sockless-smol's `SmolDial`).
pub trait Dial: Send + Sync + 'static {
    /// The transport.
    type Io: Io;
    /// The connect in progress.
    type Future: Future<Output = io::Result<Self::Io>> + Send + 'static;

    /// Resolves `host` and connects to `port` on it.
    fn dial(&self, host: &str, port: u16) -> Self::Future;
}

/// Which protocol the client speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// `https`: HTTP/2 or HTTP/1.1 by ALPN; `http`: HTTP/1.1.
    #[default]
    Negotiate,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only: ALPN `h2` for `https`, prior knowledge for `http`.
    Http2,
    /// `http`: HTTP/1.1 asking to upgrade to h2c on the first request of
    /// each connection; `https`: as [`Negotiate`](Self::Negotiate).
    H2cUpgrade,
}

/// What a [`Client`] is built with.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The hub's rules: caps, retries, backoff, timeouts, size caps.
    pub hub: sockless_pool::Config,
    /// The protocol.
    pub version: HttpVersion,
    /// Roots trusted for `https` (default: the webpki roots compiled into
    /// sockless-tls).
    pub roots: Option<rustls::RootCertStore>,
    /// A whole rustls configuration instead (a client certificate, a
    /// custom verifier); used as it is, its ALPN list included.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Redirects followed (default `None`: a 3xx is returned as it is).
    pub redirects: Option<u32>,
    /// The `User-Agent` sent unless a request has its own (`None`: none).
    pub user_agent: Option<String>,
    /// HTTP/1.1 limits.
    pub h1: sockless_h1::Config,
    /// HTTP/2 settings and limits.
    pub h2: sockless_h2::Config,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            hub: sockless_pool::Config::default(),
            version: HttpVersion::Negotiate,
            roots: None,
            tls: None,
            redirects: None,
            user_agent: Some(concat!("sockless/", env!("CARGO_PKG_VERSION")).to_string()),
            h1: sockless_h1::Config::client(),
            h2: sockless_h2::Config::client(),
        }
    }
}

/// An HTTP client: many callers share a few persistent connections per
/// origin (HTTP/1.1, HTTPS, HTTP/2), with the hub's caps, retries,
/// backoff and timeouts. Clones share everything.
///
/// ```no_run
/// # async fn demo<R: sockless_rt::Runtime, D: sockless_rt::Dial>(client: sockless_rt::Client<R, D>) -> Result<(), sockless_rt::ClientError> {
/// let response = client.get("http://example.com/").await?;
/// let body = response.bytes(1 << 20).await?;
/// let posted = client.request(sockless_core::Method::Post, "http://example.com/form")
///     .header("content-type", "text/plain")
///     .body("hello")
///     .send()
///     .await?;
/// # let _ = (body, posted); Ok(()) }
/// ```
pub struct Client<R: Runtime, D: Dial> {
    shared: Arc<Shared<R, D>>,
}

impl<R: Runtime, D: Dial> Clone for Client<R, D> {
    fn clone(&self) -> Self {
        Client { shared: self.shared.clone() }
    }
}

impl<R: Runtime, D: Dial> std::fmt::Debug for Client<R, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("stats", &self.stats()).finish()
    }
}

struct Shared<R: Runtime, D: Dial> {
    rt: R,
    dial: D,
    clock: Clock,
    config: ClientConfig,
    tls: Arc<rustls::ClientConfig>,
    state: Mutex<State>,
    me: Weak<Shared<R, D>>,
}

struct State {
    hub: Hub,
    conns: HashMap<ConnId, ConnSlot>,
    reqs: HashMap<RequestId, Mailbox>,
    /// The deadline the timer task sleeps until, and its waker.
    timer_at: Option<Instant>,
    timer_waker: Option<Waker>,
    timer_started: bool,
    /// The last connect error, for the requests a failed connect fails.
    connect_error: Option<(io::ErrorKind, String)>,
}

struct ConnSlot {
    handle: Option<ClientHandle>,
    protocol: Option<Protocol>,
    https: bool,
}

/// What the client tells a waiting request.
enum Msg {
    Assigned { handle: ClientHandle, protocol: Protocol },
    Retry,
    Fail(ClientError),
}

/// A request's inbox.
#[derive(Clone, Default)]
struct Mailbox(Arc<Mutex<MailState>>);

#[derive(Default)]
struct MailState {
    msgs: VecDeque<Msg>,
    waker: Option<Waker>,
}

impl Mailbox {
    fn push(&self, msg: Msg) {
        let mut s = lock(&self.0);
        s.msgs.push_back(msg);
        if let Some(w) = s.waker.take() {
            drop(s);
            w.wake();
        }
    }

    fn unshift(&self, msg: Msg) {
        lock(&self.0).msgs.push_front(msg);
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Msg> {
        let mut s = lock(&self.0);
        match s.msgs.pop_front() {
            Some(m) => Poll::Ready(m),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn try_recv(&self) -> Option<Msg> {
        lock(&self.0).msgs.pop_front()
    }
}

/// Side effects of the hub's actions, carried out once the state's lock
/// is released.
enum Effect {
    Connect(ConnId, Origin),
    Deliver(Mailbox, Msg),
    Drop(Option<ClientHandle>),
    StartTimer,
}

impl<R: Runtime, D: Dial> Client<R, D> {
    /// A client on `rt` that connects with `dial`.
    ///
    /// # Errors
    ///
    /// The TLS configuration cannot be built from `config.roots`.
    pub fn new(rt: R, dial: D, config: ClientConfig) -> Result<Client<R, D>, ClientError> {
        let tls = match &config.tls {
            Some(tls) => tls.clone(),
            None => {
                let roots = match &config.roots {
                    Some(store) => sockless_tls::Roots::Store(store.clone()),
                    None => sockless_tls::Roots::WebPki,
                };
                let alpn: &[&[u8]] = match config.version {
                    HttpVersion::Negotiate | HttpVersion::H2cUpgrade => {
                        &[sockless_tls::ALPN_H2, sockless_tls::ALPN_HTTP11]
                    }
                    HttpVersion::Http1 => &[sockless_tls::ALPN_HTTP11],
                    HttpVersion::Http2 => &[sockless_tls::ALPN_H2],
                };
                sockless_tls::client_config(roots, alpn, None)
                    .map_err(|e| ClientError::Connect(io::Error::other(e.to_string())))?
            }
        };
        let clock = Clock::new(rt.now());
        let state = State {
            hub: Hub::new(config.hub.clone()),
            conns: HashMap::new(),
            reqs: HashMap::new(),
            timer_at: None,
            timer_waker: None,
            timer_started: false,
            connect_error: None,
        };
        let shared =
            Arc::new_cyclic(|me| Shared { rt, dial, clock, config, tls, state: Mutex::new(state), me: me.clone() });
        Ok(Client { shared })
    }

    /// The hub's counters (requests, retries, connects, idle closes).
    pub fn stats(&self) -> Stats {
        lock(&self.shared.state).hub.stats()
    }

    /// Connections open or opening.
    pub fn connections(&self) -> usize {
        lock(&self.shared.state).hub.total_connections()
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<ClientResponse, ClientError> {
        self.request(Method::Get, url).send().await
    }

    /// `POST url` with `body` held whole.
    pub async fn post(&self, url: &str, body: impl Into<Bytes>) -> Result<ClientResponse, ClientError> {
        self.request(Method::Post, url).body(body).send().await
    }

    /// A request to build: header fields, a body, timeouts.
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder<'_, R, D> {
        let request = url::Url::parse(url).map_err(|e| ClientError::Url(format!("{url}: {e}")));
        RequestBuilder { client: self, request: request.map(|u| ClientRequest::new(method, u)) }
    }

    /// Sends one of the driver's [`Request`]s, whose target is an absolute
    /// URL (`http://host/path`); its Host field, if any, is replaced by the
    /// URL's authority. `http::Request<Body>` converts into it.
    pub async fn send_request(&self, request: Request) -> Result<ClientResponse, ClientError> {
        let Request { head, mut body, .. } = request;
        let target = String::from_utf8_lossy(&head.target).into_owned();
        let url = url::Url::parse(&target).map_err(|e| ClientError::Url(format!("{target}: {e}")))?;
        let mut headers = HeaderList::new();
        for (n, v) in &head.headers {
            if !n.eq_ignore_ascii_case(b"host") {
                headers.push(n, v);
            }
        }
        let body = match (body.is_empty(), body.take_full()) {
            (true, _) => RequestBody::Full(Bytes::new()),
            (false, Some(b)) => RequestBody::Full(b),
            (false, None) => RequestBody::Stream(body),
        };
        let request = ClientRequest { method: head.method, url, headers, body, timeouts: None, idempotent: None };
        self.send(request).await
    }

    /// Fire and forget: sends `request` in a task of its own and calls
    /// `callback` with the outcome.
    pub fn spawn<F>(&self, request: ClientRequest, callback: F)
    where
        F: FnOnce(Result<ClientResponse, ClientError>) + Send + 'static,
    {
        let client = self.clone();
        self.shared.rt.spawn(async move { callback(client.send(request).await) });
    }

    /// Sends `request`, following redirects if the configuration asks, and
    /// waits for the response head; the body streams after.
    ///
    /// Dropping the future cancels the request (see
    /// [`ClientHandle::send`]).
    pub async fn send(&self, mut request: ClientRequest) -> Result<ClientResponse, ClientError> {
        let mut hops = 0;
        loop {
            let response = self.exchange(&mut request).await?;
            let Some(limit) = self.shared.config.redirects else { return Ok(response) };
            let status = response.head.status;
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let Some(location) = response.head.headers.get("location") else { return Ok(response) };
            let location = String::from_utf8_lossy(location).into_owned();
            if hops == limit {
                return Err(ClientError::TooManyRedirects(limit));
            }
            let next =
                request.url.join(&location).map_err(|e| ClientError::Url(format!("redirect to {location}: {e}")))?;
            let to_get = status == 303 || (matches!(status, 301 | 302) && request.method == Method::Post);
            if to_get {
                request.method = Method::Get;
                request.body = RequestBody::Full(Bytes::new());
                request.headers.remove("content-type");
                request.headers.remove("content-length");
            } else if !request.body.replayable() {
                // The body went out once and cannot be sent again.
                return Ok(response);
            }
            if next.origin() != request.url.origin() {
                request.headers.remove("authorization");
                request.headers.remove("cookie");
            }
            drop(response);
            request.url = next;
            hops += 1;
        }
    }

    /// One exchange through the hub, retries included.
    async fn exchange(&self, request: &mut ClientRequest) -> Result<ClientResponse, ClientError> {
        let shared = &self.shared;
        let (origin, choice) = origin_of(&request.url, shared.config.version)?;
        let options = RequestOptions {
            idempotent: request.is_idempotent(),
            replayable: request.body.replayable(),
            timeouts: request.timeouts,
            protocol: choice,
        };
        let mailbox = Mailbox::default();
        let id = shared.with_hub(|st, now| {
            let id = st.hub.submit(now, &origin, options);
            st.reqs.insert(id, mailbox.clone());
            id
        });
        let mut pending = Pending { shared: shared.as_ref(), id, live: true };
        let mut last_error: Option<io::Error> = None;
        loop {
            let msg = poll_fn(|cx| mailbox.poll_recv(cx)).await;
            let (handle, protocol) = match msg {
                Msg::Fail(e) => {
                    pending.live = false;
                    return Err(match (e, last_error) {
                        (ClientError::Hub(HubError::Exchange | HubError::ConnectionClosed), Some(io)) => {
                            ClientError::Io(io)
                        }
                        (e, _) => e,
                    });
                }
                Msg::Retry => continue,
                Msg::Assigned { handle, protocol } => (handle, protocol),
            };
            let outgoing = build(request, protocol, shared.config.user_agent.as_deref());
            let mut send = pin!(handle.send(outgoing));
            let raced = poll_fn(|cx| {
                if let Poll::Ready(msg) = mailbox.poll_recv(cx) {
                    return Poll::Ready(Err(msg));
                }
                send.as_mut().poll(cx).map(Ok)
            })
            .await;
            match raced {
                Err(msg) => {
                    // A timeout or a GOAWAY moved it: the exchange is
                    // dropped (and so cancelled) here.
                    mailbox.unshift(msg);
                }
                Ok(Err(e)) => {
                    let outcome = classify(&e);
                    last_error = Some(e);
                    shared.with_hub(|st, now| st.hub.handle_outcome(now, id, outcome));
                }
                Ok(Ok(response)) => {
                    let head_bytes = head_size(&response.head);
                    let h1 = protocol == Protocol::Http1;
                    shared.with_hub(|st, now| {
                        st.hub.handle_request_sent(now, id);
                        st.hub.handle_response_head(now, id, head_bytes);
                        if h1 {
                            // The connection is free once the protocol says
                            // so (its Ready event); the request is done.
                            st.hub.handle_outcome(now, id, Outcome::Complete);
                            st.reqs.remove(&id);
                        }
                    });
                    if let Some(Msg::Fail(e)) = mailbox.try_recv() {
                        pending.live = false;
                        return Err(e);
                    }
                    pending.live = false;
                    let watch = (!h1).then(|| response::Watch::new(shared.clone(), id, mailbox.clone()));
                    let cap = shared.config.hub.max_response_body_bytes;
                    let body = ResponseBody::new(response.body, watch, cap);
                    return Ok(ClientResponse { head: response.head, url: request.url.clone(), body });
                }
            }
        }
    }
}

#[cfg(feature = "http")]
impl<R: Runtime, D: Dial> Client<R, D> {
    /// Sends an `http::Request` whose URI is absolute and answers with an
    /// `http::Response`, its body streamed (the hub stops watching it once
    /// the head is converted; see [`ClientResponse::into_response`]).
    pub async fn send_http(&self, request: http::Request<Body>) -> Result<http::Response<Body>, ClientError> {
        let response = self.send_request(request.into()).await?;
        http::Response::try_from(response.into_response())
            .map_err(|e| ClientError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))
    }
}

/// A request waiting in the hub; dropped before it was answered (the
/// caller's future was dropped), it is cancelled.
struct Pending<'a, R: Runtime, D: Dial> {
    shared: &'a Shared<R, D>,
    id: RequestId,
    live: bool,
}

impl<R: Runtime, D: Dial> Drop for Pending<'_, R, D> {
    fn drop(&mut self) {
        if self.live {
            let id = self.id;
            self.shared.with_hub(|st, now| {
                st.reqs.remove(&id);
                st.hub.cancel(now, id);
            });
        }
    }
}

/// Builds a request: [`Client::request`], then header fields, a body and
/// timeouts, then [`send`](Self::send).
#[derive(Debug)]
pub struct RequestBuilder<'a, R: Runtime, D: Dial> {
    client: &'a Client<R, D>,
    request: Result<ClientRequest, ClientError>,
}

impl<R: Runtime, D: Dial> RequestBuilder<'_, R, D> {
    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Ok(r) = &mut self.request {
            r.headers.push(name, value);
        }
        self
    }

    /// A body held whole (so the request may be retried where that is safe).
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        if let Ok(r) = &mut self.request {
            r.body = RequestBody::Full(body.into());
        }
        self
    }

    /// A streamed body, sent once (the request is never retried).
    pub fn body_stream(mut self, body: Body) -> Self {
        if let Ok(r) = &mut self.request {
            r.body = RequestBody::Stream(body);
        }
        self
    }

    /// This request's timeouts instead of the client's.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        if let Ok(r) = &mut self.request {
            r.timeouts = Some(timeouts);
        }
        self
    }

    /// A total deadline for this request, queue time included (the other
    /// timeouts stay the client's).
    pub fn timeout(self, total: std::time::Duration) -> Self {
        let base = self.client.shared.config.hub.timeouts;
        self.timeouts(Timeouts { total: Some(total), ..base })
    }

    /// Declares the request safe (or not) to send twice, whatever its method.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        if let Ok(r) = &mut self.request {
            r.idempotent = Some(idempotent);
        }
        self
    }

    /// The request itself.
    pub fn build(self) -> Result<ClientRequest, ClientError> {
        self.request
    }

    /// Sends it.
    pub async fn send(self) -> Result<ClientResponse, ClientError> {
        let client = self.client;
        client.send(self.request?).await
    }
}

/// The origin of `url` and what protocol to expect of it.
fn origin_of(url: &url::Url, version: HttpVersion) -> Result<(Origin, ProtocolChoice), ClientError> {
    let scheme = match url.scheme() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(ClientError::Url(format!("{url}: unsupported scheme {other}"))),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) => d.to_ascii_lowercase(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => return Err(ClientError::Url(format!("{url}: no host"))),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let choice = match (version, scheme) {
        (HttpVersion::Http1, _) | (HttpVersion::Negotiate | HttpVersion::H2cUpgrade, Scheme::Http) => {
            ProtocolChoice::Http1
        }
        (HttpVersion::Http2, _) => ProtocolChoice::Http2,
        (HttpVersion::Negotiate | HttpVersion::H2cUpgrade, Scheme::Https) => ProtocolChoice::Negotiate,
    };
    let tls = u64::from(scheme == Scheme::Https);
    Ok((Origin { scheme, host, port, tls }, choice))
}

/// The request as the connection sends it: origin-form with Host over
/// HTTP/1.1, absolute-form (the pseudo-headers' source) over HTTP/2.
fn build(request: &mut ClientRequest, protocol: Protocol, user_agent: Option<&str>) -> Request {
    let url = &request.url;
    let target = match protocol {
        Protocol::Http1 => url[url::Position::BeforePath..url::Position::AfterQuery].to_string(),
        Protocol::Http2 => url[..url::Position::AfterQuery].to_string(),
    };
    let mut head = RequestHead::new(request.method.clone(), target);
    if protocol == Protocol::Http1 {
        head.headers.push("host", &url[url::Position::BeforeHost..url::Position::AfterPort]);
    }
    if let Some(ua) = user_agent {
        if request.headers.get("user-agent").is_none() {
            head.headers.push("user-agent", ua);
        }
    }
    for (n, v) in &request.headers {
        head.headers.push(n, v);
    }
    let body = match &mut request.body {
        RequestBody::Full(b) => {
            let sends_length = !b.is_empty() || matches!(request.method, Method::Post | Method::Put);
            if sends_length && request.headers.get("content-length").is_none() {
                head.headers.push("content-length", b.len().to_string());
            }
            Body::from(b.clone())
        }
        RequestBody::Stream(b) => std::mem::take(b),
    };
    Request::new(head, body)
}

/// How a failed exchange ended, from the connection's error: whether any
/// of the request went out decides whether a retry is safe.
fn classify(e: &io::Error) -> Outcome {
    let Some(error) = crate::Error::of(e) else { return Outcome::Failed };
    match error.kind() {
        // Failed while still queued in the connection task: nothing went out.
        _ if !error.was_sent() => Outcome::ClosedBeforeSend,
        crate::ErrorKind::StreamReset(code) if code == ErrorCode::REFUSED_STREAM => Outcome::Refused,
        crate::ErrorKind::Closed | crate::ErrorKind::StreamReset(_) | crate::ErrorKind::GoAway(_) => {
            Outcome::NoResponse
        }
        _ => Outcome::Failed,
    }
}

/// The response head's size as received, near enough for the cap: the
/// status line and each field with its separators.
fn head_size(head: &sockless_core::ResponseHead) -> usize {
    let fields: usize = head.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    fields + 17 + head.reason.len()
}

impl<R: Runtime, D: Dial> Shared<R, D> {
    /// Runs `f` on the state (the hub at the current time), then carries
    /// out the hub's actions outside the lock.
    fn with_hub<T>(&self, f: impl FnOnce(&mut State, Instant) -> T) -> T {
        let mut effects = Vec::new();
        let mut wake = None;
        let out = {
            let mut st = lock(&self.state);
            let now = self.clock.at(self.rt.now());
            let out = f(&mut st, now);
            self.collect(&mut st, &mut effects);
            let next = st.hub.poll_timeout();
            if next.is_some() {
                if !st.timer_started {
                    st.timer_started = true;
                    effects.push(Effect::StartTimer);
                } else if st.timer_at.is_none_or(|armed| next < Some(armed)) {
                    wake = st.timer_waker.take();
                }
            }
            out
        };
        for effect in effects {
            match effect {
                Effect::Connect(conn, origin) => {
                    if let Some(me) = self.me.upgrade() {
                        self.rt.spawn(connect(me, conn, origin));
                    }
                }
                Effect::Deliver(mailbox, msg) => mailbox.push(msg),
                Effect::Drop(handle) => drop(handle),
                Effect::StartTimer => {
                    self.rt.spawn(TimerTask::<R, D> { shared: self.me.clone(), sleep: None, at: None });
                }
            }
        }
        if let Some(w) = wake {
            w.wake();
        }
        out
    }

    fn collect(&self, st: &mut State, effects: &mut Vec<Effect>) {
        while let Some(action) = st.hub.poll_action() {
            match action {
                Action::Connect { conn, origin } => {
                    let https = origin.scheme == Scheme::Https;
                    let slot = ConnSlot { handle: None, protocol: None, https };
                    st.conns.insert(conn, slot);
                    effects.push(Effect::Connect(conn, origin));
                }
                Action::Assign { request, conn } => {
                    let Some(mailbox) = st.reqs.get(&request) else { continue };
                    match st.conns.get(&conn) {
                        Some(ConnSlot { handle: Some(handle), protocol: Some(protocol), .. }) => {
                            let msg = Msg::Assigned { handle: handle.clone(), protocol: *protocol };
                            effects.push(Effect::Deliver(mailbox.clone(), msg));
                        }
                        // The hub assigns only to connections it was told
                        // are up, which all have a handle and a protocol.
                        _ => st.hub.handle_outcome(self.clock.at(self.rt.now()), request, Outcome::ClosedBeforeSend),
                    }
                }
                Action::Close { conn, .. } => {
                    if let Some(slot) = st.conns.remove(&conn) {
                        effects.push(Effect::Drop(slot.handle));
                    }
                }
                Action::Fail { request, error } => {
                    if let Some(mailbox) = st.reqs.remove(&request) {
                        let e = match (error, &st.connect_error) {
                            (HubError::ConnectFailed, Some((kind, msg))) => {
                                ClientError::Connect(io::Error::new(*kind, msg.clone()))
                            }
                            (e, _) => ClientError::Hub(e),
                        };
                        effects.push(Effect::Deliver(mailbox, Msg::Fail(e)));
                    }
                }
                Action::Retry { request, .. } => {
                    if let Some(mailbox) = st.reqs.get(&request) {
                        effects.push(Effect::Deliver(mailbox.clone(), Msg::Retry));
                    }
                }
            }
        }
    }

    /// The connection for a new transport to `origin`, and its protocol
    /// when known before a handshake.
    fn connection(
        &self,
        conn: ConnId,
        origin: &Origin,
    ) -> Result<(Box<dyn Connection + Send>, Option<Protocol>), io::Error> {
        let h1 = self.config.h1.clone();
        let h2 = self.config.h2.clone();
        if origin.scheme == Scheme::Http {
            return Ok(match self.config.version {
                HttpVersion::Http2 => (
                    Box::new(sockless_http::ClientConnection::prior_knowledge(h2, Instant::ZERO)),
                    Some(Protocol::Http2),
                ),
                HttpVersion::H2cUpgrade => (
                    Box::new(sockless_http::ClientConnection::h2c_upgrade(h1, h2, Instant::ZERO)),
                    Some(Protocol::Http1),
                ),
                _ => (Box::new(sockless_http::ClientConnection::http1(h1, Instant::ZERO)), Some(Protocol::Http1)),
            });
        }
        let sink: Weak<dyn EventSink> = self.me.clone();
        let inner = move |hs: &sockless_tls::Handshake, now: Instant| {
            let protocol = match sockless_http::Protocol::from_alpn(hs.alpn.as_deref()) {
                sockless_http::Protocol::Http2 => Protocol::Http2,
                sockless_http::Protocol::Http1 => Protocol::Http1,
            };
            if let Some(sink) = sink.upgrade() {
                sink.conn_event(conn, ConnEvent::Connected(protocol));
            }
            sockless_http::ClientConnection::for_alpn(h1, h2, now, hs.alpn.as_deref())
        };
        let tls = sockless_tls::Tls::client(self.tls.clone(), &origin.host, Instant::ZERO, inner)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
        Ok((Box::new(tls), None))
    }
}

impl<R: Runtime, D: Dial> EventSink for Shared<R, D> {
    fn conn_event(&self, conn: ConnId, event: ConnEvent) {
        let gone = self.with_hub(|st, now| match event {
            ConnEvent::Connected(protocol) => {
                if let Some(slot) = st.conns.get_mut(&conn) {
                    slot.protocol = Some(protocol);
                }
                st.hub.handle_connected(now, conn, protocol);
                None
            }
            ConnEvent::Ready => {
                st.hub.handle_ready(now, conn);
                None
            }
            ConnEvent::Upgraded => {
                if let Some(slot) = st.conns.get_mut(&conn) {
                    slot.protocol = Some(Protocol::Http2);
                }
                st.hub.handle_upgraded(now, conn);
                None
            }
            ConnEvent::GoAway(last) => {
                st.hub.handle_goaway(now, conn, last);
                None
            }
            ConnEvent::StreamLimit(n) => {
                st.hub.handle_stream_limit(now, conn, n);
                None
            }
            ConnEvent::Closed => {
                let slot = st.conns.remove(&conn);
                if let Some(s) = &slot {
                    if s.https && s.protocol.is_none() {
                        st.connect_error = Some((io::ErrorKind::ConnectionAborted, "TLS handshake failed".into()));
                    }
                }
                st.hub.handle_closed(now, conn);
                slot
            }
        });
        drop(gone);
    }
}

impl<R: Runtime, D: Dial> Drop for Shared<R, D> {
    fn drop(&mut self) {
        // The timer task ends when it sees the client gone.
        if let Some(w) = lock(&self.state).timer_waker.take() {
            w.wake();
        }
    }
}

/// Dials `conn` and spawns its connection task.
async fn connect<R: Runtime, D: Dial>(shared: Arc<Shared<R, D>>, conn: ConnId, origin: Origin) {
    let dialled = shared.dial.dial(&origin.host, origin.port).await;
    let io = match dialled {
        Ok(io) => io,
        Err(e) => {
            let what = format!("{}:{}: {e}", origin.host, origin.port);
            shared.with_hub(|st, now| {
                st.connect_error = Some((e.kind(), what));
                st.conns.remove(&conn);
                st.hub.handle_connect_failed(now, conn);
            });
            return;
        }
    };
    let _ = io.set_nodelay(true);
    let built = shared.connection(conn, &origin);
    let leftover = shared.with_hub(|st, now| {
        if !st.conns.contains_key(&conn) {
            // The hub gave up on this dial (connect timeout).
            return Some(io);
        }
        match built {
            Ok((connection, protocol)) => {
                let Some(slot) = st.conns.get_mut(&conn) else { return Some(io) };
                let sink: Weak<dyn EventSink> = shared.me.clone();
                let observed = Observed::new(connection, conn, sink);
                slot.handle = Some(ClientHandle::spawn(&shared.rt, io, observed));
                match protocol {
                    Some(p) => {
                        slot.protocol = Some(p);
                        st.hub.handle_connected(now, conn, p);
                    }
                    None => st.hub.handle_transport_up(now, conn),
                }
                None
            }
            Err(e) => {
                st.connect_error = Some((e.kind(), e.to_string()));
                st.conns.remove(&conn);
                st.hub.handle_connect_failed(now, conn);
                Some(io)
            }
        }
    });
    drop(leftover);
}

/// The client's one timer: sleeps until the hub's next deadline, then
/// hands the hub the time.
struct TimerTask<R: Runtime, D: Dial> {
    shared: Weak<Shared<R, D>>,
    sleep: Option<Pin<Box<R::Sleep>>>,
    at: Option<Instant>,
}

impl<R: Runtime, D: Dial> Future for TimerTask<R, D> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let Some(shared) = this.shared.upgrade() else { return Poll::Ready(()) };
            let next = {
                let mut st = lock(&shared.state);
                st.timer_waker = Some(cx.waker().clone());
                let next = st.hub.poll_timeout();
                st.timer_at = next;
                next
            };
            let Some(at) = next else { return Poll::Pending };
            let when = shared.clock.to_std(at);
            match &mut this.sleep {
                Some(_) if this.at == Some(at) => {}
                Some(sleep) => shared.rt.reset_sleep(sleep.as_mut(), when),
                None => this.sleep = Some(Box::pin(shared.rt.sleep_until(when))),
            }
            this.at = Some(at);
            let fired = this.sleep.as_mut().is_some_and(|s| s.as_mut().poll(cx).is_ready());
            if !fired {
                return Poll::Pending;
            }
            this.sleep = None;
            this.at = None;
            shared.with_hub(|st, now| st.hub.handle_timeout(now.max(at)));
        }
    }
}

// The timer task never pins its fields (the sleep is boxed).
impl<R: Runtime, D: Dial> Unpin for TimerTask<R, D> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    #[test]
    fn exchange_errors_classify_by_what_reached_the_peer() {
        let io = |e: Error| -> io::Error { e.into() };
        assert_eq!(classify(&io(Error::closed().unsent())), Outcome::ClosedBeforeSend);
        assert_eq!(classify(&io(Error::closed())), Outcome::NoResponse);
        assert_eq!(classify(&io(Error::reset(ErrorCode::REFUSED_STREAM, true))), Outcome::Refused);
        assert_eq!(classify(&io(Error::reset(ErrorCode::CANCEL, true))), Outcome::NoResponse);
        assert_eq!(classify(&io(Error::new(ErrorKind::Timeout, "late"))), Outcome::Failed);
        assert_eq!(classify(&io::Error::other("not ours")), Outcome::Failed);
    }
}
