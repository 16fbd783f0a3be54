//! The full HTTP/2 server cycle: HEADERS in, the Request event, HEADERS
//! and DATA out, transmitted. `cargo bench -p sockless-h2 --bench h2_cycle`.

mod common;

use common::{hello_head, Bench};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn cycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("h2");
    group.throughput(Throughput::Elements(1));
    let head = hello_head();
    let mut bench = Bench::new();
    for _ in 0..1000 {
        bench.cycle(&head);
    }
    group.bench_function("server_cycle", |b| b.iter(|| bench.cycle(&head)));
    group.finish();
}

criterion_group!(benches, cycle);
criterion_main!(benches);
