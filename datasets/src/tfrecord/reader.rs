//! Reading TFRecord frames with every length and data CRC checked.

use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::masked_crc32c;
use crate::compression::Compression;
use crate::error::{DatasetError, Result};

/// Reads records from one TFRecord file, checking both CRCs of every record.
pub struct TfRecordReader<'a> {
    path: PathBuf,
    inner: Box<dyn Read + Send + 'a>,
    compression: Compression,
    /// Offset of the next frame in the (decompressed) record stream.
    offset: u64,
    records: u64,
}

impl TfRecordReader<'static> {
    /// Opens `path`; `compression` `None` means: from the file name, else sniffed.
    pub fn open(path: &Path, compression: Option<Compression>) -> Result<Self> {
        let compression = match compression {
            Some(c) => c,
            None => match Compression::from_file_name(&path.to_string_lossy()) {
                Some(c) => c,
                None => sniff_compression(path)?,
            },
        };
        let file = crate::store::read::open(path)?;
        let buffered = BufReader::with_capacity(1 << 20, file);
        let inner = compression.reader(buffered);
        Ok(Self {
            path: path.to_path_buf(),
            inner: Box::new(BufReader::with_capacity(1 << 20, inner)),
            compression,
            offset: 0,
            records: 0,
        })
    }
}

impl<'a> TfRecordReader<'a> {
    /// Reads from an already decompressed stream; `path` names it in errors.
    pub fn from_reader(path: &Path, inner: impl Read + Send + 'a) -> Self {
        Self {
            path: path.to_path_buf(),
            inner: Box::new(inner),
            compression: Compression::None,
            offset: 0,
            records: 0,
        }
    }

    /// Records read so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// Offset of the next frame in the decompressed stream.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn err(&self, offset: u64, message: impl Into<String>) -> DatasetError {
        let where_ = if self.compression == Compression::None {
            String::new()
        } else {
            format!(" (in the {}-decompressed stream)", self.compression)
        };
        DatasetError::offset(
            &self.path,
            offset,
            format!("record {}{where_}: {}", self.records, message.into()),
        )
    }

    /// Reads exactly `buf.len()` bytes; Ok(n < len) only at a clean or truncated end.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    let what = match self.compression {
                        Compression::None => format!("read error: {e}"),
                        c => format!("corrupt {c} stream: {e}"),
                    };
                    return Err(self.err(self.offset + filled as u64, what));
                }
            }
        }
        Ok(filled)
    }

    /// Reads the next record into `data`; false at the end of the file.
    pub fn read_record(&mut self, data: &mut Vec<u8>) -> Result<bool> {
        let start = self.offset;
        let mut header = [0u8; 12];
        let n = self.read_full(&mut header)?;
        if n == 0 {
            return Ok(false);
        }
        if n < header.len() {
            return Err(self.err(start, format!("truncated record header ({n} of 12 bytes)")));
        }
        let len_bytes: [u8; 8] = header[..8].try_into().expect("8 bytes");
        let stored = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
        if masked_crc32c(&len_bytes) != stored {
            return Err(self.err(start, "length CRC mismatch (corrupt record header)"));
        }
        let len = u64::from_le_bytes(len_bytes);
        if len > (1 << 31) {
            return Err(self.err(start, format!("record length {len} is implausibly large")));
        }
        data.resize(len as usize + 4, 0);
        let got = self.read_full(data)?;
        if got < data.len() {
            return Err(self.err(
                start,
                format!("truncated record: expected {len} data bytes and a CRC, got {got} bytes"),
            ));
        }
        let crc = u32::from_le_bytes(data[len as usize..].try_into().expect("4 bytes"));
        data.truncate(len as usize);
        if masked_crc32c(data) != crc {
            return Err(self.err(start, "data CRC mismatch (corrupt record)"));
        }
        self.offset = start + 12 + len + 4;
        self.records += 1;
        Ok(true)
    }
}

impl Iterator for TfRecordReader<'_> {
    type Item = Result<Vec<u8>>;
    fn next(&mut self) -> Option<Self::Item> {
        let mut data = Vec::new();
        match self.read_record(&mut data) {
            Ok(true) => Some(Ok(data)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Guesses the compression of a TFRecord file from its first bytes: a valid
/// plain frame header wins, then the gzip magic, then a zlib header.
pub fn sniff_compression(path: &Path) -> Result<Compression> {
    let mut file = crate::store::read::open(path)?;
    let mut head = [0u8; 12];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(DatasetError::io(path, e)),
        }
    }
    if n == 12 {
        let len: [u8; 8] = head[..8].try_into().expect("8 bytes");
        if masked_crc32c(&len) == u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) {
            return Ok(Compression::None);
        }
    }
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        return Ok(Compression::Gzip);
    }
    if n >= 2 && head[0] & 0x0f == 8 && (u16::from(head[0]) * 256 + u16::from(head[1])) % 31 == 0 {
        return Ok(Compression::Zlib);
    }
    Ok(Compression::None)
}
