//! The optional worker pool: handlers that block or burn CPU run on these
//! threads instead of the loop threads, and their responses are posted
//! back to the loop that owns the connection.

use crate::inbox::{Inbox, Msg};
use crate::reply::block_on_until;
use sockless_core::StreamId;
use sockless_rt::{Request, Response};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{JoinHandle, Thread};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

/// The pool: a queue and its threads.
pub struct Workers {
    queue: Arc<(Mutex<Queue>, Condvar)>,
    threads: Vec<JoinHandle<()>>,
}

/// Held by the stream whose handler runs on a worker; dropped (the stream
/// was reset, the connection closed), it cancels the handler: a queued job
/// never starts, a running one is dropped at its next wake-up.
pub struct Cancel(Arc<CancelState>);

struct CancelState {
    cancelled: AtomicBool,
    /// The worker thread waiting on the handler, to unpark it.
    thread: Mutex<Option<Thread>>,
}

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::Release);
        if let Some(t) = self.0.thread.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            t.unpark();
        }
    }
}

impl Workers {
    /// `n` worker threads (at least one).
    pub fn new(n: usize) -> std::io::Result<Workers> {
        let queue: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            let queue = queue.clone();
            let t = std::thread::Builder::new().name(format!("sockless-worker-{i}")).spawn(move || loop {
                let job = {
                    let (lock, cond) = &*queue;
                    let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
                    loop {
                        if let Some(job) = q.jobs.pop_front() {
                            break job;
                        }
                        if q.closed {
                            return;
                        }
                        q = cond.wait(q).unwrap_or_else(|e| e.into_inner());
                    }
                };
                job();
            })?;
            threads.push(t);
        }
        Ok(Workers { queue, threads })
    }

    /// Queues `handler(request)`; its response goes to `inbox` for the
    /// connection `token`'s `stream`.
    pub fn submit<H, F>(
        &self,
        handler: Arc<H>,
        request: Request,
        inbox: Arc<Inbox>,
        token: u64,
        stream: StreamId,
    ) -> Cancel
    where
        H: Fn(Request) -> F + Send + Sync + 'static,
        F: Future<Output = Response> + Send + 'static,
    {
        let state = Arc::new(CancelState { cancelled: AtomicBool::new(false), thread: Mutex::new(None) });
        let job_state = state.clone();
        let job: Job = Box::new(move || {
            if job_state.cancelled.load(Ordering::Acquire) {
                return;
            }
            *job_state.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current());
            let cancelled = || job_state.cancelled.load(Ordering::Acquire);
            let run = std::panic::AssertUnwindSafe(|| block_on_until(handler(request), cancelled));
            match std::panic::catch_unwind(run) {
                Ok(Some(response)) => inbox.post(Msg::Respond(token, stream, response)),
                Ok(None) => {} // cancelled: nobody waits for an answer
                // The handler panicked: its request is answered 500 (as on
                // the async drivers), the worker goes on.
                Err(_) => {
                    inbox.post(Msg::Respond(token, stream, sockless_rt::ResponseRules::default().internal_error()))
                }
            }
        });
        let (lock, cond) = &*self.queue;
        lock.lock().unwrap_or_else(|e| e.into_inner()).jobs.push_back(job);
        cond.notify_one();
        Cancel(state)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let (lock, cond) = &*self.queue;
        lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        cond.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
