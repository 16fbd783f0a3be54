//! Answers that cross threads: a one-shot slot a blocking thread waits on
//! (a condition variable) or a future polls (a waker), and `block_on`, which
//! runs a future on a plain thread.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// A value put once by a loop thread and taken by whoever waits for it.
pub struct Reply<T> {
    value: Mutex<(Option<T>, Option<Waker>)>,
    ready: Condvar,
}

impl<T> Reply<T> {
    pub fn new() -> Arc<Reply<T>> {
        Arc::new(Reply { value: Mutex::new((None, None)), ready: Condvar::new() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Option<T>, Option<Waker>)> {
        self.value.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts the value (a second one is dropped) and wakes the waiter.
    pub fn put(&self, value: T) {
        let mut v = self.lock();
        if v.0.is_none() {
            v.0 = Some(value);
        }
        let waker = v.1.take();
        drop(v);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Whether a value was put.
    pub fn is_set(&self) -> bool {
        self.lock().0.is_some()
    }

    /// Blocks this thread until the value comes.
    pub fn wait(&self) -> T {
        let mut v = self.lock();
        loop {
            if let Some(value) = v.0.take() {
                return value;
            }
            v = self.ready.wait(v).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes the value, or registers `cx`'s waker for it.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<T> {
        let mut v = self.lock();
        match v.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                v.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` on this thread, parking it while the future waits, until
/// it finishes or `stop()` says to give up (checked at every wake-up).
pub fn block_on_until<F: Future>(future: F, stop: impl Fn() -> bool) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if stop() {
            return None;
        }
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return Some(v);
        }
        std::thread::park();
    }
}

/// Runs `future` to completion on the calling thread (a plain, blocking
/// thread): for reading a response [`Body`](sockless_rt::Body) from code
/// that is not async, e.g. `block_on(response.body.collect(limit))`.
///
/// ```
/// let n = sockless_epoll::block_on(async { 40 + 2 });
/// assert_eq!(n, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match block_on_until(future, || false) {
        Some(v) => v,
        None => unreachable!("never stopped"),
    }
}
