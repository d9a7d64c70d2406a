//! ExampleGen's cluster plan (map scan → shuffle on shard → sorted shard
//! sink → driver commit), run in-process, writes the same bytes as the
//! threaded splitter, for every kind of input and output.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use weir_datasets::formats::{ReadOptions, Source};
use weir_datasets::input::resolve_input;
use weir_datasets::{Format, SplitConfig};
use weir_engine::{ExampleGenBuilder, OutputFormat};
use weir_tests::testdata;

use crate::util::tree;

/// A single Parquet file of 20k taxi-like rows in row groups of 3000, so
/// the input splits by row groups and parts start inside the file.
fn parquet_with_row_groups(dir: &Path) -> PathBuf {
    let csv = dir.join("taxi.csv");
    weir_datasets::synth::write_taxi_csv(
        &mut std::io::BufWriter::new(std::fs::File::create(&csv).unwrap()),
        20_000,
        11,
    )
    .unwrap();
    let source = Source::open(
        resolve_input(&csv.to_string_lossy()).unwrap(),
        Format::Csv,
        &ReadOptions::default(),
    )
    .unwrap();
    let out = dir.join("pq");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join("taxi.parquet");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(3000))
        .build();
    let mut w = ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        Arc::new(source.schema().as_ref().clone()),
        Some(props),
    )
    .unwrap();
    for b in source.batches() {
        w.write(&b.unwrap().batch).unwrap();
    }
    w.close().unwrap();
    path
}

fn assert_same_files(a: &Path, b: &Path, case: &str) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta, tb, "{case}: different files");
    for p in ta.iter().filter(|p| a.join(p).is_file()) {
        assert!(
            std::fs::read(a.join(p)).unwrap() == std::fs::read(b.join(p)).unwrap(),
            "{case}: {p} differs"
        );
    }
}

#[test]
fn the_cluster_plan_in_process_writes_the_bytes_of_the_threaded_splitter() {
    let d = tempfile::tempdir().unwrap();
    let taxi = testdata().join("taxi/examplegen_input");
    let tfx_splits = testdata().join("csv_example_gen");
    let parquet = parquet_with_row_groups(d.path());
    // One CSV file of ~18 MB: three chunks (`CHUNK_BYTES`), read by three
    // parts of the plan, each starting at a record the inference pass noted.
    let large_csv = crate::cluster::csv_input(d.path(), 130_000, 1);
    let spec = weir_datasets::formats::SourceSpec::new(
        resolve_input(&large_csv.to_string_lossy()).unwrap(),
        Format::Csv,
        ReadOptions::default(),
    );
    let parts = weir_plan::scan::SourceTable::open(spec).unwrap().parts();
    assert!(parts >= 2, "one large CSV file reads as {parts} part(s)");
    type Setup = fn(ExampleGenBuilder) -> ExampleGenBuilder;
    let cases: Vec<(&str, PathBuf, Setup)> = vec![
        ("csv-tfrecord", taxi.clone(), |b| b.with_shards(3)),
        ("csv-parquet", taxi.clone(), |b| {
            b.with_shards(2).with_output_format(OutputFormat::Parquet)
        }),
        ("csv-partition-feature", taxi.clone(), |b| {
            b.with_partition_feature("payment_type")
                .with_splits("train=3,eval=1,test=1".parse::<SplitConfig>().unwrap())
        }),
        ("parquet-row-groups", parquet.clone(), |b| b.with_shards(4)),
        ("csv-one-file-in-chunks", large_csv.clone(), |b| {
            b.with_shards(3)
        }),
        ("tfrecord-split-from-input", tfx_splits.clone(), |b| {
            b.with_split_from_input(true).with_shards(2)
        }),
    ];
    for (case, input, setup) in cases {
        let threaded = d.path().join(format!("{case}-threaded"));
        let dataflow = d.path().join(format!("{case}-dataflow"));
        setup(ExampleGenBuilder::new(input.to_string_lossy(), &threaded))
            .execute()
            .unwrap_or_else(|e| panic!("{case} threaded: {e}"));
        setup(ExampleGenBuilder::new(input.to_string_lossy(), &dataflow))
            .with_dataflow(true)
            .execute()
            .unwrap_or_else(|e| panic!("{case} dataflow: {e}"));
        assert_same_files(&threaded, &dataflow, case);
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("weir-"))
            .collect();
        assert!(leftovers.is_empty(), "{case}: left behind {leftovers:?}");
    }
}
