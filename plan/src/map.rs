//! Row maps that run inside a weir scan: a [`ScanMap`] turns each batch a
//! part of the input yields into other rows (ExampleGen routes rows to
//! shards this way, `kinds::example_map`), and may add rows at the end of
//! the part (count markers). A map travels in plans as a [`MapSpec`] (its
//! kind and its config as JSON) and is resolved by name where the plan is
//! decoded (`execution::codec`, against the list in `kinds`).

use std::fmt;
use std::path::PathBuf;

use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use weir_datasets::formats::{Source, SourceBatch};

use crate::error::Result;

/// A map of a scan's rows, with its settings.
pub trait ScanMap: fmt::Debug + Send + Sync {
    /// The kind's name (how plans name it).
    fn kind(&self) -> &'static str;
    /// Its settings as JSON (how plans carry them).
    fn config(&self) -> serde_json::Value;
    /// The rows it makes from an input of schema `input`.
    fn schema(&self, input: &Schema) -> SchemaRef;
    /// A mapper for one part of `source` (the whole input, which names the
    /// `files`).
    fn mapper(&self, source: &Source, files: Vec<PathBuf>) -> Result<Box<dyn RowMapper>>;
    /// The top-level input columns its mapper reads, when not all: a scan
    /// may then leave the others unread ([`Source::with_columns`]), and
    /// the mapper's batches hold only these. `None` (the default): all.
    fn columns(&self) -> Option<Vec<String>> {
        None
    }
}

/// Maps the batches of one part of the input, on the part's reading thread.
pub trait RowMapper: Send {
    /// The rows of one input batch.
    fn map(&mut self, batch: &SourceBatch) -> Result<RecordBatch>;
    /// Rows that close the part (after its last batch), if any.
    fn finish(self: Box<Self>) -> Result<Option<RecordBatch>>;
}

/// A [`ScanMap`] as plans carry it: its kind and its settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MapSpec {
    /// The kind's name.
    pub kind: String,
    /// Its settings.
    pub config: serde_json::Value,
}

impl MapSpec {
    /// The spec of `map`.
    pub fn of(map: &dyn ScanMap) -> Self {
        Self {
            kind: map.kind().to_string(),
            config: map.config(),
        }
    }
}
