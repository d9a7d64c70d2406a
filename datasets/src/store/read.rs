//! Reading inputs that may be local files or objects: [`InputReader`] is a
//! `Read + Seek` (and Parquet `ChunkReader`) over either. An object is read
//! with ranged GETs of [`CHUNK`] bytes, the next chunk fetched while the
//! current one is consumed, so memory stays at two chunks whatever the
//! object's size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use bytes::Bytes;
use datafusion::parquet::file::reader::{ChunkReader, Length};
use object_store::ObjectStoreExt;

use super::{block_on, is_url_path, parse, store_error, ObjectUrl};
use crate::error::{DatasetError, Result};

/// Bytes per ranged GET.
pub const CHUNK: u64 = 8 << 20;

/// A local file or an object, opened for reading.
pub enum InputReader {
    /// A local file.
    Local(File),
    /// An object read by ranges.
    Remote(RemoteReader),
}

/// Opens `path`, a local path or an `s3://` / `gs://` URL.
pub fn open(path: &Path) -> Result<InputReader> {
    if is_url_path(path) {
        let url = path.to_string_lossy().into_owned();
        let obj = parse(&url)?;
        let size = object_size(&obj)?;
        Ok(InputReader::Remote(RemoteReader::new(obj, size, 0)))
    } else {
        File::open(path)
            .map(InputReader::Local)
            .map_err(|e| DatasetError::io(path, e))
    }
}

/// The size of an object (one HEAD request).
pub fn object_size(obj: &ObjectUrl) -> Result<u64> {
    let (store, key, url) = (obj.store.clone(), obj.key.clone(), obj.url());
    block_on(async move { store.head(&key).await })
        .map(|m| m.size)
        .map_err(|e| store_error(&url, e))
}

type Pending = tokio::task::JoinHandle<object_store::Result<Bytes>>;

/// Sequential reads of an object by ranged GETs, one chunk ahead.
pub struct RemoteReader {
    obj: ObjectUrl,
    size: u64,
    pos: u64,
    buf: Bytes,
    buf_start: u64,
    next: Option<(u64, Pending)>,
}

impl RemoteReader {
    fn new(obj: ObjectUrl, size: u64, pos: u64) -> Self {
        Self {
            obj,
            size,
            pos,
            buf: Bytes::new(),
            buf_start: 0,
            next: None,
        }
    }

    fn spawn(&self, start: u64) -> Pending {
        let (store, key) = (self.obj.store.clone(), self.obj.key.clone());
        let end = (start + CHUNK).min(self.size);
        super::runtime().spawn(async move { store.get_range(&key, start..end).await })
    }

    fn fill(&mut self) -> std::io::Result<()> {
        let start = self.pos;
        let pending = match self.next.take() {
            Some((s, p)) if s == start => p,
            Some((_, p)) => {
                p.abort();
                self.spawn(start)
            }
            None => self.spawn(start),
        };
        let got = futures::executor::block_on(pending)
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::other(store_error(&self.obj.url(), e)))?;
        self.buf = got;
        self.buf_start = start;
        let after = start + self.buf.len() as u64;
        if after < self.size {
            self.next = Some((after, self.spawn(after)));
        }
        Ok(())
    }
}

impl Read for RemoteReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || out.is_empty() {
            return Ok(0);
        }
        let in_buf =
            self.pos >= self.buf_start && self.pos < self.buf_start + self.buf.len() as u64;
        if !in_buf {
            self.fill()?;
        }
        let at = (self.pos - self.buf_start) as usize;
        let n = out.len().min(self.buf.len() - at);
        out[..n].copy_from_slice(&self.buf[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RemoteReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.size as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if target < 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the object",
            ));
        }
        self.pos = target as u64;
        Ok(self.pos)
    }
}

impl Drop for RemoteReader {
    fn drop(&mut self) {
        if let Some((_, p)) = self.next.take() {
            p.abort();
        }
    }
}

impl Read for InputReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        match self {
            InputReader::Local(f) => f.read(out),
            InputReader::Remote(r) => r.read(out),
        }
    }
}

impl Seek for InputReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        match self {
            InputReader::Local(f) => f.seek(to),
            InputReader::Remote(r) => r.seek(to),
        }
    }
}

impl Length for InputReader {
    fn len(&self) -> u64 {
        match self {
            InputReader::Local(f) => f.metadata().map(|m| m.len()).unwrap_or(0),
            InputReader::Remote(r) => r.size,
        }
    }
}

impl ChunkReader for InputReader {
    type T = Box<dyn Read + Send>;

    fn get_read(&self, start: u64) -> datafusion::parquet::errors::Result<Self::T> {
        match self {
            InputReader::Local(f) => Ok(Box::new(ChunkReader::get_read(f, start)?)),
            InputReader::Remote(r) => Ok(Box::new(RemoteReader::new(r.obj.clone(), r.size, start))),
        }
    }

    fn get_bytes(&self, start: u64, length: usize) -> datafusion::parquet::errors::Result<Bytes> {
        match self {
            InputReader::Local(f) => ChunkReader::get_bytes(f, start, length),
            InputReader::Remote(r) => {
                let (store, key) = (r.obj.store.clone(), r.obj.key.clone());
                let end = start + length as u64;
                block_on(async move { store.get_range(&key, start..end).await }).map_err(|e| {
                    datafusion::parquet::errors::ParquetError::External(Box::new(store_error(
                        &r.obj.url(),
                        e,
                    )))
                })
            }
        }
    }
}
