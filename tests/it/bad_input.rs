//! Bad inputs: each gives a clear error naming the file and the row or byte
//! offset, and nothing is committed (no output folder, no manifest).

use std::io::Write;
use std::path::Path;

use weir_datasets::synth::int_examples_tfrecord;
use weir_engine::ExampleGenBuilder;

use crate::util::{examplegen, tree, write};

/// Runs ExampleGen expecting failure; checks nothing is left behind and
/// returns the error text.
fn fails(input: &Path, builder: impl FnOnce(ExampleGenBuilder) -> ExampleGenBuilder) -> String {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("out");
    let err = builder(ExampleGenBuilder::new(input.to_string_lossy(), &target))
        .execute()
        .expect_err("bad input must fail");
    assert!(
        !target.exists(),
        "output committed despite error: {:?}",
        tree(out.path())
    );
    assert!(
        tree(out.path()).is_empty(),
        "leftovers after error: {:?}",
        tree(out.path())
    );
    err.to_string()
}

fn assert_mentions(err: &str, parts: &[&str]) {
    for p in parts {
        assert!(err.contains(p), "error {err:?} does not mention {p:?}");
    }
}

#[test]
fn csv_row_with_wrong_number_of_fields() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b,c\n1,2,3\n4,5\n");
    let err = fails(&f, |b| b);
    assert_mentions(
        &err,
        &["in.csv", "row 2", "line 3", "expected 3 fields", "found 2"],
    );
}

#[test]
fn csv_value_not_of_the_declared_type() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b\n1,x\n2,y\nthree,z\n");
    let schema = write(
        d.path(),
        "schema.pbtxt",
        "feature { name: \"a\" type: INT }\nfeature { name: \"b\" type: BYTES }\n",
    );
    let err = fails(&f, |b| b.with_schema(schema));
    assert_mentions(
        &err,
        &["in.csv", "row 3", "line 4", "column 'a'", "'three'", "INT"],
    );
}

#[test]
fn schema_that_is_not_text_format() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a\n1\n");
    let schema = write(
        d.path(),
        "schema.pbtxt",
        "feature { name: \"a\" type: INT \n",
    );
    let err = fails(&f, |b| b.with_schema(schema));
    assert_mentions(&err, &["schema.pbtxt", "unterminated"]);
}

#[test]
fn tfrecord_with_corrupt_data_crc() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = int_examples_tfrecord(3);
    let frame = bytes.len() / 3;
    bytes[frame + 14] ^= 0xff; // inside record 1's data
    let f = write(d.path(), "x.tfrecord", &bytes);
    let err = fails(&f, |b| b);
    assert_mentions(
        &err,
        &[
            "x.tfrecord",
            &format!("byte offset {frame}"),
            "data CRC mismatch",
        ],
    );
}

#[test]
fn tfrecord_with_corrupt_length_crc() {
    let d = tempfile::tempdir().unwrap();
    let mut bytes = int_examples_tfrecord(2);
    let frame = bytes.len() / 2;
    bytes[frame + 9] ^= 0x01;
    let f = write(d.path(), "x.tfrecord", &bytes);
    let err = fails(&f, |b| b);
    assert_mentions(
        &err,
        &[
            "x.tfrecord",
            &format!("byte offset {frame}"),
            "length CRC mismatch",
        ],
    );
}

#[test]
fn truncated_tfrecord() {
    let d = tempfile::tempdir().unwrap();
    let bytes = int_examples_tfrecord(3);
    let frame = bytes.len() / 3;
    let f = write(d.path(), "x.tfrecord", &bytes[..bytes.len() - 5]);
    let err = fails(&f, |b| b);
    assert_mentions(
        &err,
        &[
            "x.tfrecord",
            &format!("byte offset {}", 2 * frame),
            "truncated record",
        ],
    );
}

#[test]
fn corrupt_gzip_stream() {
    let d = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&int_examples_tfrecord(200)).unwrap();
    let mut bytes = gz.finish().unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0x5a;
    }
    let f = write(d.path(), "x.tfrecord.gz", &bytes);
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["x.tfrecord.gz", "byte offset"]);
    assert!(
        err.contains("corrupt gzip stream") || err.contains("CRC mismatch"),
        "error {err:?} names neither the gzip stream nor a CRC"
    );
}

#[test]
fn avro_with_bad_header() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "x.avro", b"Obj\x02not really avro at all");
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["x.avro", "byte offset", "bad Avro header"]);
}

#[test]
fn missing_input_path() {
    let d = tempfile::tempdir().unwrap();
    let err = fails(&d.path().join("nope.csv"), |b| b);
    assert_mentions(&err, &["nope.csv", "No such file"]);
}

#[test]
fn glob_matching_nothing() {
    let d = tempfile::tempdir().unwrap();
    let err = fails(&d.path().join("*.csv"), |b| b);
    assert_mentions(&err, &["no input files match", "*.csv"]);
}

#[test]
fn unreadable_input_file() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a\n1\n");
    let dir_as_file = d.path().join("in.csv");
    std::fs::set_permissions(
        &dir_as_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    if std::fs::File::open(&f).is_ok() {
        // Running as root: permissions do not stop reads, so use a FIFO-free
        // stand-in that cannot be read: a dangling symlink.
        std::fs::remove_file(&f).unwrap();
        std::os::unix::fs::symlink(d.path().join("gone"), &f).unwrap();
    }
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["in.csv"]);
}

#[test]
fn jsonl_with_invalid_line() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "x.jsonl", "{\"a\": 1}\n\n{\"a\": 2\n{\"a\": 3}\n");
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["x.jsonl", "row 2", "line 3", "invalid JSON"]);
}

#[test]
fn unknown_format() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "x.bin", "a\n1\n");
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["x.bin", "--format"]);
}

#[test]
fn partition_feature_of_float_type() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b\n1,1.5\n2,2.5\n");
    let err = fails(&f, |b| b.with_partition_feature("b"));
    assert_mentions(&err, &["partition feature 'b'", "only int64 and bytes"]);
}

#[test]
fn partition_feature_that_does_not_exist() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b\n1,1.5\n");
    let err = fails(&f, |b| b.with_partition_feature("zz"));
    assert_mentions(&err, &["partition feature 'zz'", "not a column"]);
}

#[test]
fn partition_feature_with_missing_value() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b\n1,x\n,y\n");
    let err = fails(&f, |b| b.with_partition_feature("a"));
    assert_mentions(
        &err,
        &["in.csv", "row 2", "partition feature 'a' has no value"],
    );
}

#[test]
fn header_only_csv_gives_zero_examples_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a,b,c\n");
    let out = tempfile::tempdir().unwrap();
    let s = examplegen(&f, &out.path().join("o")).unwrap();
    assert_eq!(s.total, 0);
    assert_eq!(
        s.splits,
        vec![("train".to_string(), 0), ("eval".to_string(), 0)]
    );
    assert!(out.path().join("o/manifest.json").exists());
    assert!(out
        .path()
        .join("o/Split-train/data_tfrecord-00000-of-00001.gz")
        .exists());
}

#[test]
fn empty_csv_file_without_header() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "");
    let err = fails(&f, |b| b);
    assert_mentions(&err, &["in.csv", "no header"]);
}

#[test]
fn output_that_is_not_a_weir_directory_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "in.csv", "a\n1\n");
    let target = d.path().join("precious");
    write(&target, "notes.txt", "keep me");
    let err = ExampleGenBuilder::new(f.to_string_lossy(), &target)
        .execute()
        .unwrap_err()
        .to_string();
    assert_mentions(&err, &["precious", "refusing"]);
    assert_eq!(
        std::fs::read_to_string(target.join("notes.txt")).unwrap(),
        "keep me"
    );
}

#[test]
fn parquet_files_with_different_schemas() {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    let d = tempfile::tempdir().unwrap();
    let write_pq = |name: &str, batch: RecordBatch| {
        let f = std::fs::File::create(d.path().join("in").join(name)).unwrap();
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    std::fs::create_dir_all(d.path().join("in")).unwrap();
    let a = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    let b = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, false)]));
    write_pq(
        "a.parquet",
        RecordBatch::try_new(a, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap(),
    );
    write_pq(
        "b.parquet",
        RecordBatch::try_new(b, vec![Arc::new(StringArray::from(vec!["x"]))]).unwrap(),
    );
    let err = fails(&d.path().join("in"), |b| b);
    assert_mentions(&err, &["b.parquet", "schema differs"]);
}
