//! Making room at the connection ceiling: when a new client arrives while
//! the server holds its most connections, the longest-idle one (no exchange
//! in flight) is asked to close, as nginx closes keep-alive connections when
//! it runs out of them, instead of leaving the new client in the listen
//! backlog for as long as the idle ones stay.

use crate::pump::Shared;
use crate::sync::lock;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};

/// The server's open connections, as the accept loop sees them.
#[derive(Default)]
pub(crate) struct Connections {
    list: Mutex<Vec<Weak<Shared>>>,
}

impl Connections {
    /// Registers a new connection. Entries of closed connections are
    /// dropped now and then (when the list has grown to twice what was
    /// live at the last sweep), so registering costs O(1) amortised.
    pub(crate) fn add(&self, shared: &Arc<Shared>) {
        let mut list = lock(&self.list);
        if list.len() >= 64 && list.len().is_power_of_two() {
            list.retain(|w| w.strong_count() > 0);
        }
        list.push(Arc::downgrade(shared));
    }

    /// Asks the longest-idle connection not yet asked to close; `false` if
    /// every connection is busy.
    pub(crate) fn evict_longest_idle(&self) -> bool {
        let mut list = lock(&self.list);
        list.retain(|w| w.strong_count() > 0);
        let oldest = list
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| !s.evict.load(Ordering::Relaxed))
            .filter_map(|s| match s.idle_since.load(Ordering::Relaxed) {
                0 => None,
                since => Some((since, s)),
            })
            .min_by_key(|(since, _)| *since);
        drop(list);
        match oldest {
            Some((_, shared)) => {
                shared.evict.store(true, Ordering::Relaxed);
                shared.wake();
                true
            }
            None => false,
        }
    }
}
