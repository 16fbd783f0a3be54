//! A hashed timer wheel: one entry per connection deadline, no syscall per
//! timer; the earliest linked tick is the loop's `epoll_wait` timeout.
//!
//! A deadline that only moves later (HTTP/1.1's keep-alive deadline moves
//! with every request) is not re-linked: the old entry fires, the loop finds
//! the connection's deadline still ahead and links it once, at its real
//! time. Only a deadline that moves earlier adds an entry; the entry it
//! replaces is recognised as stale when its slot comes round.

use sockless_core::Instant;

/// Wheel resolution: deadlines are rounded up to the next millisecond
/// (never fired early); that is also `epoll_wait`'s resolution.
const TICK_NANOS: u64 = 1_000_000;
/// Slots: one revolution covers 4.096 s; a later entry waits in its slot
/// for the revolutions in between.
const SLOTS: usize = 4096;

/// A connection's place in the slab (index and generation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub index: u32,
    pub generation: u32,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Key,
    tick: u64,
}

/// The wheel.
pub struct Wheel {
    slots: Vec<Vec<Entry>>,
    /// Every tick up to this one has been processed.
    done: u64,
    /// No entry is due before this tick (`u64::MAX`: no entry).
    next: u64,
    len: usize,
}

/// The tick at or after `t`.
pub fn tick_at(t: Instant) -> u64 {
    t.as_nanos().div_ceil(TICK_NANOS)
}

impl Wheel {
    pub fn new(now: Instant) -> Wheel {
        Wheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            done: now.as_nanos() / TICK_NANOS,
            next: u64::MAX,
            len: 0,
        }
    }

    /// Links `key` at `tick` (see [`link_deadline`](Self::link_deadline)).
    fn insert(&mut self, key: Key, tick: u64) {
        let tick = tick.max(self.done + 1);
        self.slots[(tick % SLOTS as u64) as usize].push(Entry { key, tick });
        self.next = self.next.min(tick);
        self.len += 1;
    }

    /// Makes sure `key` is woken by `deadline`: `linked` is the tick the
    /// key's live entry is at (kept by its owner), updated when an entry is
    /// added. A deadline at or after the linked tick adds nothing.
    pub fn link_deadline(&mut self, key: Key, linked: &mut Option<u64>, deadline: Option<Instant>) {
        let Some(deadline) = deadline else { return };
        let tick = tick_at(deadline).max(self.done + 1);
        if linked.is_some_and(|l| l <= tick) {
            return;
        }
        self.insert(key, tick);
        *linked = Some(tick);
    }

    /// Milliseconds until the next entry is due (`None`: no entry).
    pub fn timeout_ms(&self, now: Instant) -> Option<u64> {
        if self.len == 0 || self.next == u64::MAX {
            return None;
        }
        let now_tick = now.as_nanos() / TICK_NANOS;
        Some(self.next.saturating_sub(now_tick))
    }

    /// Takes the entries due at `now` into `due`, each with the tick it was
    /// linked at (its owner compares it with its `linked` to skip stale ones).
    pub fn expire(&mut self, now: Instant, due: &mut Vec<(Key, u64)>) {
        let now_tick = now.as_nanos() / TICK_NANOS;
        if now_tick < self.next || now_tick <= self.done {
            self.done = self.done.max(now_tick.min(self.next.saturating_sub(1)));
            return;
        }
        // Visit the slots from the first due tick, at most one revolution.
        let from = self.next.max(self.done + 1);
        let span = (now_tick - from + 1).min(SLOTS as u64);
        for t in from..from + span {
            let slot = &mut self.slots[(t % SLOTS as u64) as usize];
            let before = slot.len();
            slot.retain(|e| {
                if e.tick <= now_tick {
                    due.push((e.key, e.tick));
                    false
                } else {
                    true
                }
            });
            self.len -= before - slot.len();
        }
        self.done = now_tick;
        self.next = self.earliest();
    }

    /// The earliest tick of any entry (a scan; run only after expiring).
    fn earliest(&self) -> u64 {
        if self.len == 0 {
            return u64::MAX;
        }
        let mut best = u64::MAX;
        for d in 1..=SLOTS as u64 {
            let t = self.done + d;
            for e in &self.slots[(t % SLOTS as u64) as usize] {
                best = best.min(e.tick);
            }
            // An entry within this revolution is the earliest possible one.
            if best <= self.done + d {
                return best;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    const A: Key = Key { index: 1, generation: 0 };
    const B: Key = Key { index: 2, generation: 0 };

    #[test]
    fn entries_fire_at_their_tick_and_never_early() {
        let mut w = Wheel::new(ms(0));
        let (mut la, mut lb) = (None, None);
        w.link_deadline(A, &mut la, Some(ms(10)));
        w.link_deadline(B, &mut lb, Some(Instant::from_nanos(5_000_001))); // rounds up to 6 ms
        assert_eq!(w.timeout_ms(ms(0)), Some(6));
        let mut due = Vec::new();
        w.expire(ms(5), &mut due);
        assert!(due.is_empty());
        w.expire(ms(6), &mut due);
        assert_eq!(due, [(B, 6)]);
        assert_eq!(w.timeout_ms(ms(6)), Some(4));
        due.clear();
        w.expire(ms(20), &mut due);
        assert_eq!(due, [(A, 10)]);
        assert_eq!(w.timeout_ms(ms(20)), None);
    }

    #[test]
    fn a_deadline_moved_later_is_not_relinked() {
        let mut w = Wheel::new(ms(0));
        let mut linked = None;
        w.link_deadline(A, &mut linked, Some(ms(10)));
        for later in 11..1000 {
            w.link_deadline(A, &mut linked, Some(ms(later)));
        }
        assert_eq!(w.len, 1, "one entry for a deadline that only moved later");
        assert_eq!(linked, Some(10));
        // Earlier: a new entry; the old one is stale when it fires.
        w.link_deadline(A, &mut linked, Some(ms(3)));
        assert_eq!((w.len, linked), (2, Some(3)));
        let mut due = Vec::new();
        w.expire(ms(10), &mut due);
        assert_eq!(due, [(A, 3), (A, 10)], "the owner skips the entry whose tick is not its linked one");
    }

    #[test]
    fn entries_beyond_one_revolution_wait_for_theirs() {
        let mut w = Wheel::new(ms(0));
        let mut linked = None;
        w.link_deadline(A, &mut linked, Some(ms(60_000)));
        let mut due = Vec::new();
        for t in (0..60_000).step_by(997) {
            w.expire(ms(t), &mut due);
        }
        assert!(due.is_empty());
        w.expire(ms(60_000), &mut due);
        assert_eq!(due, [(A, 60_000)]);
    }
}
