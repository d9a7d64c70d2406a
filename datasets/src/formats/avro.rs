//! Avro object container files through `arrow-avro` (the Avro reader of the
//! Arrow version DataFusion uses). Logical types arrive as Arrow types:
//! `date` as Date32, `timestamp-millis/micros` as Timestamp, `decimal` as
//! Decimal128/256; see `example::kind` for their tf.Example form.

use crate::store::read::InputReader;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_avro::reader::ReaderBuilder;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::{DatasetError, Result};
use crate::input::InputFile;

/// A `BufRead` that counts the bytes its user has consumed, so errors can
/// name a byte offset.
struct CountingReader<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: BufRead> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.consumed.fetch_add(amt as u64, Ordering::Relaxed);
        self.inner.consume(amt)
    }
}

type AvroReader = arrow_avro::reader::Reader<CountingReader<BufReader<InputReader>>>;

fn open(path: &Path, batch_size: usize) -> Result<(AvroReader, Arc<AtomicU64>)> {
    let file = crate::store::read::open(path)?;
    let consumed = Arc::new(AtomicU64::new(0));
    let reader = CountingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        consumed: consumed.clone(),
    };
    let r = ReaderBuilder::new()
        .with_batch_size(batch_size)
        .build(reader)
        .map_err(|e| {
            DatasetError::offset(
                path,
                consumed.load(Ordering::Relaxed).min(4),
                format!("bad Avro header: {e}"),
            )
        })?;
    Ok((r, consumed))
}

/// A set of Avro files with one schema.
#[derive(Debug, Clone)]
pub struct AvroSource {
    files: Vec<InputFile>,
    schema: SchemaRef,
    batch_size: usize,
}

impl AvroSource {
    /// Reads every file's header; all schemas must be equal.
    pub fn open(files: Vec<InputFile>, batch_size: usize) -> Result<Self> {
        let mut schema: Option<SchemaRef> = None;
        for f in &files {
            let (r, _) = open(&f.path, batch_size)?;
            let s = r.schema();
            super::require_same_schema(&mut schema, &f.path, s)?;
        }
        let schema = schema.ok_or_else(|| DatasetError::Invalid("no Avro files".into()))?;
        Ok(Self {
            files,
            schema,
            batch_size,
        })
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Batches of every file in order, with the index of their file.
    pub fn batches(&self) -> impl Iterator<Item = Result<(usize, RecordBatch)>> + Send + 'static {
        let files = self.files.clone();
        let batch_size = self.batch_size;
        files.into_iter().enumerate().flat_map(move |(i, f)| {
            let iter: Box<dyn Iterator<Item = Result<(usize, RecordBatch)>> + Send> =
                match open(&f.path, batch_size) {
                    Err(e) => Box::new(std::iter::once(Err(e))),
                    Ok((r, consumed)) => {
                        let path = f.path.clone();
                        let mut failed = false;
                        Box::new(r.map_while(move |b| {
                            if failed {
                                return None;
                            }
                            Some(match b {
                                Ok(b) => Ok((i, b)),
                                Err(e) => {
                                    failed = true;
                                    Err(DatasetError::offset(
                                        &path,
                                        consumed.load(Ordering::Relaxed),
                                        format!("corrupt Avro data block: {e}"),
                                    ))
                                }
                            })
                        }))
                    }
                };
            iter
        })
    }
}
