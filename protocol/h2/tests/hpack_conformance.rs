//! HPACK conformance: the hpack-test-case stories, RFC 7541 Appendix C byte for byte, and our
//! encoder's output checked by our decoder, loona-hpack and Python's `hpack` package.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use sockless_h2::hpack::{Decoder, DecoderError, Encoder};

type Headers = Vec<(Vec<u8>, Vec<u8>)>;

struct Case {
    wire: Option<Vec<u8>>,
    headers: Headers,
    table_size: Option<usize>,
}

fn vectors_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/hpack-test-case");
    assert!(dir.is_dir(), "HPACK test stories not found at {}", dir.display());
    dir
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len() % 2 == 0, "odd hex length");
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

fn load_story(path: &Path) -> Vec<Case> {
    let json: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            wire: c.get("wire").and_then(Value::as_str).map(unhex),
            headers: c["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    let (k, v) = h.as_object().unwrap().iter().next().unwrap();
                    (k.as_bytes().to_vec(), v.as_str().unwrap().as_bytes().to_vec())
                })
                .collect(),
            table_size: c.get("header_table_size").and_then(Value::as_u64).map(|n| n as usize),
        })
        .collect()
}

fn stories(dir: &str) -> Vec<(PathBuf, Vec<Case>)> {
    let mut paths: Vec<PathBuf> = fs::read_dir(vectors_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_str().unwrap();
            name.starts_with("story_") && name.ends_with(".json")
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no stories in {dir}");
    paths.into_iter().map(|p| (p.clone(), load_story(&p))).collect()
}

fn wire_dirs() -> Vec<String> {
    let mut dirs: Vec<String> = fs::read_dir(vectors_dir())
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir() && e.file_name() != "raw-data")
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    dirs.sort();
    dirs
}

fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<Headers, DecoderError> {
    let mut out = Vec::new();
    decoder.decode(block, usize::MAX, |n: &[u8], v: &[u8], _| {
        out.push((n.to_vec(), v.to_vec()));
        Ok::<(), DecoderError>(())
    })?;
    Ok(out)
}

#[test]
fn every_story_decodes() {
    let dirs = wire_dirs();
    assert!(dirs.len() >= 5, "expected the five encoder directories, found {dirs:?}");
    let mut cases = 0;
    for dir in &dirs {
        for (path, story) in stories(dir) {
            let mut decoder = Decoder::new(4096);
            for (i, case) in story.iter().enumerate() {
                if let Some(size) = case.table_size {
                    decoder.set_max_table_size(size);
                }
                let wire = case.wire.as_ref().expect("wire");
                let got = decode(&mut decoder, wire).unwrap_or_else(|e| panic!("{}: case {i}: {e:?}", path.display()));
                assert!(got == case.headers, "{}: case {i}: headers differ", path.display());
                cases += 1;
            }
        }
    }
    assert!(cases > 16_000, "only {cases} cases");
    println!("{cases} cases decoded");
}

// --- RFC 7541 Appendix C -------------------------------------------------------------------

fn h(list: &[(&str, &str)]) -> Headers {
    list.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect()
}

fn hexs(s: &str) -> Vec<u8> {
    unhex(&s.replace([' ', '\n'], ""))
}

fn table_of(t: &sockless_h2::hpack::table::DynamicTable) -> Headers {
    (0..t.len()).map(|i| t.get(i).map(|(n, v)| (n.to_vec(), v.to_vec())).unwrap()).collect()
}

/// One block of an Appendix C example: wire (hex), headers, table size and table after it.
type ExampleBlock<'a> = (&'a str, &'a [(&'a str, &'a str)], usize, &'a [(&'a str, &'a str)]);

/// Runs the three blocks of one Appendix C example through a fresh decoder and a fresh encoder,
/// checking bytes, headers and table contents after each block.
fn appendix_c(table_size: usize, huffman: bool, blocks: &[ExampleBlock]) {
    let mut decoder = Decoder::new(table_size);
    let mut encoder = Encoder::with_table_size(table_size);
    encoder.set_huffman(huffman);
    // C.5.3/C.6.3 index set-cookie; our default list would send it never indexed.
    encoder.set_never_index_sensitive_names(false);
    for (i, (wire, headers, size, table)) in blocks.iter().enumerate() {
        let wire = hexs(wire);
        let headers = h(headers);
        assert_eq!(decode(&mut decoder, &wire).unwrap(), headers, "block {i}");
        assert_eq!(decoder.table().size(), *size, "block {i}");
        assert_eq!(table_of(decoder.table()), h(table), "block {i}");
        let mut out = Vec::new();
        encoder.encode(headers.iter().map(|(n, v)| (n, v)), &mut out);
        assert_eq!(hex(&out), hex(&wire), "encoder, block {i}");
        assert_eq!(table_of(encoder.table()), h(table), "encoder table, block {i}");
    }
}

#[test]
fn rfc_c2_literals() {
    // C.2.1 literal with indexing, new name.
    let wire = hexs("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &wire).unwrap(), h(&[("custom-key", "custom-header")]));
    assert_eq!(d.table().size(), 55);
    let mut e = Encoder::new();
    e.set_huffman(false);
    let mut out = Vec::new();
    e.encode([("custom-key", "custom-header")], &mut out);
    assert_eq!(out, wire);
    // C.2.2 literal without indexing, indexed name.
    let wire = hexs("040c 2f73 616d 706c 652f 7061 7468");
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &wire).unwrap(), h(&[(":path", "/sample/path")]));
    assert_eq!(d.table().len(), 0);
    // C.2.3 literal never indexed.
    let wire = hexs("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let mut d = Decoder::new(4096);
    let mut seen = Vec::new();
    d.decode(&wire, 1000, |n: &[u8], v: &[u8], s| {
        seen.push((n.to_vec(), v.to_vec(), s));
        Ok::<(), DecoderError>(())
    })
    .unwrap();
    assert_eq!(seen, vec![(b"password".to_vec(), b"secret".to_vec(), true)]);
    assert_eq!(d.table().len(), 0);
    let mut e = Encoder::new();
    e.set_huffman(false);
    let mut out = Vec::new();
    e.encode_fields([("password", "secret", true)], &mut out);
    assert_eq!(out, wire);
    // C.2.4 indexed field.
    let mut d = Decoder::new(4096);
    assert_eq!(decode(&mut d, &[0x82]).unwrap(), h(&[(":method", "GET")]));
    let mut out = Vec::new();
    Encoder::new().encode([(":method", "GET")], &mut out);
    assert_eq!(out, [0x82]);
}

const REQ1: &[(&str, &str)] =
    &[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")];
const REQ2: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "http"),
    (":path", "/"),
    (":authority", "www.example.com"),
    ("cache-control", "no-cache"),
];
const REQ3: &[(&str, &str)] = &[
    (":method", "GET"),
    (":scheme", "https"),
    (":path", "/index.html"),
    (":authority", "www.example.com"),
    ("custom-key", "custom-value"),
];
const REQ_T1: &[(&str, &str)] = &[(":authority", "www.example.com")];
const REQ_T2: &[(&str, &str)] = &[("cache-control", "no-cache"), (":authority", "www.example.com")];
const REQ_T3: &[(&str, &str)] =
    &[("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")];

#[test]
fn rfc_c3_requests_without_huffman() {
    appendix_c(
        4096,
        false,
        &[
            ("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d", REQ1, 57, REQ_T1),
            ("8286 84be 5808 6e6f 2d63 6163 6865", REQ2, 110, REQ_T2),
            ("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65", REQ3, 164, REQ_T3),
        ],
    );
}

#[test]
fn rfc_c4_requests_with_huffman() {
    appendix_c(
        4096,
        true,
        &[
            ("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, 57, REQ_T1),
            ("8286 84be 5886 a8eb 1064 9cbf", REQ2, 110, REQ_T2),
            ("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf", REQ3, 164, REQ_T3),
        ],
    );
}

const RESP1: &[(&str, &str)] = &[
    (":status", "302"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP2: &[(&str, &str)] = &[
    (":status", "307"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("location", "https://www.example.com"),
];
const RESP3: &[(&str, &str)] = &[
    (":status", "200"),
    ("cache-control", "private"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
    ("location", "https://www.example.com"),
    ("content-encoding", "gzip"),
    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
];
const RESP_T1: &[(&str, &str)] = &[
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
    (":status", "302"),
];
const RESP_T2: &[(&str, &str)] = &[
    (":status", "307"),
    ("location", "https://www.example.com"),
    ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
    ("cache-control", "private"),
];
const RESP_T3: &[(&str, &str)] = &[
    ("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
    ("content-encoding", "gzip"),
    ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
];

#[test]
fn rfc_c5_responses_without_huffman() {
    appendix_c(
        256,
        false,
        &[
            (
                "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
                 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
                 6c65 2e63 6f6d",
                RESP1,
                222,
                RESP_T1,
            ),
            ("4803 3330 37c1 c0bf", RESP2, 222, RESP_T2),
            (
                "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
                 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
                 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
                 3d31",
                RESP3,
                215,
                RESP_T3,
            ),
        ],
    );
}

#[test]
fn rfc_c6_responses_with_huffman() {
    appendix_c(
        256,
        true,
        &[
            (
                "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
                 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                RESP1,
                222,
                RESP_T1,
            ),
            ("4883 640e ffc1 c0bf", RESP2, 222, RESP_T2),
            (
                "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
                 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
                 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                RESP3,
                215,
                RESP_T3,
            ),
        ],
    );
}

// --- our encoder against three decoders ---------------------------------------------------

/// Encodes every raw-data story with one encoder per story; `resize` may change the peer's
/// table size before a case. Returns (path, blocks, expected headers) per story.
fn encode_raw_data(resize: impl Fn(usize) -> Option<usize>) -> Vec<(PathBuf, Vec<Vec<u8>>, Vec<Headers>)> {
    stories("raw-data")
        .into_iter()
        .map(|(path, story)| {
            let mut encoder = Encoder::new();
            let mut blocks = Vec::new();
            let mut expected = Vec::new();
            for (i, case) in story.into_iter().enumerate() {
                if let Some(size) = resize(i) {
                    encoder.set_max_table_size(size);
                }
                let mut block = Vec::new();
                encoder.encode(case.headers.iter().map(|(n, v)| (n, v)), &mut block);
                blocks.push(block);
                expected.push(case.headers);
            }
            (path, blocks, expected)
        })
        .collect()
}

fn resize_schedule(i: usize) -> Option<usize> {
    match i % 40 {
        10 => Some(0),
        11 => Some(1024),
        25 => Some(256),
        30 => Some(4096),
        _ => None,
    }
}

#[test]
fn raw_data_round_trips_through_our_decoder() {
    for schedule in [None, Some(resize_schedule as fn(usize) -> Option<usize>)] {
        for (path, blocks, expected) in encode_raw_data(|i| schedule.and_then(|f| f(i))) {
            let mut decoder = Decoder::new(4096);
            for (i, (block, headers)) in blocks.iter().zip(&expected).enumerate() {
                if let Some(size) = schedule.and_then(|f| f(i)) {
                    decoder.set_max_table_size(size);
                }
                let got = decode(&mut decoder, block).unwrap_or_else(|e| panic!("{}: case {i}: {e:?}", path.display()));
                assert!(&got == headers, "{}: case {i}", path.display());
            }
        }
    }
}

#[test]
fn raw_data_round_trips_through_loona_hpack() {
    for (path, blocks, expected) in encode_raw_data(|_| None) {
        let mut decoder = loona_hpack::Decoder::new();
        for (i, (block, headers)) in blocks.iter().zip(&expected).enumerate() {
            let got = decoder.decode(block).unwrap_or_else(|e| panic!("{}: case {i}: {e:?}", path.display()));
            assert!(&got == headers, "{}: case {i}", path.display());
        }
    }
}

const PYTHON_CHECK: &str = r#"
import json, sys
try:
    import hpack
except ImportError as e:
    print("python hpack package missing: " + str(e))
    sys.exit(3)
stories = json.load(open(sys.argv[1]))
cases = 0
for story in stories:
    d = hpack.Decoder()
    d.max_header_list_size = 1 << 30
    for i, (size, block, expected) in enumerate(zip(story["sizes"], story["blocks"], story["headers"])):
        if size is not None:
            d.header_table_size = size
        got = d.decode(bytes.fromhex(block), raw=True)
        exp = [(bytes.fromhex(n), bytes.fromhex(v)) for n, v in expected]
        if [(n, v) for n, v in got] != exp:
            print("mismatch in %s case %d" % (story["name"], i))
            sys.exit(1)
        cases += 1
print("python hpack %s decoded %d blocks" % (hpack.__version__, cases))
"#;

#[test]
fn raw_data_round_trips_through_python_hpack() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut stories_json = Vec::new();
    for schedule in [None, Some(resize_schedule as fn(usize) -> Option<usize>)] {
        for (path, blocks, expected) in encode_raw_data(|i| schedule.and_then(|f| f(i))) {
            let sizes: Vec<Value> =
                (0..blocks.len()).map(|i| schedule.and_then(|f| f(i)).map_or(Value::Null, |s| s.into())).collect();
            stories_json.push(serde_json::json!({
                "name": path.display().to_string(),
                "sizes": sizes,
                "blocks": blocks.iter().map(|b| hex(b)).collect::<Vec<_>>(),
                "headers": expected.iter().map(|hs| hs.iter()
                    .map(|(n, v)| vec![hex(n), hex(v)]).collect::<Vec<_>>()).collect::<Vec<_>>(),
            }));
        }
    }
    let dir = std::env::temp_dir().join(format!("sockless-hpack-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let data = dir.join("blocks.json");
    fs::write(&data, serde_json::to_vec(&stories_json).unwrap()).unwrap();
    let out = Command::new(&python).arg("-c").arg(PYTHON_CHECK).arg(&data).output();
    let _ = fs::remove_dir_all(&dir);
    let out = out.unwrap_or_else(|e| panic!("cannot run {python} ({e}); install Python 3 and `pip install hpack`"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "Python hpack check failed ({}): {stdout}{stderr}\n(needs `pip install hpack`)",
        out.status
    );
    println!("{stdout}");
}
