//! Parquet input through the `parquet` crate DataFusion re-exports.
//!
//! String columns decode as plain `Utf8`/`Binary` arrays by default. A
//! reader that looks at each distinct value once (statistics) asks for
//! [`StringDecoding::AsStored`]: a column whose every chunk in every file
//! is dictionary-encoded (what Parquet writers do to low-cardinality
//! strings) then decodes to a `Dictionary` array holding the file's own
//! dictionary, each distinct string decoded once per row group, and any
//! other string column to a view array, whose values point into the
//! decoded pages instead of being copied.
//!
//! A reader that needs only some columns ([`ParquetSource::with_columns`])
//! decodes only those: the others' pages are neither decompressed nor
//! decoded.

use crate::store::read::InputReader;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::basic::{Encoding, PageType};
use datafusion::parquet::file::metadata::{ColumnChunkMetaData, ParquetMetaData};

use crate::error::{DatasetError, Result};
use crate::input::InputFile;

/// How Parquet string and binary columns are decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StringDecoding {
    /// `Utf8` / `Binary` arrays, what every consumer reads (the default).
    #[default]
    Plain,
    /// Dictionary arrays for columns dictionary-encoded throughout, view
    /// arrays for the others (see the module docs).
    AsStored,
}

/// True when every data page of `chunk` is dictionary-encoded.
fn all_dictionary_encoded(chunk: &ColumnChunkMetaData) -> bool {
    let is_dict = |e: Encoding| matches!(e, Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY);
    chunk.dictionary_page_offset().is_some()
        && match (
            chunk.page_encoding_stats_mask(),
            chunk.page_encoding_stats(),
        ) {
            (Some(mask), _) => {
                mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
            }
            (None, Some(stats)) => stats
                .iter()
                .filter(|s| matches!(s.page_type, PageType::DATA_PAGE | PageType::DATA_PAGE_V2))
                .all(|s| is_dict(s.encoding)),
            (None, None) => false,
        }
}

/// Top-level string and binary columns of `schema` that are
/// dictionary-encoded in every row group of `meta`, by field index.
fn dictionary_columns(schema: &Schema, meta: &ParquetMetaData) -> Vec<bool> {
    let leaves = meta.file_metadata().schema_descr();
    schema
        .fields()
        .iter()
        .map(|f| {
            let Some(leaf) = (0..leaves.num_columns()).find(|&i| {
                let path = leaves.column(i).path().parts().to_vec();
                path.len() == 1 && path[0] == *f.name()
            }) else {
                return false;
            };
            meta.row_groups()
                .iter()
                .all(|rg| all_dictionary_encoded(rg.column(leaf)))
        })
        .collect()
}

/// `schema` with its string columns retyped as `decoding` and the files'
/// encodings (`dictionary[i]`: column i is dictionary-encoded everywhere).
fn read_schema(schema: &SchemaRef, decoding: StringDecoding, dictionary: &[bool]) -> SchemaRef {
    if decoding == StringDecoding::Plain {
        return schema.clone();
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(dictionary)
        .map(|(f, &dict)| {
            let view = match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => DataType::Utf8View,
                DataType::Binary | DataType::LargeBinary => DataType::BinaryView,
                _ => return f.as_ref().clone(),
            };
            let t = if dict {
                let value = match view {
                    DataType::Utf8View => DataType::Utf8,
                    _ => DataType::Binary,
                };
                DataType::Dictionary(Box::new(DataType::Int32), Box::new(value))
            } else {
                view
            };
            f.as_ref().clone().with_data_type(t)
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// A set of Parquet files with one schema, read as units of row groups.
#[derive(Debug, Clone)]
pub struct ParquetSource {
    files: Vec<InputFile>,
    /// The files' schema, as the batches have it.
    schema: SchemaRef,
    /// Whether the reader is asked for `schema` (string decoding other
    /// than the files' own).
    retyped: bool,
    batch_size: usize,
    /// `(file index, row groups)` read in order; `None`: the whole file.
    units: Vec<(usize, Option<Vec<usize>>)>,
    /// Row groups of each file.
    row_groups: Vec<usize>,
    /// The top-level columns read (indices into `schema`), in order;
    /// `None`: all of them.
    projection: Option<Vec<usize>>,
}

/// Runs `read` on the Parquet file at `path`, turning a panic of the
/// Parquet reader into an error that names the file. The parquet crate
/// still panics on some corrupt files (unknown physical types, bit widths
/// over 64, offsets out of bounds: found by `tests/fuzz`); a bad input must
/// be an error, never a crash.
pub fn guard_parquet<T>(path: &std::path::Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(r) => r,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            Err(DatasetError::file(
                path,
                format!("corrupt Parquet data: the reader failed ({why})"),
            ))
        }
    }
}

/// A reader of `f` whose batches have `schema` (default: the file's).
fn builder(
    f: &InputFile,
    schema: Option<SchemaRef>,
) -> Result<ParquetRecordBatchReaderBuilder<InputReader>> {
    let file = crate::store::read::open(&f.path)?;
    let options = match schema {
        Some(schema) => ArrowReaderOptions::new().with_schema(schema),
        None => ArrowReaderOptions::new(),
    };
    ParquetRecordBatchReaderBuilder::try_new_with_options(file, options)
        .map_err(|e| DatasetError::file(&f.path, format!("not a readable Parquet file: {e}")))
}

impl ParquetSource {
    /// Reads every file's footer; all schemas must be equal. String
    /// columns decode as `strings` says.
    pub fn open(files: Vec<InputFile>, batch_size: usize, strings: StringDecoding) -> Result<Self> {
        let mut schema: Option<SchemaRef> = None;
        let mut row_groups = Vec::with_capacity(files.len());
        let mut dictionary: Option<Vec<bool>> = None;
        for f in &files {
            let (groups, s, here) = guard_parquet(&f.path, || {
                let b = builder(f, None)?;
                let s = b.schema().clone();
                let here = dictionary_columns(&s, b.metadata());
                Ok((b.metadata().num_row_groups(), s, here))
            })?;
            row_groups.push(groups);
            super::require_same_schema(&mut schema, &f.path, s.clone())?;
            if strings == StringDecoding::AsStored {
                dictionary = Some(match dictionary {
                    None => here,
                    Some(d) => d.iter().zip(here).map(|(a, b)| *a && b).collect(),
                });
            }
        }
        let schema = schema.ok_or_else(|| DatasetError::Invalid("no Parquet files".into()))?;
        let read = read_schema(&schema, strings, &dictionary.unwrap_or_default());
        Ok(Self {
            units: (0..files.len()).map(|i| (i, None)).collect(),
            files,
            retyped: read != schema,
            schema: read,
            batch_size,
            row_groups,
            projection: None,
        })
    }

    /// This source reading only the top-level columns named in `names`
    /// (unknown names are ignored), in the schema's order.
    pub fn with_columns(&self, names: &[String]) -> ParquetSource {
        let keep = (0..self.schema.fields().len())
            .filter(|&i| names.contains(self.schema.field(i).name()))
            .collect();
        ParquetSource {
            projection: Some(keep),
            ..self.clone()
        }
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
        match &self.projection {
            Some(keep) => Arc::new(
                self.schema
                    .project(keep)
                    .expect("projection indices come from the schema"),
            ),
            None => self.schema.clone(),
        }
    }

    /// Batches of every unit in order, with the index of their file and the
    /// index in that file of their first row.
    pub fn batches(
        &self,
    ) -> impl Iterator<Item = Result<(usize, u64, RecordBatch)>> + Send + 'static {
        let files = self.files.clone();
        let batch_size = self.batch_size;
        let schema = self.retyped.then(|| self.schema.clone());
        let projection = self.projection.clone();
        self.units.clone().into_iter().flat_map(move |(i, groups)| {
            let f = files[i].clone();
            let reader = guard_parquet(&f.path, || builder(&f, schema.clone())).and_then(|b| {
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
                let b = match &projection {
                    Some(keep) => {
                        let mask = ProjectionMask::roots(b.parquet_schema(), keep.iter().copied());
                        b.with_projection(mask)
                    }
                    None => b,
                };
                guard_parquet(&f.path, || {
                    b.with_batch_size(batch_size)
                        .build()
                        .map(|r| (first_row, r))
                        .map_err(|e| DatasetError::file(&f.path, e.to_string()))
                })
            });
            let iter: Box<dyn Iterator<Item = Result<(usize, u64, RecordBatch)>> + Send> =
                match reader {
                    Err(e) => Box::new(std::iter::once(Err(e))),
                    Ok((first_row, mut r)) => {
                        let path = f.path.clone();
                        let mut next = first_row;
                        let mut failed = false;
                        Box::new(std::iter::from_fn(move || {
                            if failed {
                                return None;
                            }
                            let item = guard_parquet(&path, || {
                                r.next().transpose().map_err(|e| {
                                    DatasetError::file(&path, format!("decoding failed: {e}"))
                                })
                            });
                            match item {
                                Ok(None) => None,
                                Ok(Some(b)) => {
                                    let row = next;
                                    next += b.num_rows() as u64;
                                    Some(Ok((i, row, b)))
                                }
                                Err(e) => {
                                    failed = true;
                                    Some(Err(e))
                                }
                            }
                        }))
                    }
                };
            iter
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
    use datafusion::parquet::arrow::ArrowWriter;

    #[test]
    fn a_source_with_columns_decodes_only_those_in_schema_order() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.parquet");
        let n = 1000;
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
        let b: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("b{}", i % 7)),
        ));
        let c: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..n).map(|i| format!("c{i}")),
        ));
        let batch = RecordBatch::try_from_iter(vec![("a", a), ("b", b), ("c", c)]).unwrap();
        // Row groups of 300 rows, so the source splits into parts.
        let props = datafusion::parquet::file::properties::WriterProperties::builder()
            .set_max_row_group_row_count(Some(300))
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        let file = InputFile {
            path,
            size,
            etag: None,
        };
        for strings in [StringDecoding::Plain, StringDecoding::AsStored] {
            let all = ParquetSource::open(vec![file.clone()], 300, strings).unwrap();
            let some = all.with_columns(&["c".to_string(), "b".to_string(), "zz".to_string()]);
            let names: Vec<_> = some
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["b", "c"], "schema order, unknown names ignored");
            let mut rows = 0u64;
            for part in some.split(2) {
                assert_eq!(part.schema(), some.schema(), "parts keep the projection");
                for r in part.batches() {
                    let (_, row, got) = r.unwrap();
                    assert_eq!(got.schema(), some.schema());
                    let c =
                        datafusion::arrow::compute::cast(got.column(1), &DataType::Utf8).unwrap();
                    let c = c.as_string::<i32>();
                    for k in 0..got.num_rows() {
                        assert_eq!(c.value(k), format!("c{}", row as usize + k));
                    }
                    rows += got.num_rows() as u64;
                }
            }
            assert_eq!(rows, n as u64, "{strings:?}");
        }
    }
}
