//! BigQuery exports as `EXPORT DATA` and extract jobs write them: sharded
//! Avro with every logical type BigQuery uses, Parquet with DECIMAL in
//! FIXED_LEN_BYTE_ARRAY and micros timestamps, newline-delimited JSON with
//! INT64 as strings, and CSV; each decoded to the documented features.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Decimal256Array, Int64Array, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{i256, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use weir_datasets::formats::DecimalMode;
use weir_engine::ExampleGenBuilder;
use weir_tests::{avro, decode, read_records, Values};

use crate::util::write;

type Row = BTreeMap<String, Values>;

/// Runs `examplegen` (whose output is `out`) and returns every example of
/// both splits, keyed by the int feature `id`.
fn generate(examplegen: ExampleGenBuilder, out: &Path) -> BTreeMap<i64, Row> {
    examplegen.execute().unwrap();
    let mut v = read_records(&out.join("Split-train"));
    v.extend(read_records(&out.join("Split-eval")));
    v.iter()
        .map(|r| decode(r))
        .map(|r| match &r["id"] {
            Values::Int(k) => (k[0], r),
            other => panic!("id is {other:?}"),
        })
        .collect()
}

fn text(s: &str) -> Values {
    Values::Bytes(vec![s.as_bytes().to_vec()])
}

fn float(v: f64) -> Values {
    Values::Float(vec![v as f32])
}

const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Root","fields":[
    {"name":"id","type":"long"},
    {"name":"day","type":["null",{"type":"int","logicalType":"date"}]},
    {"name":"ts","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
    {"name":"clock","type":["null",{"type":"long","logicalType":"time-micros"}]},
    {"name":"dt","type":["null",{"type":"string","logicalType":"datetime"}]},
    {"name":"price","type":["null",{"type":"bytes","logicalType":"decimal","precision":38,"scale":9}]},
    {"name":"big","type":["null",{"type":"bytes","logicalType":"decimal","precision":77,"scale":38}]},
    {"name":"geo","type":["null",{"type":"string","sqlType":"GEOGRAPHY"}]},
    {"name":"doc","type":["null",{"type":"string","sqlType":"JSON"}]},
    {"name":"ok","type":["null","boolean"]},
    {"name":"x","type":["null","double"]},
    {"name":"raw","type":["null","bytes"]},
    {"name":"tags","type":{"type":"array","items":"string"}}
]}"#;

/// One row of [`AVRO_SCHEMA`]; `full` fills every NULLABLE column.
fn avro_row(id: i64, full: bool) -> Vec<u8> {
    let mut r = Vec::new();
    avro::long(&mut r, id);
    let present = |r: &mut Vec<u8>| avro::long(r, if full { 1 } else { 0 });
    present(&mut r);
    if full {
        avro::long(&mut r, 19_723); // 2024-01-01
    }
    present(&mut r);
    if full {
        avro::long(&mut r, 1_704_067_200_123_456);
    }
    present(&mut r);
    if full {
        avro::long(&mut r, 45_296_000_001); // 12:34:56.000001
    }
    present(&mut r);
    if full {
        avro::bytes(&mut r, b"2024-01-01T12:34:56.000001");
    }
    present(&mut r);
    if full {
        avro::decimal_text(&mut r, "-1234567.891234567", 9);
    }
    present(&mut r);
    if full {
        avro::decimal_text(
            &mut r,
            "98765432109876543210.12345678901234567890123456789012345678",
            38,
        );
    }
    present(&mut r);
    if full {
        avro::bytes(&mut r, b"POINT(1 2)");
    }
    present(&mut r);
    if full {
        avro::bytes(&mut r, br#"{"a":[1,2]}"#);
    }
    present(&mut r);
    if full {
        r.push(1);
    }
    present(&mut r);
    if full {
        r.extend_from_slice(&2.5f64.to_le_bytes());
    }
    present(&mut r);
    if full {
        avro::bytes(&mut r, &[0xff, 0x00]);
    }
    if full {
        avro::long(&mut r, 2);
        avro::bytes(&mut r, b"a");
        avro::bytes(&mut r, b"b");
    }
    avro::long(&mut r, 0);
    r
}

/// Three shards named as BigQuery names them, among files the glob must
/// not pick up; every logical type decodes to its documented feature.
#[test]
fn bigquery_avro_export_with_every_logical_type() {
    let d = tempfile::tempdir().unwrap();
    for shard in 0..3i64 {
        let rows: Vec<Vec<u8>> = (0..4)
            .map(|i| avro_row(shard * 4 + i, i % 2 == 0))
            .collect();
        write(
            d.path(),
            &format!("export/rides-{shard:012}.avro"),
            avro::file(AVRO_SCHEMA, &rows),
        );
    }
    // Not part of the export: another table's shard and a marker.
    write(
        d.path(),
        "export/other-000000000000.avro",
        avro::file(AVRO_SCHEMA, &[avro_row(99, true)]),
    );
    write(d.path(), "export/_SUCCESS", "");
    let glob = d.path().join("export/rides-*.avro");

    let out = d.path().join("out");
    let rows = generate(ExampleGenBuilder::new(glob.to_string_lossy(), &out), &out);
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    let full = &rows[&4];
    assert_eq!(full["day"], Values::Int(vec![19_723]));
    assert_eq!(full["ts"], Values::Int(vec![1_704_067_200_123_456]));
    assert_eq!(full["clock"], Values::Int(vec![45_296_000_001]));
    assert_eq!(full["dt"], text("2024-01-01T12:34:56.000001"));
    assert_eq!(full["price"], float(-1_234_567.891_234_567));
    assert_eq!(full["big"], float(98_765_432_109_876_543_210.0));
    assert_eq!(full["geo"], text("POINT(1 2)"));
    assert_eq!(full["doc"], text(r#"{"a":[1,2]}"#));
    assert_eq!(full["ok"], Values::Int(vec![1]));
    assert_eq!(full["x"], float(2.5));
    assert_eq!(full["raw"], Values::Bytes(vec![vec![0xff, 0x00]]));
    assert_eq!(
        full["tags"],
        Values::Bytes(vec![b"a".to_vec(), b"b".to_vec()])
    );
    let empty = &rows[&5];
    for name in [
        "day", "ts", "clock", "dt", "price", "big", "geo", "doc", "ok", "x", "raw", "tags",
    ] {
        assert_eq!(empty[name], Values::Missing, "{name}");
    }

    // --decimals string keeps every digit.
    let exact = d.path().join("exact");
    let rows = generate(
        ExampleGenBuilder::new(glob.to_string_lossy(), &exact).with_decimals(DecimalMode::String),
        &exact,
    );
    assert_eq!(rows[&0]["price"], text("-1234567.891234567"));
    assert_eq!(
        rows[&0]["big"],
        text("98765432109876543210.12345678901234567890123456789012345678")
    );
    assert_eq!(rows[&1]["big"], Values::Missing);
    let m = weir_datasets::sink::manifest::ExampleGenManifest::read(&exact).unwrap();
    let kind = |n: &str| m.schema.iter().find(|f| f.name == n).unwrap().kind.clone();
    assert_eq!(kind("price"), "BYTES");
    assert_eq!(kind("day"), "INT");
}

/// Parquet as BigQuery exports it: NUMERIC as DECIMAL(38,9) and BIGNUMERIC
/// as DECIMAL(76,38), both FIXED_LEN_BYTE_ARRAY; TIMESTAMP as micros
/// adjusted to UTC, DATETIME as micros not adjusted, DATE, TIME micros.
#[test]
fn bigquery_parquet_export_with_flba_decimals() {
    use datafusion::parquet::basic::Type as PhysicalType;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let d = tempfile::tempdir().unwrap();
    let big =
        i256::from_string("98765432109876543210123456789012345678901234567890123456").unwrap();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![0, 1])),
        Arc::new(
            Decimal128Array::from(vec![Some(-1_234_567_891_234_567), None])
                .with_precision_and_scale(38, 9)
                .unwrap(),
        ),
        Arc::new(
            Decimal256Array::from(vec![Some(big), None])
                .with_precision_and_scale(76, 38)
                .unwrap(),
        ),
        Arc::new(
            TimestampMicrosecondArray::from(vec![Some(1_704_067_200_123_456), None])
                .with_timezone("UTC"),
        ),
        Arc::new(TimestampMicrosecondArray::from(vec![
            Some(1_704_067_200_000_001),
            None,
        ])),
        Arc::new(Date32Array::from(vec![Some(19_723), None])),
        Arc::new(Time64MicrosecondArray::from(vec![
            Some(45_296_000_001),
            None,
        ])),
        Arc::new(BooleanArray::from(vec![Some(false), None])),
        Arc::new(StringArray::from(vec![Some("POINT(1 2)"), None])),
    ];
    let fields: Vec<Field> = [
        "id", "price", "big", "ts", "dt", "day", "clock", "ok", "geo",
    ]
    .iter()
    .zip(&cols)
    .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
    .collect();
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
    let path = d.path().join("export/part-000000000000.parquet");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        schema,
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // The fixture has the physical layout BigQuery writes.
    let meta = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let physical: Vec<PhysicalType> = meta
        .metadata()
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .map(|c| c.physical_type())
        .collect();
    assert_eq!(physical[1], PhysicalType::FIXED_LEN_BYTE_ARRAY);
    assert_eq!(physical[2], PhysicalType::FIXED_LEN_BYTE_ARRAY);

    let input = d.path().join("export");
    let out = d.path().join("out");
    let rows = generate(ExampleGenBuilder::new(input.to_string_lossy(), &out), &out);
    let one = &rows[&0];
    assert_eq!(one["price"], float(-1_234_567.891_234_567));
    assert_eq!(one["big"], float(987_654_321_098_765_432.101_234_567_89));
    assert_eq!(one["ts"], Values::Int(vec![1_704_067_200_123_456]));
    assert_eq!(one["dt"], Values::Int(vec![1_704_067_200_000_001]));
    assert_eq!(one["day"], Values::Int(vec![19_723]));
    assert_eq!(one["clock"], Values::Int(vec![45_296_000_001]));
    assert_eq!(one["ok"], Values::Int(vec![0]));
    assert_eq!(one["geo"], text("POINT(1 2)"));
    for name in ["price", "big", "ts", "dt", "day", "clock", "ok", "geo"] {
        assert_eq!(rows[&1][name], Values::Missing, "{name}");
    }

    let exact = d.path().join("exact");
    let rows = generate(
        ExampleGenBuilder::new(input.to_string_lossy(), &exact).with_decimals(DecimalMode::String),
        &exact,
    );
    assert_eq!(rows[&0]["price"], text("-1234567.891234567"));
    assert_eq!(
        rows[&0]["big"],
        text("987654321098765432.10123456789012345678901234567890123456")
    );
}

/// Newline-delimited JSON exports write INT64 as strings; with the table's
/// BigQuery schema (`bq show --schema`) they become int64 features again.
#[test]
fn bigquery_json_export_int64_strings_follow_the_table_schema() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "export/t-000000000000.json",
        concat!(
            r#"{"id":"9007199254740993","fare":"12.5","name":"a","ok":true,"tags":["1","2"]}"#,
            "\n",
            r#"{"id":"-4","fare":3,"name":null,"ok":false,"tags":[]}"#,
            "\n",
        ),
    );
    write(
        d.path(),
        "export/t-000000000001.json",
        concat!(
            r#"{"id":"7","fare":null,"name":"c","ok":null,"tags":["3"]}"#,
            "\n"
        ),
    );
    let schema = write(
        d.path(),
        "schema.json",
        r#"[{"name":"id","type":"INTEGER","mode":"REQUIRED"},
            {"name":"fare","type":"FLOAT"},
            {"name":"name","type":"STRING"},
            {"name":"ok","type":"BOOLEAN"},
            {"name":"tags","type":"INTEGER","mode":"REPEATED"}]"#,
    );
    let input = d.path().join("export/t-*.json");
    // Without a schema the strings stay text.
    let plain = d.path().join("plain");
    ExampleGenBuilder::new(input.to_string_lossy(), &plain)
        .execute()
        .unwrap();
    let m = weir_datasets::sink::manifest::ExampleGenManifest::read(&plain).unwrap();
    let id = m.schema.iter().find(|f| f.name == "id").unwrap();
    assert_eq!(id.kind, "BYTES");

    let out = d.path().join("out");
    let rows = generate(
        ExampleGenBuilder::new(input.to_string_lossy(), &out).with_schema(schema),
        &out,
    );
    assert_eq!(
        rows.keys().copied().collect::<Vec<_>>(),
        vec![-4, 7, 9_007_199_254_740_993]
    );
    let big = &rows[&9_007_199_254_740_993];
    assert_eq!(big["fare"], float(12.5));
    assert_eq!(big["name"], text("a"));
    assert_eq!(big["ok"], Values::Int(vec![1]));
    assert_eq!(big["tags"], Values::Int(vec![1, 2]));
    assert_eq!(rows[&-4]["fare"], float(3.0));
    assert_eq!(rows[&-4]["tags"], Values::Missing);
    assert_eq!(rows[&7]["fare"], Values::Missing);

    // A value that is not an INT64 names its file and row.
    write(
        d.path(),
        "export/t-000000000002.json",
        concat!(
            r#"{"id":"x1","fare":1,"name":"d","ok":true,"tags":[]}"#,
            "\n"
        ),
    );
    let err = ExampleGenBuilder::new(input.to_string_lossy(), d.path().join("bad"))
        .with_schema(d.path().join("schema.json"))
        .execute()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t-000000000002.json") && err.contains("row 1"),
        "{err}"
    );
}

/// CSV exports: a header, TIMESTAMP as text (`2024-01-01 00:00:00 UTC`),
/// NUMERIC as plain decimals; the table schema makes INT64 columns int64
/// features even when every value would also parse as a float.
#[test]
fn bigquery_csv_export_reads_with_the_table_schema() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "export/t-000000000000.csv",
        "id,ts,price,name\n1,2024-01-01 00:00:00 UTC,12.50,a\n2,2024-01-02 03:04:05.123456 UTC,,\n",
    );
    let schema = write(
        d.path(),
        "schema.json",
        r#"{"fields":[{"name":"id","type":"INT64"},{"name":"ts","type":"TIMESTAMP"},
            {"name":"price","type":"NUMERIC"},{"name":"name","type":"STRING"}]}"#,
    );
    let out = d.path().join("out");
    let rows = generate(
        ExampleGenBuilder::new(d.path().join("export").to_string_lossy(), &out).with_schema(schema),
        &out,
    );
    assert_eq!(rows[&1]["ts"], text("2024-01-01 00:00:00 UTC"));
    assert_eq!(rows[&1]["price"], float(12.5));
    assert_eq!(rows[&1]["name"], text("a"));
    assert_eq!(rows[&2]["price"], Values::Missing);
    assert_eq!(rows[&2]["name"], Values::Missing);
}

#[test]
fn bigquery_float_column_from_int_json_values_is_float() {
    // A FLOAT column whose values happen to be whole numbers.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "t.json", "{\"id\":\"1\",\"v\":2}\n");
    let schema = write(
        d.path(),
        "s.json",
        r#"[{"name":"id","type":"INTEGER"},{"name":"v","type":"FLOAT"}]"#,
    );
    let out = d.path().join("out");
    let rows = generate(
        ExampleGenBuilder::new(d.path().join("t.json").to_string_lossy(), &out).with_schema(schema),
        &out,
    );
    assert_eq!(rows[&1]["v"], Values::Float(vec![2.0]));
}
