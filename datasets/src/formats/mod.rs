//! Input formats. Each is one module with its source type; [`Source`] opens
//! any of them behind one interface yielding Arrow record batches.

pub mod avro;
mod crc_tap;
pub mod csv;
mod csv_batches;
mod csv_held;
mod csv_infer;
mod csv_tokens;
pub mod jsonl;
pub mod line_guard;
pub mod parquet;
mod pynum;
mod spec;
pub mod tfrecord;

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::BinaryArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use crate::compression::Compression;
use crate::error::Result;
use crate::example::{FeatureType, PayloadFormat};
use crate::input::{Format, InputFile};

pub use self::avro::AvroSource;
pub use self::csv::{CsvOptions, CsvSource};
pub use self::csv_batches::CsvBatches;
pub use self::jsonl::JsonlSource;
pub use self::parquet::{ParquetSource, StringDecoding};
pub use self::spec::SourceSpec;
pub use self::tfrecord::{TfRecordOptions, TfRecordSource};

/// Keeps the first file's schema in `first` and errors, naming `path`, when
/// a later file's schema differs.
pub(crate) fn require_same_schema(
    first: &mut Option<SchemaRef>,
    path: &std::path::Path,
    schema: SchemaRef,
) -> Result<()> {
    match first {
        None => *first = Some(schema),
        Some(f) if f.fields() != schema.fields() => {
            return Err(crate::error::DatasetError::file(
                path,
                format!("schema differs from the first file's: {schema} vs {f}"),
            ))
        }
        _ => {}
    }
    Ok(())
}

/// Options for opening any input (serializable, so a cluster task can
/// reopen the same input).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadOptions {
    /// Rows per record batch.
    pub batch_size: usize,
    /// CSV field delimiter.
    pub csv_delimiter: u8,
    /// Types declared by a user schema, by feature name.
    pub declared: Option<HashMap<String, FeatureType>>,
    /// TFRecord compression; `None` means from the name, else sniffed.
    pub tfrecord_compression: Option<Compression>,
    /// Decode tf.Example features that hold at most one value in every
    /// record as scalar columns instead of lists.
    pub tfrecord_scalars: bool,
    /// How decimal columns (BigQuery NUMERIC / BIGNUMERIC) are read.
    pub decimals: DecimalMode,
    /// How Parquet string and binary columns are decoded.
    #[serde(default)]
    pub parquet_strings: StringDecoding,
    /// The message TFRecord records hold.
    #[serde(default)]
    pub tfrecord_payload: PayloadFormat,
    /// Bytes of batches CSV type inference may build and keep for the
    /// input's first read in this process, so the file is not tokenized
    /// twice (`0`: none). Never sent with a spec: a cluster's executors
    /// read their own parts.
    #[serde(skip)]
    pub csv_hold_bytes: u64,
}

/// How decimal columns (Avro `decimal`, Parquet DECIMAL: BigQuery's NUMERIC
/// and BIGNUMERIC) become features. There is a real choice: `float_list`
/// is what a model consumes but keeps only f32's ~7 significant digits;
/// the exact decimal text keeps every digit as a `bytes_list`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecimalMode {
    /// `float_list`, rounded to the nearest f32 (the default).
    #[default]
    Float,
    /// `bytes_list` holding the exact decimal text (`"123.45"`).
    String,
}

impl std::str::FromStr for DecimalMode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "float" => Ok(DecimalMode::Float),
            "string" => Ok(DecimalMode::String),
            other => Err(format!("unknown decimal mode '{other}' (float or string)")),
        }
    }
}

impl DecimalMode {
    /// The type a column of type `dt` is read as.
    fn read_type(self, dt: &DataType) -> Option<DataType> {
        if self == DecimalMode::Float {
            return None;
        }
        match dt {
            DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => Some(DataType::Utf8),
            DataType::List(f) => self
                .read_type(f.data_type())
                .map(|t| DataType::List(Arc::new(f.as_ref().clone().with_data_type(t)))),
            DataType::LargeList(f) => self
                .read_type(f.data_type())
                .map(|t| DataType::LargeList(Arc::new(f.as_ref().clone().with_data_type(t)))),
            _ => None,
        }
    }

    /// `schema` with the columns this mode changes retyped.
    fn read_schema(self, schema: &SchemaRef) -> SchemaRef {
        if !schema
            .fields()
            .iter()
            .any(|f| self.read_type(f.data_type()).is_some())
        {
            return schema.clone();
        }
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| match self.read_type(f.data_type()) {
                Some(t) => f.as_ref().clone().with_data_type(t),
                None => f.as_ref().clone(),
            })
            .collect();
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }

    /// `batch` with the columns this mode changes cast (decimal to text is
    /// exact).
    fn apply(self, schema: &SchemaRef, batch: RecordBatch) -> Result<RecordBatch> {
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| {
                if c.data_type() == f.data_type() {
                    Ok(c.clone())
                } else {
                    datafusion::arrow::compute::cast(c, f.data_type())
                }
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            csv_delimiter: b',',
            declared: None,
            tfrecord_compression: None,
            tfrecord_scalars: false,
            decimals: DecimalMode::Float,
            parquet_strings: StringDecoding::Plain,
            tfrecord_payload: PayloadFormat::Example,
            csv_hold_bytes: 0,
        }
    }
}

/// One batch from a source.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    /// Index of the input file it came from.
    pub file: usize,
    /// Index in that file of the batch's first row (0-based), so a row's
    /// place in the input is `(file, row + i)` however the input is split.
    pub row: u64,
    /// The rows as Arrow columns.
    pub batch: RecordBatch,
    /// Serialized examples as read, for TFRecord inputs.
    pub serialized: Option<BinaryArray>,
    /// Bytes of the file read so far, where the format knows it.
    pub position: Option<u64>,
}

/// An opened input of any format.
#[derive(Clone)]
pub struct Source {
    kind: SourceKind,
    decimals: DecimalMode,
    schema: SchemaRef,
    /// For a part of a split input: the index in the whole input of each
    /// of the part's files, so batches name files as the whole input does.
    file_ids: Option<Arc<[usize]>>,
}

/// The format-specific reader of a [`Source`].
#[derive(Clone)]
enum SourceKind {
    /// CSV files.
    Csv(CsvSource),
    /// Parquet files.
    Parquet(ParquetSource),
    /// Avro files.
    Avro(AvroSource),
    /// JSON-lines files.
    Jsonl(JsonlSource),
    /// TFRecord files of tf.Example.
    Tfrecord(TfRecordSource),
}

impl Source {
    /// Opens `files` of `format` (schema inference happens here).
    pub fn open(files: Vec<InputFile>, format: Format, options: &ReadOptions) -> Result<Self> {
        let bs = options.batch_size.max(1);
        let kind = match format {
            Format::Csv => SourceKind::Csv(CsvSource::open(
                files,
                CsvOptions {
                    delimiter: options.csv_delimiter,
                    batch_size: bs,
                    declared: options.declared.clone(),
                    hold_bytes: options.csv_hold_bytes,
                    ..Default::default()
                },
            )?),
            Format::Parquet => {
                SourceKind::Parquet(ParquetSource::open(files, bs, options.parquet_strings)?)
            }
            Format::Avro => SourceKind::Avro(AvroSource::open(files, bs)?),
            Format::Jsonl => {
                SourceKind::Jsonl(JsonlSource::open(files, bs, options.declared.as_ref())?)
            }
            Format::Tfrecord => SourceKind::Tfrecord(TfRecordSource::open(
                files,
                TfRecordOptions {
                    batch_size: bs,
                    compression: options.tfrecord_compression,
                    scalars: options.tfrecord_scalars,
                    payload: options.tfrecord_payload,
                },
            )?),
        };
        Ok(Self::of_kind(kind, options.decimals))
    }

    fn of_kind(kind: SourceKind, decimals: DecimalMode) -> Self {
        Self {
            schema: decimals.read_schema(&kind.schema()),
            kind,
            decimals,
            file_ids: None,
        }
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The CRC32C of the bytes of this source's file `file`, where opening
    /// the source read them all (CSV type inference), else `None`: a
    /// caller fingerprinting the input need not read that file again.
    pub fn read_crc32c(&self, file: usize) -> Option<u32> {
        match &self.kind {
            SourceKind::Csv(s) => s.read_crc32c().get(file).copied().flatten(),
            _ => None,
        }
    }

    /// Splits the input into at most `n` sources that together read every
    /// row once, for parallel reads: Parquet by files or row groups, the
    /// other formats by files (file `i` to part `i mod n`). The split
    /// depends on the input and `n` only.
    pub fn split(&self, n: usize) -> Vec<Source> {
        let parts: Vec<(SourceKind, Option<Arc<[usize]>>)> = match &self.kind {
            // Parquet parts keep the whole file list (units of row groups).
            SourceKind::Parquet(p) => p
                .split(n)
                .into_iter()
                .map(|p| (SourceKind::Parquet(p), None))
                .collect(),
            SourceKind::Csv(s) => s
                .split(n)
                .into_iter()
                .map(|(p, ids)| (SourceKind::Csv(p), ids))
                .collect(),
            SourceKind::Avro(s) => split_by_files(s, n, SourceKind::Avro),
            SourceKind::Jsonl(s) => split_by_files(s, n, SourceKind::Jsonl),
            SourceKind::Tfrecord(s) => split_by_files(s, n, SourceKind::Tfrecord),
        };
        parts
            .into_iter()
            .map(|(kind, ids)| Source {
                kind,
                decimals: self.decimals,
                schema: self.schema.clone(),
                // A part of a part maps through its parent's indices.
                file_ids: match (&self.file_ids, ids) {
                    (Some(parent), Some(ids)) => Some(ids.iter().map(|&i| parent[i]).collect()),
                    (parent, ids) => ids.or_else(|| parent.clone()),
                },
            })
            .collect()
    }

    /// This source reading only the top-level columns named in `names`
    /// where its format can leave the others out: Parquet leaves their
    /// pages undecoded, CSV their values unparsed; batches and
    /// [`Source::schema`] then hold only those, in the schema's order. The
    /// other formats decode whole records anyway and keep every column.
    pub fn with_columns(&self, names: &[String]) -> Source {
        let kind = match &self.kind {
            SourceKind::Parquet(p) => SourceKind::Parquet(p.with_columns(names)),
            SourceKind::Csv(c) => SourceKind::Csv(c.with_columns(names)),
            _ => return self.clone(),
        };
        Source {
            schema: self.decimals.read_schema(&kind.schema()),
            kind,
            decimals: self.decimals,
            file_ids: self.file_ids.clone(),
        }
    }

    /// True when batches carry the serialized examples as read.
    pub fn is_serialized(&self) -> bool {
        matches!(self.kind, SourceKind::Tfrecord(_))
    }

    /// All batches in input order.
    pub fn batches(&self) -> Box<dyn Iterator<Item = Result<SourceBatch>> + Send> {
        /// Numbers the rows of readers that read whole files in order.
        fn numbered(
            it: impl Iterator<Item = Result<(usize, RecordBatch, Option<u64>, Option<BinaryArray>)>>
                + Send
                + 'static,
        ) -> Box<dyn Iterator<Item = Result<SourceBatch>> + Send> {
            let mut at: Option<(usize, u64)> = None;
            Box::new(it.map(move |r| {
                r.map(|(file, batch, position, serialized)| {
                    let row = match at {
                        Some((f, next)) if f == file => next,
                        _ => 0,
                    };
                    at = Some((file, row + batch.num_rows() as u64));
                    SourceBatch {
                        file,
                        row,
                        batch,
                        serialized,
                        position,
                    }
                })
            }))
        }
        let batches: Box<dyn Iterator<Item = Result<SourceBatch>> + Send> = match &self.kind {
            SourceKind::Csv(s) => Box::new(s.batches().map(|r| {
                r.map(|(file, row, batch, position)| SourceBatch {
                    file,
                    row,
                    batch,
                    serialized: None,
                    position: Some(position),
                })
            })),
            SourceKind::Parquet(s) => Box::new(s.batches().map(|r| {
                r.map(|(file, row, batch)| SourceBatch {
                    file,
                    row,
                    batch,
                    serialized: None,
                    position: None,
                })
            })),
            SourceKind::Avro(s) => numbered(
                s.batches()
                    .map(|r| r.map(|(file, batch)| (file, batch, None, None))),
            ),
            SourceKind::Jsonl(s) => numbered(
                s.batches()
                    .map(|r| r.map(|(file, batch)| (file, batch, None, None))),
            ),
            SourceKind::Tfrecord(s) => numbered(
                s.batches()
                    .map(|r| r.map(|(file, batch, records)| (file, batch, None, Some(records)))),
            ),
        };
        let batches: Box<dyn Iterator<Item = Result<SourceBatch>> + Send> = match &self.file_ids {
            Some(ids) => {
                let ids = ids.clone();
                Box::new(batches.map(move |r| {
                    r.map(|mut b| {
                        b.file = ids[b.file];
                        b
                    })
                }))
            }
            None => batches,
        };
        if self.schema.fields() == self.kind.schema().fields() {
            return batches;
        }
        let (mode, schema) = (self.decimals, self.schema.clone());
        Box::new(batches.map(move |r| {
            r.and_then(|mut b| {
                b.batch = mode.apply(&schema, b.batch)?;
                Ok(b)
            })
        }))
    }
}

/// A source that reads a list of whole files, and so splits by files.
pub(super) trait FileListSource: Clone {
    /// The input files.
    fn files(&self) -> &[InputFile];
    /// The input files, to replace them in a part.
    fn files_mut(&mut self) -> &mut Vec<InputFile>;
}

macro_rules! file_list_sources {
    ($($source:ty),*) => {$(
        impl FileListSource for $source {
            fn files(&self) -> &[InputFile] {
                &self.files
            }
            fn files_mut(&mut self) -> &mut Vec<InputFile> {
                &mut self.files
            }
        }
    )*};
}

file_list_sources!(
    csv::CsvSource,
    avro::AvroSource,
    jsonl::JsonlSource,
    tfrecord::TfRecordSource
);

/// `source` in `n` parts by files (part `p`: files p, p+n, p+2n…, the
/// schema unchanged), each with its files' indices in the whole input.
pub(super) fn split_by_files<S: FileListSource, K>(
    source: &S,
    n: usize,
    kind: fn(S) -> K,
) -> Vec<(K, Option<Arc<[usize]>>)> {
    let files = source.files();
    let n = n.clamp(1, files.len().max(1));
    (0..n)
        .map(|p| {
            let ids: Vec<usize> = (p..files.len()).step_by(n).collect();
            let mut part = source.clone();
            *part.files_mut() = ids.iter().map(|&i| files[i].clone()).collect();
            (kind(part), Some(ids.into()))
        })
        .collect()
}

impl SourceKind {
    /// Arrow schema of the format reader's batches.
    fn schema(&self) -> SchemaRef {
        match self {
            SourceKind::Csv(s) => s.schema(),
            SourceKind::Parquet(s) => s.schema(),
            SourceKind::Avro(s) => s.schema(),
            SourceKind::Jsonl(s) => s.schema(),
            SourceKind::Tfrecord(s) => s.schema(),
        }
    }
}
