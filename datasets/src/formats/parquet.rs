//! Parquet input through the `parquet` crate DataFusion re-exports.

use crate::store::read::InputReader;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{DatasetError, Result};
use crate::input::InputFile;

/// A set of Parquet files with one schema, read as units of row groups.
#[derive(Debug, Clone)]
pub struct ParquetSource {
    files: Vec<InputFile>,
    schema: SchemaRef,
    batch_size: usize,
    /// `(file index, row groups)` read in order; `None`: the whole file.
    units: Vec<(usize, Option<Vec<usize>>)>,
    /// Row groups of each file.
    row_groups: Vec<usize>,
}

fn builder(f: &InputFile) -> Result<ParquetRecordBatchReaderBuilder<InputReader>> {
    let file = crate::store::read::open(&f.path)?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| DatasetError::file(&f.path, format!("not a readable Parquet file: {e}")))
}

impl ParquetSource {
    /// Reads every file's footer; all schemas must be equal.
    pub fn open(files: Vec<InputFile>, batch_size: usize) -> Result<Self> {
        let mut schema: Option<SchemaRef> = None;
        let mut row_groups = Vec::with_capacity(files.len());
        for f in &files {
            let b = builder(f)?;
            row_groups.push(b.metadata().num_row_groups());
            let s = b.schema().clone();
            super::require_same_schema(&mut schema, &f.path, s)?;
        }
        let schema = schema.ok_or_else(|| DatasetError::Invalid("no Parquet files".into()))?;
        Ok(Self {
            units: (0..files.len()).map(|i| (i, None)).collect(),
            files,
            schema,
            batch_size,
            row_groups,
        })
    }

    /// Splits the input into at most `n` sources over disjoint row groups
    /// (whole files where there are enough of them), for parallel reads.
    /// Batch file indices keep referring to this source's file list.
    pub fn split(&self, n: usize) -> Vec<ParquetSource> {
        let units: Vec<(usize, Option<Vec<usize>>)> = if self.files.len() >= n {
            (0..self.files.len()).map(|i| (i, None)).collect()
        } else {
            self.row_groups
                .iter()
                .enumerate()
                .flat_map(|(f, &rg)| (0..rg).map(move |g| (f, Some(vec![g]))))
                .collect()
        };
        let n = n.clamp(1, units.len().max(1));
        (0..n)
            .map(|p| ParquetSource {
                units: units.iter().skip(p).step_by(n).cloned().collect(),
                ..self.clone()
            })
            .filter(|s| !s.units.is_empty() || n == 1)
            .collect()
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Batches of every unit in order, with the index of their file and the
    /// index in that file of their first row.
    pub fn batches(
        &self,
    ) -> impl Iterator<Item = Result<(usize, u64, RecordBatch)>> + Send + 'static {
        let files = self.files.clone();
        let batch_size = self.batch_size;
        self.units.clone().into_iter().flat_map(move |(i, groups)| {
            let f = files[i].clone();
            let reader = builder(&f).and_then(|b| {
                // Rows of the row groups before the unit's first one.
                let first_row: u64 = match groups.as_ref().and_then(|g| g.first()) {
                    Some(&g) => b.metadata().row_groups()[..g]
                        .iter()
                        .map(|m| m.num_rows().max(0) as u64)
                        .sum(),
                    None => 0,
                };
                let b = match groups {
                    Some(g) => b.with_row_groups(g),
                    None => b,
                };
                b.with_batch_size(batch_size)
                    .build()
                    .map(|r| (first_row, r))
                    .map_err(|e| DatasetError::file(&f.path, e.to_string()))
            });
            let iter: Box<dyn Iterator<Item = Result<(usize, u64, RecordBatch)>> + Send> =
                match reader {
                    Err(e) => Box::new(std::iter::once(Err(e))),
                    Ok((first_row, r)) => {
                        let path = f.path.clone();
                        let mut next = first_row;
                        Box::new(r.map(move |b| {
                            b.map(|b| {
                                let row = next;
                                next += b.num_rows() as u64;
                                (i, row, b)
                            })
                            .map_err(|e| DatasetError::file(&path, format!("decoding failed: {e}")))
                        }))
                    }
                };
            iter
        })
    }
}
