//! A reader that takes the CRC32C of the bytes passing through it, so a
//! pass that reads a whole input anyway (CSV type inference) also gives
//! the input's fingerprint, and the input is not read once more for it.

use std::io::Read;
use std::sync::{Arc, Mutex};

/// What a tap saw: the CRC32C of the bytes it passed (up to its limit)
/// and how many there were.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Tapped {
    pub crc: u32,
    pub bytes: u64,
}

/// The shared end of a tap, read after the reader is done.
#[derive(Debug, Clone, Default)]
pub(super) struct CrcTap(Arc<Mutex<Tapped>>);

impl CrcTap {
    /// `inner` with this tap on it: the first `limit` bytes read (all
    /// when `None`) go into the CRC.
    pub fn wrap<R: Read>(&self, inner: R, limit: Option<u64>) -> CrcTapReader<R> {
        CrcTapReader {
            inner,
            left: limit.unwrap_or(u64::MAX),
            tap: self.clone(),
        }
    }

    /// What passed so far.
    pub fn tapped(&self) -> Tapped {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The CRC of exactly `bytes` bytes, or `None` when the tap saw
    /// another count (the reader stopped early, or the file changed size).
    pub fn crc_of(&self, bytes: u64) -> Option<u32> {
        let t = self.tapped();
        (t.bytes == bytes).then_some(t.crc)
    }
}

/// A reader passing its bytes through a [`CrcTap`].
pub(super) struct CrcTapReader<R> {
    inner: R,
    left: u64,
    tap: CrcTap,
}

impl<R: Read> Read for CrcTapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let counted = (n as u64).min(self.left) as usize;
        if counted > 0 {
            self.left -= counted as u64;
            let mut t = self.tap.0.lock().unwrap_or_else(|e| e.into_inner());
            t.crc = crc32c::crc32c_append(t.crc, &buf[..counted]);
            t.bytes += counted as u64;
        }
        Ok(n)
    }
}

/// The CRC32C of consecutive pieces, from each piece's CRC and length.
pub(super) fn combine(pieces: impl IntoIterator<Item = (u32, u64)>) -> u32 {
    pieces.into_iter().fold(0u32, |crc, (c, len)| {
        crc32c::crc32c_combine(crc, c, len as usize)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tap with a limit sees only its bytes however reads are cut, and
    /// pieces' CRCs combine into the whole's.
    #[test]
    fn tapped_pieces_combine_into_the_whole_crc() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let cuts = [0usize, 1, 33_333, 99_999, 100_000];
        let mut pieces = Vec::new();
        for w in cuts.windows(2) {
            let tap = CrcTap::default();
            let limit = (w[1] - w[0]) as u64;
            let mut r = tap.wrap(&data[w[0]..], Some(limit));
            let mut buf = [0u8; 4096];
            while r.read(&mut buf).unwrap() > 0 {}
            assert_eq!(tap.tapped().bytes, limit);
            pieces.push((tap.crc_of(limit).unwrap(), limit));
        }
        assert_eq!(combine(pieces), crc32c::crc32c(&data));
        let tap = CrcTap::default();
        let mut r = tap.wrap(&data[..], None);
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(tap.crc_of(100_000), None);
        assert_eq!(tap.crc_of(10), Some(crc32c::crc32c(&data[..10])));
    }
}
