//! Heap allocations per HTTP/2 server cycle on a warmed connection, counted
//! by a wrapping global allocator. Exits 1 above the goal of 2.
//! `cargo bench -p sockless-h2 --bench h2_alloc`.

mod common;

use common::{hello_head, Bench};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let head = hello_head();
    let mut bench = Bench::new();
    for _ in 0..2000 {
        bench.cycle(&head);
    }
    let cycles = 20_000;
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..cycles {
        bench.cycle(&head);
    }
    let per = (ALLOCS.load(Ordering::Relaxed) - before) as f64 / cycles as f64;
    println!("h2 server cycle: {per:.3} allocations per request/response (goal: at most 2)");
    if per > 2.0 {
        std::process::exit(1);
    }
}
