//! A loop thread's inbox: what other threads (and wakers) post to it, with
//! an eventfd in the loop's epoll set that wakes it.

use crate::reply::Reply;
use rustix::event::{eventfd, EventfdFlags};
use rustix::fd::OwnedFd;
use sockless_core::{Connection, StreamId};
use sockless_rt::{Request, Response};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Wake;

/// What a loop is told.
pub enum Msg {
    /// A connection's waker fired (a handler or a body is ready).
    Wake(u64),
    /// A handler on the worker pool answered a stream of a connection.
    Respond(u64, StreamId, Response),
    /// Look at the server's shutdown signal now.
    Shutdown,
    /// A client connection to take over: its connected socket and protocol
    /// connection; its token goes back in the reply.
    Attach(OwnedFd, Box<dyn Connection + Send>, Arc<Reply<io::Result<u64>>>),
    /// A request for client connection `token`, and where its response goes.
    Request(u64, Request, Arc<Reply<io::Result<Response>>>),
    /// The last handle of client connection `token` was dropped.
    Release(u64),
}

impl Msg {
    /// Answers a message no loop will serve (its loop has stopped).
    fn refuse(self) {
        let gone = || io::Error::new(io::ErrorKind::NotConnected, "the loop has stopped");
        match self {
            Msg::Attach(_, _, reply) => reply.put(Err(gone())),
            Msg::Request(_, _, reply) => reply.put(Err(gone())),
            _ => {}
        }
    }
}

/// The queue and its eventfd.
pub struct Inbox {
    msgs: Mutex<Vec<Msg>>,
    /// Counts posts since the loop last drained; the loop reads it to zero.
    pub eventfd: OwnedFd,
    /// The eventfd was written and the loop has not drained yet: later
    /// posts skip the write (one syscall per batch, not per post).
    signalled: AtomicBool,
    /// The loop stopped: posts are refused.
    closed: AtomicBool,
}

impl Inbox {
    pub fn new() -> std::io::Result<Inbox> {
        let eventfd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let (signalled, closed) = (AtomicBool::new(false), AtomicBool::new(false));
        Ok(Inbox { msgs: Mutex::new(Vec::new()), eventfd, signalled, closed })
    }

    /// Posts `msg` and wakes the loop.
    pub fn post(&self, msg: Msg) {
        {
            let mut msgs = self.msgs.lock().unwrap_or_else(|e| e.into_inner());
            if self.closed.load(Ordering::Acquire) {
                drop(msgs);
                msg.refuse();
                return;
            }
            msgs.push(msg);
        }
        if !self.signalled.swap(true, Ordering::AcqRel) {
            // Cannot fail but for a counter at its maximum, which only
            // means the loop already has a wake-up pending.
            let _ = rustix::io::write(&self.eventfd, &1u64.to_ne_bytes());
        }
    }

    /// The loop's side: resets the eventfd and swaps the posted messages
    /// into `into` (empty on entry, so both vectors keep their room).
    pub fn drain(&self, into: &mut Vec<Msg>) {
        let mut counter = [0u8; 8];
        let _ = rustix::io::read(&self.eventfd, &mut counter);
        // Cleared before taking: a post after the take writes the eventfd
        // again, so none is left unseen.
        self.signalled.store(false, Ordering::Release);
        std::mem::swap(&mut *self.msgs.lock().unwrap_or_else(|e| e.into_inner()), into);
    }
}

impl Inbox {
    /// The loop is stopping: what was posted and what will be is refused.
    pub fn close(&self) {
        let pending = {
            let mut msgs = self.msgs.lock().unwrap_or_else(|e| e.into_inner());
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut *msgs)
        };
        pending.into_iter().for_each(Msg::refuse);
    }
}

/// A connection's waker: posts its token once until the loop served it.
pub struct ConnWake {
    token: u64,
    inbox: Arc<Inbox>,
    /// Posted and not yet served: further wakes are free.
    queued: AtomicBool,
}

impl ConnWake {
    pub fn new(token: u64, inbox: Arc<Inbox>) -> Arc<ConnWake> {
        Arc::new(ConnWake { token, inbox, queued: AtomicBool::new(false) })
    }

    /// The loop is about to serve the connection: the next wake posts again.
    pub fn clear(&self) {
        self.queued.store(false, Ordering::Release);
    }
}

impl Wake for ConnWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.inbox.post(Msg::Wake(self.token));
        }
    }
}
