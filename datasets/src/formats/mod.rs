//! Input formats. Each is one module with its source type; [`Source`] opens
//! any of them behind one interface yielding Arrow record batches.

pub mod avro;
pub mod csv;
pub mod jsonl;
pub mod parquet;
mod pynum;
pub mod tfrecord;

use std::collections::HashMap;

use datafusion::arrow::array::BinaryArray;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::compression::Compression;
use crate::error::Result;
use crate::example::FeatureType;
use crate::input::{Format, InputFile};

pub use self::avro::AvroSource;
pub use self::csv::{CsvOptions, CsvSource};
pub use self::jsonl::JsonlSource;
pub use self::parquet::ParquetSource;
pub use self::tfrecord::TfRecordSource;

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

/// Options for opening any input.
#[derive(Debug, Clone)]
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
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            batch_size: 8192,
            csv_delimiter: b',',
            declared: None,
            tfrecord_compression: None,
            tfrecord_scalars: false,
        }
    }
}

/// One batch from a source.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    /// Index of the input file it came from.
    pub file: usize,
    /// The rows as Arrow columns.
    pub batch: RecordBatch,
    /// Serialized examples as read, for TFRecord inputs.
    pub serialized: Option<BinaryArray>,
    /// Bytes of the file read so far, where the format knows it.
    pub position: Option<u64>,
}

/// An opened input of any format.
#[derive(Clone)]
pub enum Source {
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
        Ok(match format {
            Format::Csv => Source::Csv(CsvSource::open(
                files,
                CsvOptions {
                    delimiter: options.csv_delimiter,
                    batch_size: bs,
                    declared: options.declared.clone(),
                },
            )?),
            Format::Parquet => Source::Parquet(ParquetSource::open(files, bs)?),
            Format::Avro => Source::Avro(AvroSource::open(files, bs)?),
            Format::Jsonl => Source::Jsonl(JsonlSource::open(files, bs)?),
            Format::Tfrecord => Source::Tfrecord(TfRecordSource::open(
                files,
                bs,
                options.tfrecord_compression,
                options.tfrecord_scalars,
            )?),
        })
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Source::Csv(s) => s.schema(),
            Source::Parquet(s) => s.schema(),
            Source::Avro(s) => s.schema(),
            Source::Jsonl(s) => s.schema(),
            Source::Tfrecord(s) => s.schema(),
        }
    }

    /// Splits the input into at most `n` sources that together read every
    /// row once, for parallel reads (Parquet by files or row groups; other
    /// formats stay one source).
    pub fn split(&self, n: usize) -> Vec<Source> {
        match self {
            Source::Parquet(p) => p.split(n).into_iter().map(Source::Parquet).collect(),
            other => vec![other.clone()],
        }
    }

    /// True when batches carry the serialized examples as read.
    pub fn is_serialized(&self) -> bool {
        matches!(self, Source::Tfrecord(_))
    }

    /// All batches in input order.
    pub fn batches(&self) -> Box<dyn Iterator<Item = Result<SourceBatch>> + Send> {
        fn plain(
            it: impl Iterator<Item = Result<(usize, RecordBatch)>> + Send + 'static,
        ) -> Box<dyn Iterator<Item = Result<SourceBatch>> + Send> {
            Box::new(it.map(|r| {
                r.map(|(file, batch)| SourceBatch {
                    file,
                    batch,
                    serialized: None,
                    position: None,
                })
            }))
        }
        match self {
            Source::Csv(s) => Box::new(s.batches().map(|r| {
                r.map(|(file, batch, position)| SourceBatch {
                    file,
                    batch,
                    serialized: None,
                    position: Some(position),
                })
            })),
            Source::Parquet(s) => plain(s.batches()),
            Source::Avro(s) => plain(s.batches()),
            Source::Jsonl(s) => plain(s.batches()),
            Source::Tfrecord(s) => Box::new(s.batches().map(|r| {
                r.map(|(file, batch, records)| SourceBatch {
                    file,
                    batch,
                    serialized: Some(records),
                    position: None,
                })
            })),
        }
    }
}
