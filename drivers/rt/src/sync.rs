//! Tiny synchronisation primitives (a mutex and wakers): a broadcast flag
//! set with many waiters, and a counting semaphore.

use std::collections::HashMap;
use std::future::poll_fn;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few plain assignments that cannot
    // leave the state torn, so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A small state word (flag bits or a counter) that tasks wait on.
#[derive(Default)]
pub(crate) struct Notify {
    state: Mutex<NotifyState>,
    /// Bumped by every update (under the lock), read without it by
    /// [`Notify::poll_watch`].
    version: AtomicU64,
}

/// A waiter's registration on a [`Notify`] and what it last saw. While no
/// update came since, the value stands and the waker registered then is
/// still there (an update is what takes it), so a connection task checks
/// the server's flags on every wake-up without taking the lock.
#[derive(Default)]
pub(crate) struct Watch {
    id: Option<u64>,
    /// The version and value read at the last registration.
    seen: Option<(u64, usize)>,
    /// The waker registered then.
    waker: Option<Waker>,
}

#[derive(Default)]
struct NotifyState {
    value: usize,
    next_id: u64,
    wakers: IdMap<u64, Waker>,
}

/// Hashes small integer keys (waiter ids we hand out, stream ids) with one
/// multiplication. SipHash's defence against chosen keys buys nothing here:
/// waiter ids are ours, and a connection holds at most a few hundred streams
/// (its concurrency limit), so even keys a peer chose to collide cost little.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

/// A map keyed by small integers, hashed with [`IdHasher`].
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Notify {
    pub(crate) fn get(&self) -> usize {
        lock(&self.state).value
    }

    /// Changes the value and wakes every waiter.
    pub(crate) fn update(&self, f: impl FnOnce(usize) -> usize) {
        let wakers: Vec<Waker> = {
            let mut s = lock(&self.state);
            s.value = f(s.value);
            self.version.fetch_add(1, Ordering::Release);
            s.wakers.drain().map(|(_, w)| w).collect()
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    /// The current value; registers `cx` to be woken by the next update.
    /// `id` identifies this waiter (assigned on first use).
    pub(crate) fn poll_get(&self, cx: &mut Context<'_>, id: &mut Option<u64>) -> usize {
        let mut s = lock(&self.state);
        Self::register(&mut s, cx, id);
        s.value
    }

    /// Makes sure waiter `id` (assigned on first use) is woken through `cx`.
    fn register(s: &mut NotifyState, cx: &Context<'_>, id: &mut Option<u64>) {
        let key = *id.get_or_insert_with(|| {
            s.next_id += 1;
            s.next_id
        });
        match s.wakers.get(&key) {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                s.wakers.insert(key, cx.waker().clone());
            }
        }
    }

    /// [`poll_get`](Self::poll_get) for a [`Watch`], without the lock while
    /// nothing changed and the task's waker is the one registered.
    pub(crate) fn poll_watch(&self, cx: &mut Context<'_>, watch: &mut Watch) -> usize {
        let same_waker = watch.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if let Some((version, value)) = watch.seen {
            if same_waker && version == self.version.load(Ordering::Acquire) {
                return value;
            }
        }
        let mut s = lock(&self.state);
        Self::register(&mut s, cx, &mut watch.id);
        // Updates bump the version under the lock: this pairs with `value`.
        watch.seen = Some((self.version.load(Ordering::Relaxed), s.value));
        if !same_waker {
            watch.waker = Some(cx.waker().clone());
        }
        s.value
    }

    /// Forgets a [`Watch`]'s waiter.
    pub(crate) fn forget_watch(&self, watch: &mut Watch) {
        watch.seen = None;
        self.forget(watch.id.take());
    }

    /// Forgets waiter `id`.
    pub(crate) fn forget(&self, id: Option<u64>) {
        if let Some(id) = id {
            lock(&self.state).wakers.remove(&id);
        }
    }
}

/// A counting semaphore: at most `n` permits out at once.
pub(crate) struct Semaphore {
    state: Mutex<(usize, Vec<Waker>)>,
}

/// A permit; released on drop.
pub(crate) struct Permit(Arc<Semaphore>);

impl Semaphore {
    pub(crate) fn new(permits: usize) -> Arc<Semaphore> {
        Arc::new(Semaphore { state: Mutex::new((permits.max(1), Vec::new())) })
    }

    pub(crate) async fn acquire(self: &Arc<Self>) -> Permit {
        poll_fn(|cx| {
            let mut s = lock(&self.state);
            if s.0 > 0 {
                s.0 -= 1;
                Poll::Ready(Permit(self.clone()))
            } else {
                s.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let wakers = {
            let mut s = lock(&self.0.state);
            s.0 += 1;
            // Every waiter retries: a waiter that went away cannot swallow the wake-up.
            std::mem::take(&mut s.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }
}
