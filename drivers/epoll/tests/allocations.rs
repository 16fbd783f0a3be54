//! A request answered at once allocates nothing on the loop: counted with a
//! global allocator over a warmed HTTP/1.1 keep-alive connection (the
//! client side writes and reads with fixed buffers, so every allocation
//! counted is the server's).

use sockless_core::{Bytes, Instant, ResponseHead};
use sockless_epoll::{serve, EpollOptions};
use sockless_rt::{Request, Response};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_keep_alive_request_answered_at_once_allocates_nothing() {
    let make = |now: Instant| sockless_h1::ServerConnection::new(sockless_h1::Config::server(), now);
    let mut hello = ResponseHead::new(200).header("content-length", "13");
    hello.headers.freeze();
    let handler =
        move |_req: Request| std::future::ready(Response::new(hello.clone(), Bytes::from_static(b"Hello, World!")));
    let options = EpollOptions { threads: 1, ..EpollOptions::default() };
    let server = serve("127.0.0.1:0".parse().unwrap(), make, handler, options).unwrap();
    let mut s = std::net::TcpStream::connect(server.local_addr()).unwrap();
    s.set_nodelay(true).unwrap();
    let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut buf = [0u8; 4096];
    let mut exchange = |s: &mut std::net::TcpStream| {
        s.write_all(request).unwrap();
        let mut seen = 0;
        while !buf[..seen].ends_with(b"Hello, World!") {
            let n = s.read(&mut buf[seen..]).unwrap();
            assert!(n > 0);
            seen += n;
        }
    };
    for _ in 0..200 {
        exchange(&mut s);
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    const N: usize = 2000;
    for _ in 0..N {
        exchange(&mut s);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    eprintln!("{allocations} allocations for {N} requests");
    assert!(allocations * 100 < N, "{allocations} allocations for {N} requests");
    drop(s);
    server.shutdown();
    server.join().unwrap();
}
