//! TFRecord files of serialized `tf.train.Example`s or, with
//! [`PayloadFormat::SequenceExample`], `tf.train.SequenceExample`s: records
//! are kept as they are (ExampleGen passes them through, like TFX's
//! ImportExampleGen) and also decoded into Arrow columns for statistics,
//! transforms and Parquet output (see [`crate::example::FeatureSchema`]).
//! With `scalars`, a feature that holds at most one value in every record
//! decodes as a plain column of its type (what a transform query reads).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, BinaryArray, BinaryBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;

use crate::compression::Compression;
use crate::error::{DatasetError, Result};
use crate::example::{list_to_scalar, ExampleDecoder, FeatureSchema, PayloadFormat};
use crate::input::InputFile;
use crate::tfrecord::TfRecordReader;

/// How TFRecord files are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct TfRecordOptions {
    /// Records per batch.
    pub batch_size: usize,
    /// Compression; `None` means from the name, else sniffed.
    pub compression: Option<Compression>,
    /// Decode features with at most one value in every record as scalar
    /// columns (a SequenceExample's sequence features stay lists of lists).
    pub scalars: bool,
    /// The message each record holds.
    pub payload: PayloadFormat,
}

/// A set of TFRecord files of tf.Examples or tf.SequenceExamples.
#[derive(Clone)]
pub struct TfRecordSource {
    pub(super) files: Vec<InputFile>,
    decoder: Arc<ExampleDecoder>,
    batch_size: usize,
    compression: Option<Compression>,
    /// Columns decoded as scalars (indices into the list schema).
    scalars: Arc<Vec<usize>>,
    schema: SchemaRef,
}

impl TfRecordSource {
    /// Scans every record (checking CRCs and that each is the payload's
    /// message) to learn the feature names and kinds.
    pub fn open(files: Vec<InputFile>, options: TfRecordOptions) -> Result<Self> {
        let TfRecordOptions {
            batch_size,
            compression,
            scalars,
            payload,
        } = options;
        let mut schema = FeatureSchema::new(payload);
        let mut buf = Vec::new();
        for f in &files {
            let mut reader = TfRecordReader::open(&f.path, compression)?;
            loop {
                let offset = reader.offset();
                if !reader.read_record(&mut buf)? {
                    break;
                }
                schema
                    .observe_record(&buf)
                    .map_err(|m| DatasetError::offset(&f.path, offset, m))?;
            }
        }
        let decoder = ExampleDecoder::new(schema.clone());
        let lists = decoder.schema();
        let mut scalar_columns = Vec::new();
        let mut fields: Vec<Field> = Vec::with_capacity(lists.fields().len());
        for (i, f) in lists.fields().iter().enumerate() {
            match f.data_type() {
                DataType::List(item) if scalars && schema.is_single_valued(f.name()) => {
                    scalar_columns.push(i);
                    fields.push(Field::new(f.name(), item.data_type().clone(), true));
                }
                _ => fields.push(f.as_ref().clone()),
            }
        }
        Ok(Self {
            files,
            decoder: Arc::new(decoder),
            batch_size: batch_size.max(1),
            compression,
            scalars: Arc::new(scalar_columns),
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// Arrow schema of the decoded batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Replaces the single-valued list columns of `batch` by scalars.
    fn scalarize(
        &self,
        batch: RecordBatch,
        path: &std::path::Path,
        offsets: &[u64],
    ) -> Result<RecordBatch> {
        if self.scalars.is_empty() {
            return Ok(batch);
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for &c in self.scalars.iter() {
            let Some(list) = columns[c].as_list_opt::<i32>() else {
                continue;
            };
            columns[c] = list_to_scalar(list).map_err(|row| {
                DatasetError::offset(
                    path,
                    offsets.get(row).copied().unwrap_or(0),
                    format!(
                        "feature '{}' has {} values here but at most one elsewhere when the input was opened",
                        self.schema.field(c).name(),
                        list.value_length(row)
                    ),
                )
            })?;
        }
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| DatasetError::file(path, e.to_string()))
    }

    /// Batches of every file in order: file index, decoded batch, records.
    pub fn batches(
        &self,
    ) -> impl Iterator<Item = Result<(usize, RecordBatch, BinaryArray)>> + Send + 'static {
        let this = self.clone();
        let mut file = 0usize;
        let mut reader: Option<TfRecordReader<'static>> = None;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let r = this.next_batch(&mut file, &mut reader);
            match r {
                Ok(Some(b)) => Some(Ok(b)),
                Ok(None) => None,
                Err(e) => {
                    done = true;
                    Some(Err(e))
                }
            }
        })
    }

    fn next_batch(
        &self,
        file: &mut usize,
        reader: &mut Option<TfRecordReader<'static>>,
    ) -> Result<Option<(usize, RecordBatch, BinaryArray)>> {
        loop {
            if *file >= self.files.len() {
                return Ok(None);
            }
            let path = &self.files[*file].path;
            if reader.is_none() {
                *reader = Some(TfRecordReader::open(path, self.compression)?);
            }
            let r = reader.as_mut().expect("reader is open");
            let mut records = BinaryBuilder::new();
            let mut offsets = Vec::new();
            let mut buf = Vec::new();
            let mut n = 0;
            while n < self.batch_size {
                let offset = r.offset();
                if !r.read_record(&mut buf)? {
                    break;
                }
                offsets.push(offset);
                records.append_value(&buf);
                n += 1;
            }
            let this_file = *file;
            if n < self.batch_size {
                *reader = None;
                *file += 1;
            }
            if n == 0 {
                continue;
            }
            let records = records.finish();
            let batch = self
                .decoder
                .decode(records.iter().map(|v| v.unwrap_or_default()))
                .map_err(|(i, m)| {
                    DatasetError::offset(path, offsets.get(i).copied().unwrap_or(0), m)
                })?;
            let batch = self.scalarize(batch, path, &offsets)?;
            return Ok(Some((this_file, batch, records)));
        }
    }
}
