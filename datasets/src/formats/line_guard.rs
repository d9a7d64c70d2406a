//! [`LineGuard`]: a reader that fails once a line grows past a limit, so a
//! text input whose "line" never ends (a gzip bomb of one endless line, a
//! binary file read as CSV) is a clear error instead of a buffer that
//! grows until the process runs out of memory. CSV and JSONL read through
//! it; a legitimate line of a quarter gigabyte is not a thing.

use std::io::{self, Read};

/// The longest line a text input may have: 256 MiB.
pub const MAX_LINE_BYTES: u64 = 256 << 20;

/// Counts the bytes since the last newline and fails past `limit`.
pub struct LineGuard<R> {
    inner: R,
    limit: u64,
    since_newline: u64,
    offset: u64,
}

impl<R: Read> LineGuard<R> {
    /// Guards `inner` with `limit` bytes per line.
    pub fn new(inner: R, limit: u64) -> Self {
        Self {
            inner,
            limit,
            since_newline: 0,
            offset: 0,
        }
    }
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        // Lines are short in real data: the last newline is near the end.
        match got.iter().rposition(|&b| b == b'\n') {
            Some(at) => self.since_newline = (n - at - 1) as u64,
            None => self.since_newline += n as u64,
        }
        self.offset += n as u64;
        if self.since_newline > self.limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a line longer than {} MiB (no newline in the {} bytes before byte offset {} of the decompressed text)",
                    self.limit >> 20,
                    self.since_newline,
                    self.offset
                ),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_pass_and_an_endless_one_fails() {
        let ok = b"a,b\n1,2\n".repeat(1000);
        let mut out = Vec::new();
        LineGuard::new(ok.as_slice(), 16)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, ok);
        let endless = vec![b'x'; 100];
        let e = LineGuard::new(endless.as_slice(), 16)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("a line longer than"), "{e}");
    }
}
