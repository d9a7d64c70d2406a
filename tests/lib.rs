//! Helpers for weir's integration tests: where TFX's conformance data is,
//! and readers that turn TFRecord outputs into comparable multisets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;
use weir_datasets::proto::{Example, FeatureKind};
use weir_datasets::tfrecord::TfRecordReader;

pub mod cluster;
pub mod s3_proxy;
pub mod servers;

/// `../shared/tfx-testdata` beside the checkout (or `$WEIR_TFX_TESTDATA`).
/// Panics with a clear message when it is missing: conformance tests must
/// not pass by skipping.
pub fn testdata() -> PathBuf {
    let p = std::env::var_os("WEIR_TFX_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tfx-testdata"));
    assert!(
        p.join("README.md").exists(),
        "TFX conformance data not found at {} (set WEIR_TFX_TESTDATA)",
        p.display()
    );
    p
}

/// TFX's ExampleGen eval split of the taxi data, read with single-valued
/// features as scalars (as the transform reads it).
pub fn taxi_eval_split() -> weir_datasets::formats::SourceSpec {
    let files = weir_datasets::input::resolve_input(
        &testdata()
            .join("csv_example_gen/Split-eval")
            .to_string_lossy(),
    )
    .expect("TFX's eval split");
    let options = weir_datasets::formats::ReadOptions {
        tfrecord_scalars: true,
        ..Default::default()
    };
    weir_datasets::formats::SourceSpec::new(files, weir_datasets::Format::Tfrecord, options)
}

/// A multi-threaded Tokio runtime for tests that drive async builders.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// Every record of every file in `dir`, in file order.
pub fn read_records(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for r in TfRecordReader::open(&f, None).unwrap() {
            out.push(r.unwrap_or_else(|e| panic!("{e}")));
        }
    }
    out
}

/// Records as a sorted multiset.
pub fn multiset(mut records: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    records.sort();
    records
}

/// A feature's values in a comparable form.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Values {
    /// No value list.
    Missing,
    /// int64_list.
    Int(Vec<i64>),
    /// float_list (bit patterns compared via f32).
    Float(Vec<f32>),
    /// bytes_list.
    Bytes(Vec<Vec<u8>>),
}

/// Decodes a serialized example into feature name → values.
pub fn decode(record: &[u8]) -> BTreeMap<String, Values> {
    let ex = Example::decode(record).expect("a tf.train.Example");
    ex.features
        .map(|f| f.feature)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, f)| {
            let v = match f.kind {
                None => Values::Missing,
                Some(FeatureKind::Int64List(l)) => Values::Int(l.value),
                Some(FeatureKind::FloatList(l)) => Values::Float(l.value),
                Some(FeatureKind::BytesList(l)) => Values::Bytes(l.value),
            };
            (k, v)
        })
        .collect()
}

/// A minimal Avro object-container-file writer for test fixtures: the
/// caller gives the schema JSON and rows already encoded with the helpers
/// below, so fixtures exercise the reader against the format itself.
pub mod avro {
    /// Zig-zag varint `long`/`int`.
    pub fn long(out: &mut Vec<u8>, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            out.push((z as u8) | 0x80);
            z >>= 7;
        }
        out.push(z as u8);
    }

    /// `bytes` / `string`.
    pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        long(out, b.len() as i64);
        out.extend_from_slice(b);
    }

    /// Big-endian two's complement bytes of an unscaled decimal.
    pub fn decimal(out: &mut Vec<u8>, unscaled: i128) {
        let be = unscaled.to_be_bytes();
        let mut start = 0;
        while start < 15
            && ((be[start] == 0 && be[start + 1] & 0x80 == 0)
                || (be[start] == 0xff && be[start + 1] & 0x80 != 0))
        {
            start += 1;
        }
        bytes(out, &be[start..]);
    }

    /// Big-endian two's complement bytes of the decimal text `text` (such
    /// as `-12.5`) at `scale`, for values beyond i128 (BIGNUMERIC).
    pub fn decimal_text(out: &mut Vec<u8>, text: &str, scale: usize) {
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        assert!(frac.len() <= scale, "{text} has more than {scale} decimals");
        let all = format!("{int}{frac}{}", "0".repeat(scale - frac.len()));
        // Big-endian magnitude, base 256.
        let mut mag: Vec<u8> = vec![0];
        for d in all.bytes() {
            let mut carry = u32::from(d - b'0');
            for b in mag.iter_mut().rev() {
                let v = u32::from(*b) * 10 + carry;
                *b = v as u8;
                carry = v >> 8;
            }
            while carry > 0 {
                mag.insert(0, carry as u8);
                carry >>= 8;
            }
        }
        if mag[0] & 0x80 != 0 {
            mag.insert(0, 0);
        }
        if neg {
            for b in mag.iter_mut() {
                *b = !*b;
            }
            for b in mag.iter_mut().rev() {
                let (v, overflow) = b.overflowing_add(1);
                *b = v;
                if !overflow {
                    break;
                }
            }
        }
        bytes(out, &mag);
    }

    /// A whole file: header with `schema`, one block of `rows` (each row's
    /// bytes already encoded), sync markers.
    pub fn file(schema: &str, rows: &[Vec<u8>]) -> Vec<u8> {
        let sync = *b"weir-sync-marker";
        let mut out = b"Obj\x01".to_vec();
        long(&mut out, 2);
        bytes(&mut out, b"avro.schema");
        bytes(&mut out, schema.as_bytes());
        bytes(&mut out, b"avro.codec");
        bytes(&mut out, b"null");
        long(&mut out, 0);
        out.extend_from_slice(&sync);
        let data: Vec<u8> = rows.concat();
        long(&mut out, rows.len() as i64);
        long(&mut out, data.len() as i64);
        out.extend_from_slice(&data);
        out.extend_from_slice(&sync);
        out
    }
}
