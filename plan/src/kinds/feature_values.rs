//! The scan map of exact string statistics ([`FeatureValuesMap`], kind
//! [`FEATURE_VALUES`]): each input batch becomes rows of
//! `(feature, value, count)`: one per value of each string feature, or
//! per distinct value where the column is dictionary-encoded. Grouped by `(feature, value)` with DataFusion's
//! own aggregation, which hash-partitions the groups across tasks (and
//! executors) and spills them under a memory limit, these give every
//! feature's exact value counts without one process holding them all.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, AsArray, BinaryBuilder, UInt32Builder, UInt64Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use weir_datasets::formats::{Source, SourceBatch};
use weir_udfs::stats::FeatureColumn;

use crate::error::{PlanError, Result};
use crate::map::{RowMapper, ScanMap};

/// The kind name of the value-count map.
pub const FEATURE_VALUES: &str = "feature_values";

/// The feature's number (its place in [`FeatureValuesMap::features`]).
pub const FEATURE_COLUMN: &str = "feature";
/// One distinct value, as bytes.
pub const VALUE_COLUMN: &str = "value";
/// How often the value occurs in the batch.
pub const COUNT_COLUMN: &str = "n";

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(FEATURE_COLUMN, DataType::UInt32, false),
        Field::new(VALUE_COLUMN, DataType::Binary, false),
        Field::new(COUNT_COLUMN, DataType::UInt64, false),
    ]))
});

/// The string features whose values to count, each as its path of column
/// names (a top-level column, or a struct's child such as
/// `["##SEQUENCE##", "tokens"]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureValuesMap {
    /// The features, numbered by their place here.
    pub features: Vec<Vec<String>>,
}

impl ScanMap for FeatureValuesMap {
    fn kind(&self) -> &'static str {
        FEATURE_VALUES
    }

    fn config(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn schema(&self, _input: &Schema) -> SchemaRef {
        SCHEMA.clone()
    }

    fn mapper(&self, _source: &Source, _files: Vec<PathBuf>) -> Result<Box<dyn RowMapper>> {
        Ok(Box::new(FeatureValuesMapper {
            features: self.features.clone(),
        }))
    }
}

struct FeatureValuesMapper {
    features: Vec<Vec<String>>,
}

/// The column at `path` in `batch`.
fn column_at(batch: &RecordBatch, path: &[String]) -> Result<ArrayRef> {
    let missing = || {
        PlanError::Invalid(format!(
            "feature '{}' is not a column of the input",
            path.join(".")
        ))
    };
    let (first, rest) = path.split_first().ok_or_else(missing)?;
    let mut array = batch.column_by_name(first).ok_or_else(missing)?.clone();
    for name in rest {
        let child = array
            .as_struct_opt()
            .and_then(|s| s.column_by_name(name))
            .ok_or_else(missing)?
            .clone();
        array = child;
    }
    Ok(array)
}

impl RowMapper for FeatureValuesMapper {
    fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch> {
        let mut features = UInt32Builder::new();
        let mut values = BinaryBuilder::new();
        let mut counts = UInt64Builder::new();
        for (i, path) in self.features.iter().enumerate() {
            let array = column_at(&batch.batch, path)?;
            let column = FeatureColumn::new(&array).map_err(PlanError::from)?;
            // A dictionary-encoded column comes counted by key (each
            // distinct value once per batch); the other values go one row
            // each into DataFusion's partial aggregation, which hashes
            // them faster than a map here would.
            column
                .for_each_bytes_counted(|v, n| {
                    features.append_value(i as u32);
                    values.append_value(v.bytes());
                    counts.append_value(n);
                })
                .map_err(PlanError::from)?;
        }
        RecordBatch::try_new(
            SCHEMA.clone(),
            vec![
                Arc::new(features.finish()),
                Arc::new(values.finish()),
                Arc::new(counts.finish()),
            ],
        )
        .map_err(|e| PlanError::Internal(format!("feature values batch: {e}")))
    }

    fn finish(self: Box<Self>) -> Result<Option<RecordBatch>> {
        Ok(None)
    }
}
