//! Shard writers on their own threads, so compression (the costly part of
//! writing TFRecord.gz) runs in parallel with reading and encoding, and the
//! buffers that decide how a shard's rows reach its writer. Those depend on
//! the shard's rows alone (never on how they arrived), so a shard written
//! in-process and one written by a cluster's sink are the same bytes.

use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use super::{ParquetShardWriter, TfRecordShardWriter, WrittenFile};
use crate::error::{DatasetError, Result};
use crate::tfrecord::frame_record;
use crate::Compression;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;

/// Framed bytes buffered per shard before they go to its writer.
pub const FLUSH_BYTES: usize = 1 << 20;

/// Rows per write into a Parquet shard (page boundaries follow writes).
pub const PARQUET_CHUNK_ROWS: usize = 8192;

/// A TFRecord shard's framed records, handed on in chunks of at least
/// [`FLUSH_BYTES`].
#[derive(Default)]
pub struct FramedBuffer {
    buf: Vec<u8>,
    records: u64,
}

impl FramedBuffer {
    /// Frames `record`; gives the buffered bytes and their record count
    /// once they reach [`FLUSH_BYTES`].
    #[inline]
    pub fn push(&mut self, record: &[u8]) -> Option<(Vec<u8>, u64)> {
        frame_record(&mut self.buf, record);
        self.records += 1;
        (self.buf.len() >= FLUSH_BYTES).then(|| self.take_all())
    }

    /// What is left, if anything.
    pub fn finish(&mut self) -> Option<(Vec<u8>, u64)> {
        (!self.buf.is_empty()).then(|| self.take_all())
    }

    fn take_all(&mut self) -> (Vec<u8>, u64) {
        (
            std::mem::take(&mut self.buf),
            std::mem::take(&mut self.records),
        )
    }
}

/// A Parquet shard's rows, handed on in batches of exactly
/// [`PARQUET_CHUNK_ROWS`] (the last one shorter).
pub struct RowChunker {
    schema: SchemaRef,
    pending: Vec<RecordBatch>,
    rows: usize,
}

impl RowChunker {
    /// A chunker for rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        Self {
            schema,
            pending: Vec::new(),
            rows: 0,
        }
    }

    /// Adds rows; gives every full chunk.
    pub fn push(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        if batch.num_rows() == 0 {
            return Ok(Vec::new());
        }
        self.rows += batch.num_rows();
        self.pending.push(batch);
        let mut out = Vec::new();
        if self.rows < PARQUET_CHUNK_ROWS {
            return Ok(out);
        }
        let all = concat_batches(&self.schema, &self.pending)?;
        let mut start = 0;
        while all.num_rows() - start >= PARQUET_CHUNK_ROWS {
            out.push(all.slice(start, PARQUET_CHUNK_ROWS));
            start += PARQUET_CHUNK_ROWS;
        }
        self.rows = all.num_rows() - start;
        self.pending = if self.rows > 0 {
            vec![all.slice(start, self.rows)]
        } else {
            Vec::new()
        };
        Ok(out)
    }

    /// The rows left, if any.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let all = concat_batches(&self.schema, &self.pending)?;
        self.pending.clear();
        self.rows = 0;
        Ok(Some(all))
    }
}

/// A shard file fed record by record (TFRecord) or rows at a time
/// (Parquet) through the same buffers as in-process ExampleGen, written on
/// the caller's thread: what a cluster's sink task uses.
pub struct BufferedShardWriter {
    file: BufferedFile,
    framed: FramedBuffer,
    chunker: Option<RowChunker>,
}

enum BufferedFile {
    Tfrecord(TfRecordShardWriter),
    Parquet(Box<ParquetShardWriter>),
}

impl BufferedShardWriter {
    /// A TFRecord shard at `root/relative`.
    pub fn tfrecord(
        root: &Path,
        relative: &str,
        compression: Compression,
        level: u32,
    ) -> Result<Self> {
        Ok(Self {
            file: BufferedFile::Tfrecord(TfRecordShardWriter::create(
                root,
                relative,
                compression,
                level,
            )?),
            framed: FramedBuffer::default(),
            chunker: None,
        })
    }

    /// A Parquet shard at `root/relative` for rows of `schema`.
    pub fn parquet(root: &Path, relative: &str, schema: SchemaRef) -> Result<Self> {
        Ok(Self {
            file: BufferedFile::Parquet(Box::new(ParquetShardWriter::create(
                root,
                relative,
                schema.clone(),
            )?)),
            framed: FramedBuffer::default(),
            chunker: Some(RowChunker::new(schema)),
        })
    }

    /// True for a TFRecord shard.
    pub fn is_tfrecord(&self) -> bool {
        matches!(self.file, BufferedFile::Tfrecord(_))
    }

    /// Appends one serialized example (TFRecord shards).
    pub fn push_example(&mut self, example: &[u8]) -> Result<()> {
        let BufferedFile::Tfrecord(w) = &mut self.file else {
            return Err(DatasetError::Internal(
                "an example for a Parquet shard".into(),
            ));
        };
        if let Some((bytes, n)) = self.framed.push(example) {
            w.write_framed(&bytes, n)?;
        }
        Ok(())
    }

    /// Appends rows (Parquet shards).
    pub fn push_rows(&mut self, rows: RecordBatch) -> Result<()> {
        let (BufferedFile::Parquet(w), Some(chunker)) = (&mut self.file, self.chunker.as_mut())
        else {
            return Err(DatasetError::Internal("rows for a TFRecord shard".into()));
        };
        for chunk in chunker.push(rows)? {
            w.write(&chunk)?;
        }
        Ok(())
    }

    /// Flushes the buffers and closes the file.
    pub fn finish(mut self) -> Result<WrittenFile> {
        Ok(match self.file {
            BufferedFile::Tfrecord(mut w) => {
                if let Some((bytes, n)) = self.framed.finish() {
                    w.write_framed(&bytes, n)?;
                }
                w.finish()?
            }
            BufferedFile::Parquet(mut w) => {
                if let Some(rows) = self
                    .chunker
                    .as_mut()
                    .map(|c| c.finish())
                    .transpose()?
                    .flatten()
                {
                    w.write(&rows)?;
                }
                w.finish()?
            }
        })
    }
}

/// Work for a shard thread.
pub enum ShardInput {
    /// Framed TFRecord bytes holding this many records.
    Framed(Vec<u8>, u64),
    /// Rows for a Parquet shard.
    Rows(RecordBatch),
}

/// One shard file written by a dedicated thread.
pub struct ShardWorker {
    tx: Option<SyncSender<ShardInput>>,
    handle: Option<JoinHandle<Result<WrittenFile>>>,
}

impl ShardWorker {
    /// A TFRecord shard at `root/relative`.
    pub fn tfrecord(
        root: &Path,
        relative: String,
        compression: Compression,
        level: u32,
    ) -> Result<Self> {
        let mut writer = TfRecordShardWriter::create(root, &relative, compression, level)?;
        Ok(Self::spawn(move |rx| {
            for msg in rx {
                if let ShardInput::Framed(bytes, n) = msg {
                    writer.write_framed(&bytes, n)?;
                }
            }
            writer.finish()
        }))
    }

    /// A Parquet shard at `root/relative` for batches of `schema`.
    pub fn parquet(root: &Path, relative: String, schema: SchemaRef) -> Result<Self> {
        let mut writer = ParquetShardWriter::create(root, &relative, schema)?;
        Ok(Self::spawn(move |rx| {
            for msg in rx {
                if let ShardInput::Rows(batch) = msg {
                    writer.write(&batch)?;
                }
            }
            writer.finish()
        }))
    }

    fn spawn(
        body: impl FnOnce(std::sync::mpsc::Receiver<ShardInput>) -> Result<WrittenFile> + Send + 'static,
    ) -> Self {
        let (tx, rx) = sync_channel::<ShardInput>(4);
        let handle = std::thread::spawn(move || body(rx));
        Self {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Sends work; if the thread has stopped, returns its error.
    pub fn send(&mut self, input: ShardInput) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| DatasetError::Internal("shard already finished".into()))?;
        if tx.send(input).is_err() {
            // The worker quit early: its join result says why.
            self.tx = None;
            return match self.join() {
                Err(e) => Err(e),
                Ok(_) => Err(DatasetError::Internal("shard writer stopped early".into())),
            };
        }
        Ok(())
    }

    /// Closes the channel and waits for the file.
    pub fn join(&mut self) -> Result<WrittenFile> {
        self.tx = None;
        let handle = self
            .handle
            .take()
            .ok_or_else(|| DatasetError::Internal("shard joined twice".into()))?;
        match handle.join() {
            Ok(r) => Ok(r?),
            Err(_) => Err(DatasetError::Internal(
                "a shard writer thread panicked".into(),
            )),
        }
    }
}

impl Drop for ShardWorker {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
