//! Statistics as a table: `statistics.parquet` (one row per split × feature,
//! every figure a column, histograms and top values as list columns) and a
//! readable table on the terminal.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, ListArray, StringArray, StructArray, UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use weir_datasets::DatasetError;
use weir_tfmd::statistics::{FeatureNameStatistics, Histogram, HistogramType, Stats};

use super::SplitStatistics;
use crate::error::Result;

/// One row of the table.
#[derive(Default)]
struct Row {
    split: String,
    feature: String,
    ty: String,
    num_examples: u64,
    num_non_missing: u64,
    num_missing: u64,
    min_num_values: u64,
    max_num_values: u64,
    avg_num_values: f64,
    tot_num_values: u64,
    mean: Option<f64>,
    std_dev: Option<f64>,
    num_zeros: Option<u64>,
    min: Option<f64>,
    median: Option<f64>,
    max: Option<f64>,
    num_nan: Option<u64>,
    unique: Option<u64>,
    avg_length: Option<f64>,
    top_values: Vec<(String, f64)>,
    histogram: Vec<(f64, f64, f64)>,
    quantiles: Vec<(f64, f64, f64)>,
}

fn buckets(h: &Histogram) -> Vec<(f64, f64, f64)> {
    h.buckets
        .iter()
        .map(|b| (b.low_value, b.high_value, b.sample_count))
        .collect()
}

fn row(split: &str, num_examples: u64, f: &FeatureNameStatistics) -> Row {
    let ty = match f.r#type {
        0 => "INT",
        1 => "FLOAT",
        2 => "STRING",
        3 => "BYTES",
        _ => "STRUCT",
    };
    let mut r = Row {
        split: split.to_string(),
        feature: f.feature_name(),
        ty: ty.to_string(),
        num_examples,
        ..Default::default()
    };
    if let Some(c) = f.common() {
        r.num_non_missing = c.num_non_missing;
        r.num_missing = c.num_missing;
        r.min_num_values = c.min_num_values;
        r.max_num_values = c.max_num_values;
        r.avg_num_values = f64::from(c.avg_num_values);
        r.tot_num_values = c.tot_num_values;
    }
    match &f.stats {
        Some(Stats::NumStats(n)) => {
            let has = n
                .common_stats
                .as_ref()
                .is_some_and(|c| c.num_non_missing > 0);
            if has {
                r.mean = Some(n.mean);
                r.std_dev = Some(n.std_dev);
                r.min = Some(n.min);
                r.median = Some(n.median);
                r.max = Some(n.max);
            }
            r.num_zeros = Some(n.num_zeros);
            for h in &n.histograms {
                r.num_nan = Some(h.num_nan);
                if h.r#type == HistogramType::Quantiles as i32 {
                    r.quantiles = buckets(h);
                } else {
                    r.histogram = buckets(h);
                }
            }
        }
        Some(Stats::StringStats(s)) => {
            r.unique = Some(s.unique);
            r.avg_length = Some(f64::from(s.avg_length));
            r.top_values = s
                .top_values
                .iter()
                .map(|t| (t.value.clone(), t.frequency))
                .collect();
        }
        _ => {}
    }
    r
}

fn rows(splits: &[SplitStatistics]) -> Vec<Row> {
    splits
        .iter()
        .flat_map(|s| {
            s.stats
                .features
                .iter()
                .map(move |f| row(&s.split, s.stats.num_examples, f))
        })
        .collect()
}

fn list_of_struct(fields: Fields, columns: Vec<ArrayRef>, lengths: Vec<usize>) -> ArrayRef {
    let values = StructArray::new(fields.clone(), columns, None);
    let field = Arc::new(Field::new("item", DataType::Struct(fields), true));
    Arc::new(ListArray::new(
        field,
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None,
    ))
}

fn histogram_column(rows: &[Row], pick: impl Fn(&Row) -> &Vec<(f64, f64, f64)>) -> ArrayRef {
    let fields = Fields::from(vec![
        Field::new("low", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("count", DataType::Float64, false),
    ]);
    let all: Vec<&(f64, f64, f64)> = rows.iter().flat_map(|r| pick(r).iter()).collect();
    list_of_struct(
        fields,
        vec![
            Arc::new(Float64Array::from_iter_values(all.iter().map(|b| b.0))),
            Arc::new(Float64Array::from_iter_values(all.iter().map(|b| b.1))),
            Arc::new(Float64Array::from_iter_values(all.iter().map(|b| b.2))),
        ],
        rows.iter().map(|r| pick(r).len()).collect(),
    )
}

/// Writes `statistics.parquet`: one row per split × feature.
pub fn write_parquet(path: &Path, splits: &[SplitStatistics]) -> Result<()> {
    let rows = rows(splits);
    let u = |f: &dyn Fn(&Row) -> u64| -> ArrayRef {
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(f)))
    };
    let uo = |f: &dyn Fn(&Row) -> Option<u64>| -> ArrayRef {
        Arc::new(UInt64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let fo = |f: &dyn Fn(&Row) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(rows.iter().map(f).collect::<Vec<_>>()))
    };
    let s = |f: &dyn Fn(&Row) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let top_fields = Fields::from(vec![
        Field::new("value", DataType::Utf8, false),
        Field::new("frequency", DataType::Float64, false),
    ]);
    let tops: Vec<&(String, f64)> = rows.iter().flat_map(|r| r.top_values.iter()).collect();
    let top = list_of_struct(
        top_fields,
        vec![
            Arc::new(StringArray::from_iter_values(
                tops.iter().map(|t| t.0.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(tops.iter().map(|t| t.1))),
        ],
        rows.iter().map(|r| r.top_values.len()).collect(),
    );
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("split", s(&|r| &r.split)),
        ("feature", s(&|r| &r.feature)),
        ("type", s(&|r| &r.ty)),
        ("num_examples", u(&|r| r.num_examples)),
        ("num_non_missing", u(&|r| r.num_non_missing)),
        ("num_missing", u(&|r| r.num_missing)),
        ("min_num_values", u(&|r| r.min_num_values)),
        ("max_num_values", u(&|r| r.max_num_values)),
        ("avg_num_values", fo(&|r| Some(r.avg_num_values))),
        ("tot_num_values", u(&|r| r.tot_num_values)),
        ("mean", fo(&|r| r.mean)),
        ("std_dev", fo(&|r| r.std_dev)),
        ("num_zeros", uo(&|r| r.num_zeros)),
        ("min", fo(&|r| r.min)),
        ("median", fo(&|r| r.median)),
        ("max", fo(&|r| r.max)),
        ("num_nan", uo(&|r| r.num_nan)),
        ("unique", uo(&|r| r.unique)),
        ("avg_length", fo(&|r| r.avg_length)),
        ("top_values", top),
        ("histogram", histogram_column(&rows, |r| &r.histogram)),
        ("quantiles", histogram_column(&rows, |r| &r.quantiles)),
    ];
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(
        schema.clone(),
        columns.into_iter().map(|(_, a)| a).collect(),
    )
    .map_err(DatasetError::from)?;
    let file = std::fs::File::create(path).map_err(|e| DatasetError::io(path, e))?;
    let mut w = ArrowWriter::try_new(file, schema, None).map_err(DatasetError::from)?;
    w.write(&batch).map_err(DatasetError::from)?;
    w.close().map_err(DatasetError::from)?;
    Ok(())
}

fn num(v: Option<f64>) -> String {
    match v {
        None => String::new(),
        Some(x) if x != 0.0 && (x.abs() >= 1e7 || x.abs() < 1e-3) => format!("{x:.4e}"),
        Some(x) => format!("{x:.4}"),
    }
}

/// A readable per-feature table of every split.
pub fn print_table(
    splits: &[SplitStatistics],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    for s in splits {
        writeln!(out, "split {} ({} examples)", s.split, s.stats.num_examples)?;
        writeln!(
            out,
            "  {:<24} {:<6} {:>9} {:>9} {:>12} {:>12} {:>12} {:>12} {:>12}  top value",
            "feature", "type", "present", "missing", "mean", "std_dev", "min", "median", "max"
        )?;
        for f in &s.stats.features {
            let r = row(&s.split, s.stats.num_examples, f);
            let top = r
                .top_values
                .first()
                .map(|(v, c)| format!("{v:.24} ({c}; {} unique)", r.unique.unwrap_or(0)))
                .unwrap_or_default();
            writeln!(
                out,
                "  {:<24} {:<6} {:>9} {:>9} {:>12} {:>12} {:>12} {:>12} {:>12}  {}",
                r.feature,
                r.ty,
                r.num_non_missing,
                r.num_missing,
                num(r.mean),
                num(r.std_dev),
                num(r.min),
                num(r.median),
                num(r.max),
                top
            )?;
        }
    }
    Ok(())
}
