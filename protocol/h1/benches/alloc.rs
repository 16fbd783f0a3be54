//! Zero-allocation check: a counting global allocator around `System` counts every `alloc`,
//! `alloc_zeroed` and `realloc` while a warmed keep-alive server connection runs request/response
//! cycles, and the bench fails (exit status 1) if a warmed cycle allocates at all.
//!
//! `cargo bench -p sockless-h1 --bench alloc` (it takes well under a second). Each case warms its
//! own connection with 100 cycles, then counts over 10 000 more and prints allocations per cycle.
//! Set `ALLOC_TRACE=1` to print a backtrace of the first allocation in each measured run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

mod common;
use common::{cycle, hello_head, BROWSER, BROWSER_RELOAD, WRK};

/// `System`, counting the calls that obtain memory.
struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static TRACE: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set while a traced allocation captures its backtrace (which allocates itself).
    static IN_TRACE: Cell<bool> = const { Cell::new(false) };
}

fn counted(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    if TRACE.load(Relaxed) && !IN_TRACE.with(Cell::get) {
        IN_TRACE.with(|t| t.set(true));
        TRACE.store(false, Relaxed);
        eprintln!("first allocation ({size} bytes) at:\n{}", std::backtrace::Backtrace::force_capture());
        IN_TRACE.with(|t| t.set(false));
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold. Counting touches one atomic. Tracing (opt-in) captures a backtrace, which
// allocates re-entrantly through this allocator: that is sound because no `System` call is in
// progress at that point, and the thread-local guard keeps the nested calls from tracing again.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARM_CYCLES: usize = 100;
const CYCLES: usize = 10_000;

/// Allocations per warmed cycle of `request` answered with hello world.
fn per_cycle(request: &[u8]) -> f64 {
    let head = hello_head();
    let mut conn = common::server();
    for _ in 0..WARM_CYCLES {
        cycle(&mut conn, request, &head);
    }
    TRACE.store(std::env::var_os("ALLOC_TRACE").is_some(), Relaxed);
    let before = ALLOCS.load(Relaxed);
    for _ in 0..CYCLES {
        cycle(&mut conn, request, &head);
    }
    let after = ALLOCS.load(Relaxed);
    TRACE.store(false, Relaxed);
    (after - before) as f64 / CYCLES as f64
}

fn main() {
    // Cargo passes `--bench` (and any filter); this check takes no options.
    let cases = [
        ("hello (wrk request)", WRK),
        ("browser request, 16 fields", BROWSER),
        ("browser reload, 17 fields", BROWSER_RELOAD),
    ];
    let mut failed = false;
    println!("allocations per warmed keep-alive cycle ({CYCLES} cycles after {WARM_CYCLES} warm-up):");
    for (name, request) in cases {
        let n = per_cycle(request);
        println!("alloc/{name}: {n:.3}");
        failed |= n > 0.0;
    }
    if failed {
        println!("FAILED: a warmed cycle allocates");
        std::process::exit(1);
    }
    println!("ok: no allocations");
}
