//! Output layout, manifest, atomic replacement, determinism and the split
//! options.

use std::collections::BTreeMap;

use weir_datasets::input::InputFile;
use weir_datasets::sink::manifest::{fingerprint, ExampleGenManifest};
use weir_datasets::{Compression, SplitConfig};
use weir_engine::{ExampleGenBuilder, OutputFormat};
use weir_tests::{decode, multiset, read_records, testdata, Values};

use crate::util::{tree, write};

fn taxi() -> String {
    testdata()
        .join("taxi/examplegen_input")
        .to_string_lossy()
        .into_owned()
}

fn files_with_bytes(dir: &std::path::Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .filter(|p| dir.join(p).is_file())
        .map(|p| {
            let b = std::fs::read(dir.join(&p)).unwrap();
            (p, b)
        })
        .collect()
}

#[test]
fn rerun_gives_byte_identical_output() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    ExampleGenBuilder::new(taxi(), &a)
        .with_shards(3)
        .execute()
        .unwrap();
    ExampleGenBuilder::new(taxi(), &b)
        .with_shards(3)
        .execute()
        .unwrap();
    let (fa, fb) = (files_with_bytes(&a), files_with_bytes(&b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    // The manifest names the output files relative to the root and holds no
    // timestamps, so it is identical too.
    assert_eq!(fa, fb);
}

#[test]
fn layout_and_manifest_follow_tfx() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    ExampleGenBuilder::new(taxi(), &out)
        .with_shards(4)
        .execute()
        .unwrap();
    let names = tree(&out);
    for split in ["train", "eval"] {
        for s in 0..4 {
            let p = format!("Split-{split}/data_tfrecord-{s:05}-of-00004.gz");
            assert!(names.contains(&p), "missing {p} in {names:?}");
        }
    }
    let m = ExampleGenManifest::read(&out).unwrap();
    assert_eq!(m.total_examples, 15000);
    assert_eq!(m.inputs.len(), 1);
    assert!(m.inputs[0].bytes > 0 && m.inputs[0].crc32c.as_ref().map(String::len) == Some(8));
    // The CRC was taken by the type-inference read; a read of its own agrees.
    let input = InputFile {
        path: m.inputs[0].path.clone().into(),
        size: m.inputs[0].bytes,
        etag: None,
    };
    assert_eq!(
        fingerprint(&input, None).unwrap().crc32c,
        m.inputs[0].crc32c
    );
    assert_eq!(m.schema.len(), 18);
    let fare = m.schema.iter().find(|f| f.name == "fare").unwrap();
    assert_eq!(fare.kind, "FLOAT");
    for split in &m.splits {
        let mut n = 0;
        for f in &split.files {
            let bytes = std::fs::read(out.join(&f.path)).unwrap();
            assert_eq!(bytes.len() as u64, f.bytes, "{}", f.path);
            assert_eq!(sha256_hex(&bytes), f.sha256, "{}", f.path);
            n += f.records;
        }
        assert_eq!(n, split.examples);
        // Shards are a hash of each row's place in the input: balanced
        // within a few percent (binomial spread), whatever split the input.
        let counts: Vec<u64> = split.files.iter().map(|f| f.records).collect();
        let mean = split.examples as f64 / counts.len() as f64;
        assert!(
            counts
                .iter()
                .all(|&c| (c as f64 - mean).abs() < 0.06 * mean),
            "{counts:?}"
        );
    }
}

/// Hex sha256 computed with the `sha2` crate directly, independently of
/// the sink's `HashingWriter` that wrote the manifest's figure.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn rerun_replaces_earlier_output_atomically() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    ExampleGenBuilder::new(taxi(), &out)
        .with_shards(2)
        .execute()
        .unwrap();
    ExampleGenBuilder::new(taxi(), &out)
        .with_shards(1)
        .execute()
        .unwrap();
    let names = tree(&out);
    assert!(names.contains(&"Split-train/data_tfrecord-00000-of-00001.gz".to_string()));
    assert!(
        !names.iter().any(|n| n.contains("of-00002")),
        "old shards left: {names:?}"
    );
    // No staging or old directories stay next to the output.
    assert_eq!(
        tree(d.path())
            .iter()
            .filter(|n| !n.starts_with("out"))
            .count(),
        0,
        "{:?}",
        tree(d.path())
    );
    // A failing rerun leaves the previous output intact.
    let bad = write(d.path(), "bad/in.csv", "a,b\n1\n");
    let before = files_with_bytes(&out);
    ExampleGenBuilder::new(bad.to_string_lossy(), &out)
        .execute()
        .unwrap_err();
    assert_eq!(files_with_bytes(&out), before);
}

#[test]
fn custom_splits_follow_bucket_ranges() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let cfg: SplitConfig = "train=8,eval=1,test=1".parse().unwrap();
    let s = ExampleGenBuilder::new(taxi(), &out)
        .with_splits(cfg.clone())
        .execute()
        .unwrap();
    assert_eq!(
        s.splits.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["train", "eval", "test"]
    );
    assert_eq!(s.total, 15000);
    for (i, name) in ["train", "eval", "test"].iter().enumerate() {
        for r in read_records(&out.join(format!("Split-{name}"))) {
            assert_eq!(cfg.split_of(&r), i);
        }
    }
    let train = s.splits[0].1 as f64 / 15000.0;
    assert!((train - 0.8).abs() < 0.02, "train fraction {train}");
}

#[test]
fn partition_feature_keeps_equal_values_together() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    ExampleGenBuilder::new(taxi(), &out)
        .with_partition_feature("trip_start_hour")
        .execute()
        .unwrap();
    let mut split_of_hour: BTreeMap<i64, &str> = BTreeMap::new();
    for split in ["train", "eval"] {
        for r in read_records(&out.join(format!("Split-{split}"))) {
            let Some(Values::Int(v)) = decode(&r).get("trip_start_hour").cloned() else {
                panic!("trip_start_hour always has a value");
            };
            let prev = split_of_hour.insert(v[0], split);
            assert!(
                prev.is_none() || prev == Some(split),
                "hour {} in two splits",
                v[0]
            );
        }
    }
    assert_eq!(split_of_hour.len(), 24);
    assert!(split_of_hour.values().any(|&s| s == "eval"));
}

#[test]
fn partition_feature_on_tfrecord_input_matches_csv_input() {
    let data = testdata();
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    // The TFRecord copy is TFX's own ExampleGen output: re-splitting it by
    // payment_type must send each example where the CSV run sends it.
    ExampleGenBuilder::new(
        data.join("csv_example_gen")
            .join("*")
            .join("*.gz")
            .to_string_lossy(),
        &a,
    )
    .with_partition_feature("payment_type")
    .execute()
    .unwrap();
    ExampleGenBuilder::new(taxi(), &b)
        .with_partition_feature("payment_type")
        .execute()
        .unwrap();
    for split in ["train", "eval"] {
        let x = multiset(read_records(&a.join(format!("Split-{split}"))));
        let y = multiset(read_records(&b.join(format!("Split-{split}"))));
        assert_eq!(x, y, "{split}");
    }
}

#[test]
fn split_from_input_keeps_tfx_splits() {
    let data = testdata();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    let s = ExampleGenBuilder::new(data.join("csv_example_gen").to_string_lossy(), &out)
        .with_split_from_input(true)
        .execute()
        .unwrap();
    let mut got: Vec<_> = s.splits.clone();
    got.sort();
    assert_eq!(
        got,
        vec![("eval".to_string(), 5091), ("train".to_string(), 9909)]
    );
    for split in ["train", "eval"] {
        assert_eq!(
            multiset(read_records(&out.join(format!("Split-{split}")))),
            multiset(read_records(
                &data.join(format!("csv_example_gen/Split-{split}"))
            ))
        );
    }
}

#[test]
fn zlib_and_uncompressed_output_hold_the_same_records() {
    let d = tempfile::tempdir().unwrap();
    let mut sets = Vec::new();
    for c in [Compression::Gzip, Compression::Zlib, Compression::None] {
        let out = d.path().join(c.to_string());
        ExampleGenBuilder::new(taxi(), &out)
            .with_compression(c)
            .execute()
            .unwrap();
        let names = tree(&out);
        let expect = format!("Split-train/data_tfrecord-00000-of-00001{}", c.suffix());
        assert!(names.contains(&expect), "{names:?}");
        sets.push(multiset(read_records(&out.join("Split-train"))));
    }
    assert_eq!(sets[0], sets[1]);
    assert_eq!(sets[0], sets[2]);
}

#[test]
fn parquet_output_holds_the_same_rows_per_split() {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("pq");
    let s = ExampleGenBuilder::new(taxi(), &out)
        .with_output_format(OutputFormat::Parquet)
        .execute()
        .unwrap();
    assert_eq!(
        s.splits,
        vec![("train".to_string(), 9909), ("eval".to_string(), 5091)]
    );
    for (split, n) in [("train", 9909), ("eval", 5091)] {
        let f = std::fs::File::open(out.join(format!("Split-{split}/data-00000-of-00001.parquet")))
            .unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, n);
    }
    // Re-ingesting the Parquet splits reproduces TFX's examples exactly.
    let again = d.path().join("again");
    ExampleGenBuilder::new(out.to_string_lossy(), &again)
        .with_split_from_input(true)
        .execute()
        .unwrap();
    for split in ["train", "eval"] {
        assert_eq!(
            multiset(read_records(&again.join(format!("Split-{split}")))),
            multiset(read_records(
                &testdata().join(format!("csv_example_gen/Split-{split}"))
            ))
        );
    }
}

/// The sample the README runs is what `weir sample --rows 5000 --seed 42`
/// writes: regenerating it gives the same bytes.
#[test]
fn bundled_sample_is_reproducible() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/samples/taxi.csv");
    let mut regenerated = Vec::new();
    weir_datasets::synth::write_taxi_csv(&mut regenerated, 5000, 42).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        regenerated,
        "{} is stale",
        path.display()
    );
}

/// TFX's hand-written schema for the taxi data declares the types TFX infers,
/// so ExampleGen parsing by it reproduces TFX's examples exactly.
#[test]
fn user_provided_schema_reproduces_tfx_examples() {
    let data = testdata();
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    ExampleGenBuilder::new(taxi(), &out)
        .with_schema(data.join("taxi/user_provided_schema/schema.pbtxt"))
        .execute()
        .unwrap();
    for split in ["train", "eval"] {
        assert_eq!(
            multiset(read_records(&out.join(format!("Split-{split}")))),
            multiset(read_records(
                &data.join(format!("csv_example_gen/Split-{split}"))
            ))
        );
    }
}
