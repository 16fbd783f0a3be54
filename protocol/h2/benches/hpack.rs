//! HPACK benchmarks: decoding the hpack-test-case stories and encoding the raw-data stories,
//! ours against loona-hpack and the crates.io `hpack` 0.3 crate in the same run.
//!
//! `cargo bench -p sockless-h2 --bench hpack -- --measurement-time 3 --warm-up-time 1`

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sockless_h2::hpack::{Decoder, DecoderError, Encoder};

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

/// One story: per case the table size in force (if given), the wire block and the headers.
struct Story {
    cases: Vec<(Option<usize>, Vec<u8>, Headers)>,
}

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/hpack-test-case");
    assert!(dir.is_dir(), "HPACK test stories not found at {}", dir.display());
    dir
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn load_dir(dir: &Path) -> Vec<Story> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let json: Value = serde_json::from_slice(&fs::read(p).unwrap()).unwrap();
            let cases = json["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let size = c.get("header_table_size").and_then(Value::as_u64);
                    let wire = c.get("wire").and_then(Value::as_str).map(unhex).unwrap_or_default();
                    let headers = c["headers"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|h| {
                            let (k, v) = h.as_object().unwrap().iter().next().unwrap();
                            (k.as_bytes().to_vec(), v.as_str().unwrap().as_bytes().to_vec())
                        })
                        .collect();
                    (size.map(|s| s as usize), wire, headers)
                })
                .collect();
            Story { cases }
        })
        .collect()
}

fn wire_stories(only: Option<&str>) -> Vec<Story> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("raw-data"))
        .filter(|p| match only {
            None => true,
            Some(o) => p.ends_with(o),
        })
        .collect();
    dirs.sort();
    dirs.iter().flat_map(|d| load_dir(d)).collect()
}

fn wire_bytes(stories: &[Story]) -> u64 {
    stories.iter().flat_map(|s| &s.cases).map(|c| c.1.len() as u64).sum()
}

fn decode_ours(stories: &[Story]) -> usize {
    let mut total = 0;
    for story in stories {
        let mut d = Decoder::new(4096);
        for (size, wire, _) in &story.cases {
            if let Some(size) = size {
                d.set_max_table_size(*size);
            }
            d.decode(wire, usize::MAX, |n: &[u8], v: &[u8], _| {
                total += n.len() + v.len();
                Ok::<(), DecoderError>(())
            })
            .unwrap();
        }
    }
    total
}

fn decode_loona(stories: &[Story]) -> usize {
    let mut total = 0;
    for story in stories {
        let mut d = loona_hpack::Decoder::new();
        for (_, wire, _) in &story.cases {
            d.decode_with_cb(wire, |n, v| total += n.len() + v.len()).unwrap();
        }
    }
    total
}

fn decode_hpack03(stories: &[Story]) -> usize {
    let mut total = 0;
    for story in stories {
        let mut d = hpack::Decoder::new();
        for (_, wire, _) in &story.cases {
            d.decode_with_cb(wire, |n, v| total += n.len() + v.len()).unwrap();
        }
    }
    total
}

fn bench_decode(c: &mut Criterion, name: &str, stories: &[Story]) {
    let expected: usize =
        stories.iter().flat_map(|s| &s.cases).flat_map(|c| &c.2).map(|(n, v)| n.len() + v.len()).sum();
    assert_eq!(decode_ours(stories), expected);
    assert_eq!(decode_loona(stories), expected);
    assert_eq!(decode_hpack03(stories), expected);
    let mut g = c.benchmark_group(name);
    // The peers take seconds per pass over the stories: keep the sample count at criterion's
    // minimum so a run stays within minutes.
    g.sample_size(10);
    g.throughput(Throughput::Bytes(wire_bytes(stories)));
    g.bench_function("sockless-h2", |b| b.iter(|| decode_ours(black_box(stories))));
    g.bench_function("loona-hpack", |b| b.iter(|| decode_loona(black_box(stories))));
    g.bench_function("hpack-0.3", |b| b.iter(|| decode_hpack03(black_box(stories))));
    g.finish();
}

fn decode_all(c: &mut Criterion) {
    bench_decode(c, "decode/all-stories", &wire_stories(None));
}

fn decode_go(c: &mut Criterion) {
    bench_decode(c, "decode/go-hpack", &wire_stories(Some("go-hpack")));
}

fn encode_ours(stories: &[Story], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for story in stories {
        let mut e = Encoder::new();
        for (_, _, headers) in &story.cases {
            out.clear();
            e.encode(headers.iter().map(|(n, v)| (n, v)), out);
            total += out.len();
        }
    }
    total
}

fn encode_loona(stories: &[Story], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for story in stories {
        let mut e = loona_hpack::Encoder::new();
        for (_, _, headers) in &story.cases {
            out.clear();
            e.encode_into(headers.iter().map(|(n, v)| (&n[..], &v[..])), out).unwrap();
            total += out.len();
        }
    }
    total
}

fn encode_hpack03(stories: &[Story], out: &mut Vec<u8>) -> usize {
    let mut total = 0;
    for story in stories {
        let mut e = hpack::Encoder::new();
        for (_, _, headers) in &story.cases {
            out.clear();
            e.encode_into(headers.iter().map(|(n, v)| (&n[..], &v[..])), out).unwrap();
            total += out.len();
        }
    }
    total
}

fn encode(c: &mut Criterion) {
    let stories = load_dir(&vectors_dir().join("raw-data"));
    let raw: usize = stories.iter().flat_map(|s| &s.cases).flat_map(|c| &c.2).map(|(n, v)| n.len() + v.len()).sum();
    let mut out = Vec::new();
    let ours = encode_ours(&stories, &mut out);
    let loona = encode_loona(&stories, &mut out);
    let hpack03 = encode_hpack03(&stories, &mut out);
    println!(
        "raw-data: {raw} bytes of names and values; encoded/raw size ratio: sockless-h2 {:.3} \
         (Huffman), loona-hpack {:.3}, hpack-0.3 {:.3} (neither uses Huffman)",
        ours as f64 / raw as f64,
        loona as f64 / raw as f64,
        hpack03 as f64 / raw as f64
    );
    let mut g = c.benchmark_group("encode/raw-data");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(raw as u64));
    g.bench_function("sockless-h2", |b| b.iter(|| encode_ours(black_box(&stories), &mut out)));
    g.bench_function("loona-hpack", |b| b.iter(|| encode_loona(black_box(&stories), &mut out)));
    g.bench_function("hpack-0.3", |b| b.iter(|| encode_hpack03(black_box(&stories), &mut out)));
    g.finish();
}

criterion_group!(benches, decode_all, decode_go, encode);
criterion_main!(benches);
