//! Avro object container files through `arrow-avro` (the Avro reader of the
//! Arrow version DataFusion uses). Logical types arrive as Arrow types:
//! `date` as Date32, `timestamp-millis/micros` as Timestamp, `decimal` as
//! Decimal128/256; see `example::kind` for their tf.Example form.
//!
//! BigQuery writes BIGNUMERIC as `decimal` with precision 77, one digit
//! more than Arrow's Decimal256 declares although every BIGNUMERIC value
//! fits its 256 bits; the header's schema is rewritten to precision 76
//! before `arrow-avro` reads it, and values keep every digit.

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

type AvroReader = arrow_avro::reader::Reader<
    std::io::Chain<std::io::Cursor<Vec<u8>>, CountingReader<BufReader<InputReader>>>,
>;

/// Arrow's largest decimal precision (Decimal256).
const ARROW_MAX_PRECISION: u64 = 76;

/// Reads a zig-zag varint `long`, appending its bytes to `raw`.
fn read_long(r: &mut impl Read, raw: &mut Vec<u8>) -> std::io::Result<i64> {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        raw.push(b[0]);
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
        }
        shift += 7;
        if shift > 63 {
            return Err(std::io::Error::other("varint longer than 10 bytes"));
        }
    }
}

fn read_bytes(r: &mut impl Read, raw: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    let n = read_long(r, raw)?;
    let n = usize::try_from(n).map_err(|_| std::io::Error::other("negative length"))?;
    if n > 64 << 20 {
        return Err(std::io::Error::other("header entry over 64 MiB"));
    }
    let mut b = vec![0u8; n];
    r.read_exact(&mut b)?;
    raw.extend_from_slice(&b);
    Ok(b)
}

fn write_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Clamps `decimal` precisions above Arrow's maximum in an Avro schema;
/// true when something changed.
fn clamp_precision(v: &mut serde_json::Value) -> bool {
    match v {
        serde_json::Value::Object(o) => {
            let mut changed = false;
            if o.get("logicalType").and_then(|t| t.as_str()) == Some("decimal")
                && o.get("precision")
                    .and_then(|p| p.as_u64())
                    .is_some_and(|p| p > ARROW_MAX_PRECISION)
            {
                o.insert("precision".into(), ARROW_MAX_PRECISION.into());
                changed = true;
            }
            for child in o.values_mut() {
                changed |= clamp_precision(child);
            }
            changed
        }
        serde_json::Value::Array(a) => a.iter_mut().fold(false, |c, x| clamp_precision(x) | c),
        _ => false,
    }
}

/// Reads the object-container header from `r` and returns it, re-encoded
/// with [`clamp_precision`] applied to its schema when that changes it.
/// Anything unexpected is left for `arrow-avro` to report: the bytes read
/// are returned as they were.
fn header_for_arrow(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    r.take(4).read_to_end(&mut raw)?;
    if raw != b"Obj\x01" {
        return Ok(raw);
    }
    let mut entries = Vec::new();
    loop {
        let mut count = read_long(r, &mut raw)?;
        if count == 0 {
            break;
        }
        if count < 0 {
            count = -count;
            read_long(r, &mut raw)?;
        }
        for _ in 0..count {
            let k = read_bytes(r, &mut raw)?;
            let v = read_bytes(r, &mut raw)?;
            entries.push((k, v));
        }
    }
    let mut sync = [0u8; 16];
    r.read_exact(&mut sync)?;
    raw.extend_from_slice(&sync);
    let mut changed = false;
    for (_, v) in entries.iter_mut().filter(|(k, _)| k == b"avro.schema") {
        if let Ok(mut schema) = serde_json::from_slice::<serde_json::Value>(v) {
            if clamp_precision(&mut schema) {
                *v = serde_json::to_vec(&schema).map_err(std::io::Error::other)?;
                changed = true;
            }
        }
    }
    if !changed {
        return Ok(raw);
    }
    let mut out = b"Obj\x01".to_vec();
    write_long(&mut out, entries.len() as i64);
    for (k, v) in &entries {
        write_long(&mut out, k.len() as i64);
        out.extend_from_slice(k);
        write_long(&mut out, v.len() as i64);
        out.extend_from_slice(v);
    }
    write_long(&mut out, 0);
    out.extend_from_slice(&sync);
    Ok(out)
}

fn open(path: &Path, batch_size: usize) -> Result<(AvroReader, Arc<AtomicU64>)> {
    let file = crate::store::read::open(path)?;
    let consumed = Arc::new(AtomicU64::new(0));
    let mut counted = CountingReader {
        inner: BufReader::with_capacity(1 << 20, file),
        consumed: consumed.clone(),
    };
    let header = header_for_arrow(&mut counted).map_err(|e| {
        DatasetError::offset(
            path,
            consumed.load(Ordering::Relaxed),
            format!("bad Avro header: {e}"),
        )
    })?;
    let reader = std::io::Cursor::new(header).chain(counted);
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
    pub(super) files: Vec<InputFile>,
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
