//! Property tests for HPACK: round trips and robustness against arbitrary input.

use proptest::prelude::*;
use sockless_h2::hpack::integer::{decode_integer, encode_integer, MAX_INTEGER};
use sockless_h2::hpack::{huffman, Decoder, DecoderError, Encoder};

type Field = (Vec<u8>, Vec<u8>, bool);

fn field() -> impl Strategy<Value = Field> {
    let name = prop_oneof![
        // Names that hit the static table and the sensitive list.
        prop::sample::select(vec![
            &b":method"[..],
            b":path",
            b":status",
            b"cookie",
            b"authorization",
            b"content-type",
            b"x-custom",
        ])
        .prop_map(|n| n.to_vec()),
        prop::collection::vec(any::<u8>(), 0..20),
    ];
    let value = prop_oneof![
        prop::sample::select(vec![&b"GET"[..], b"/", b"200", b"", b"text/html"]).prop_map(|v| v.to_vec()),
        prop::collection::vec(any::<u8>(), 0..60),
        prop::collection::vec(any::<u8>(), 0..3000),
    ];
    (name, value, any::<bool>())
}

/// A header block, optionally preceded by a change of the peer's table size.
fn blocks() -> impl Strategy<Value = Vec<(Option<usize>, Vec<Field>)>> {
    let resize = prop::option::weighted(0.2, prop_oneof![Just(0usize), 0usize..5000, Just(4096)]);
    prop::collection::vec((resize, prop::collection::vec(field(), 0..12)), 1..8)
}

fn decode_all(d: &mut Decoder, block: &[u8]) -> Result<Vec<Field>, DecoderError> {
    let mut out = Vec::new();
    d.decode(block, usize::MAX, |n: &[u8], v: &[u8], s| {
        out.push((n.to_vec(), v.to_vec(), s));
        Ok::<(), DecoderError>(())
    })?;
    Ok(out)
}

proptest! {
    #[test]
    fn encode_decode_round_trip(blocks in blocks(), huffman in any::<bool>()) {
        let mut encoder = Encoder::new();
        encoder.set_huffman(huffman);
        let mut decoder = Decoder::new(4096);
        for (resize, fields) in blocks {
            if let Some(size) = resize {
                encoder.set_max_table_size(size);
                decoder.set_max_table_size(size);
            }
            let mut block = Vec::new();
            encoder.encode_fields(fields.iter().map(|(n, v, s)| (n, v, *s)), &mut block);
            let got = decode_all(&mut decoder, &block).unwrap();
            prop_assert_eq!(got.len(), fields.len());
            for ((gn, gv, gs), (n, v, s)) in got.iter().zip(&fields) {
                prop_assert_eq!(gn, n);
                prop_assert_eq!(gv, v);
                if *s {
                    prop_assert!(*gs, "a sensitive field must arrive never-indexed");
                }
            }
            prop_assert_eq!(encoder.table().size(), decoder.table().size());
        }
    }

    #[test]
    fn integer_round_trip(value in 0..=MAX_INTEGER, prefix in 1u8..=8, flags in any::<u8>()) {
        let flags = if prefix == 8 { 0 } else { flags & !((1u16 << prefix) - 1) as u8 };
        let mut out = Vec::new();
        encode_integer(value, prefix, flags, &mut out);
        prop_assert_eq!(out[0] & !(((1u16 << prefix) - 1) as u8), flags);
        prop_assert_eq!(decode_integer(&out, prefix), Ok((value, out.len())));
        out.push(0xaa);
        prop_assert_eq!(decode_integer(&out, prefix), Ok((value, out.len() - 1)));
    }

    #[test]
    fn integer_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..12), prefix in 1u8..=8) {
        if let Ok((v, n)) = decode_integer(&bytes, prefix) {
            prop_assert!(v <= MAX_INTEGER && n <= bytes.len());
        }
    }

    #[test]
    fn huffman_round_trip(s in prop::collection::vec(any::<u8>(), 0..500)) {
        let mut enc = Vec::new();
        huffman::encode(&s, &mut enc);
        prop_assert_eq!(enc.len(), huffman::encoded_len(&s));
        let mut dec = Vec::new();
        huffman::decode(&enc, &mut dec, usize::MAX).unwrap();
        prop_assert_eq!(dec, s);
    }

    #[test]
    fn huffman_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64), limit in 0usize..200) {
        let mut out = Vec::new();
        let _ = huffman::decode(&bytes, &mut out, limit);
        prop_assert!(out.len() <= limit);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..6),
        table_size in prop_oneof![Just(4096usize), 0usize..300],
        limit in prop_oneof![Just(usize::MAX), 0usize..2000],
    ) {
        let mut decoder = Decoder::new(table_size);
        for block in &blocks {
            let mut total = 0usize;
            let r = decoder.decode(block, limit, |n: &[u8], v: &[u8], _| {
                total += n.len() + v.len() + 32;
                Ok::<(), DecoderError>(())
            });
            prop_assert!(total <= limit);
            prop_assert!(decoder.table().size() <= decoder.table().max_size());
            prop_assert!(decoder.table().max_size() <= table_size);
            if r.is_err() {
                break;
            }
        }
    }

    #[test]
    fn decoding_mutated_blocks_never_panics(
        fields in prop::collection::vec(field(), 1..10),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut block = Vec::new();
        Encoder::new().encode_fields(fields.iter().map(|(n, v, s)| (n, v, *s)), &mut block);
        for (i, b) in flips {
            let i = i.index(block.len());
            block[i] ^= b;
        }
        let mut decoder = Decoder::new(4096);
        let _ = decode_all(&mut decoder, &block);
        let _ = decode_all(&mut decoder, &block);
    }
}

proptest! {
    /// The encoder's hash indexes start small and grow with the table: through that growth (and
    /// table resizes) every block round-trips, the tables stay in step, and a field that was
    /// just added to the table is found again (sent as one indexed field).
    #[test]
    fn growing_indexes_keep_finding_entries(
        fields in prop::collection::vec((0u8..40, 0u8..40, prop::bool::weighted(0.1)), 1..400),
        resize_at in prop::option::of((0usize..400, prop::sample::select(vec![0usize, 100, 1000, 4096]))),
    ) {
        let mut encoder = Encoder::new();
        let mut decoder = Decoder::new(4096);
        let mut previous: Option<(Vec<u8>, Vec<u8>)> = None;
        for (k, &(n, v, repeat)) in fields.iter().enumerate() {
            if let Some((at, size)) = resize_at {
                if at == k {
                    encoder.set_max_table_size(size);
                    decoder.set_max_table_size(size);
                    previous = None;
                }
            }
            let (name, value) = match (&previous, repeat) {
                (Some(p), true) => p.clone(),
                _ => (format!("x-h{n}").into_bytes(), format!("value-{v}").into_bytes()),
            };
            let mut block = Vec::new();
            encoder.encode([(&name, &value)], &mut block);
            let got = decode_all(&mut decoder, &block).unwrap();
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(&got[0].0, &name);
            prop_assert_eq!(&got[0].1, &value);
            prop_assert_eq!(encoder.table().size(), decoder.table().size());
            if repeat && previous.as_ref() == Some(&(name.clone(), value.clone())) {
                prop_assert!(block.len() <= 2 && block[0] & 0x80 != 0, "a repeat is indexed: {:x?}", block);
            }
            // The encoder indexes what takes at most three quarters of the table.
            let fits = name.len() + value.len() + 32 <= encoder.table().max_size() / 4 * 3;
            previous = fits.then_some((name, value));
        }
    }
}
