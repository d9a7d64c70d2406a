//! [`CsvRecords`]: weir's CSV tokenizer, for type inference (which, with a
//! hold budget, also builds the first read's batches) and for the reads of
//! parts that were not held (`CsvBatches`). It finds a block's
//! delimiters, newlines and quotes 64 bytes at a time as a bit mask (eight
//! bytes at a time in a `u64`, safe and portable) and walks the set bits,
//! so the bytes of a field are never looked at one by one. Fields
//! that need no unescaping are slices of the block, so a record is not
//! copied either. On TPC-H's `lineitem` it tokenizes about 2.8× faster than
//! `csv_core`, the byte-at-a-time state machine under the `csv` crate.
//!
//! It reads the RFC 4180 subset that data files are written in: fields
//! separated by the delimiter, records ended by `\n`, and fields that start
//! with `"`, end with the `"` right before a delimiter or the record's end,
//! and write a quote inside as `""` (newlines inside are part of the
//! field). A record outside that subset (a `\r` anywhere, so every CRLF
//! file, an empty line, a quote inside an unquoted field, bytes after a
//! closing quote, a quote never closed) switches the reader to the `csv`
//! crate from that record's first byte on, with the options every weir CSV
//! reader has, so the records, their positions and their errors are the
//! `csv` crate's own whatever the input. A test compares the two on
//! generated inputs with every such case.

use std::io::{self, Cursor, Read};

/// Bytes read from the input at a time (the buffer grows for a record
/// longer than that).
const BLOCK_READ: usize = 1 << 20;

/// One record: its fields, where it starts and ends, and its line.
pub(super) struct Record<'a> {
    /// The record's bytes as read (delimiters and quotes included), when
    /// the fast tokenizer read it.
    raw: Option<&'a [u8]>,
    /// The fields' bytes: `raw` itself, or unescaped copies.
    data: &'a [u8],
    /// Each field's start and end in `data`.
    bounds: &'a [(usize, usize)],
    /// The byte offset of the record's start, from the reader's start.
    pub byte: u64,
    /// The byte offset just past the record (its newline included).
    pub end: u64,
    /// The record's first line (1-based).
    pub line: u64,
}

impl<'a> Record<'a> {
    /// Fields.
    pub fn len(&self) -> usize {
        self.bounds.len()
    }

    /// The fields' bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let data = self.data;
        self.bounds.iter().map(move |&(s, e)| &data[s..e])
    }

    /// True when every field is valid UTF-8 (one check for the record;
    /// false says only that some field may not be).
    pub fn is_utf8(&self) -> bool {
        self.text().is_some()
    }

    /// The fields' bytes back to back as text, when every field is valid
    /// UTF-8 (one check for the record; `None` says only that some field
    /// may not be); [`Record::text_field`] cuts a field out of it.
    pub fn text(&self) -> Option<&'a str> {
        match self.raw {
            // Delimiters and quotes are ASCII: dropping them from valid
            // UTF-8 leaves valid UTF-8, cut between characters.
            Some(raw) => {
                let raw_text = simdutf8::basic::from_utf8(raw).ok()?;
                match std::ptr::eq(raw, self.data) {
                    true => Some(raw_text),
                    false => simdutf8::basic::from_utf8(self.data).ok(),
                }
            }
            // The fields back to back are valid and each boundary between
            // them falls between characters.
            None => {
                let text = simdutf8::basic::from_utf8(self.data).ok()?;
                self.bounds
                    .iter()
                    .all(|&(s, _)| text.is_char_boundary(s))
                    .then_some(text)
            }
        }
    }

    /// Field `i` as text, when it is valid UTF-8: cut from `text` (what
    /// [`Record::text`] gave for this record) when the record is text,
    /// else checked alone.
    #[inline]
    pub fn field_text(&self, text: Option<&'a str>, i: usize) -> Option<&'a str> {
        let &(s, e) = self.bounds.get(i)?;
        match text {
            Some(text) => text.get(s..e),
            None => std::str::from_utf8(&self.data[s..e]).ok(),
        }
    }
}

/// Why a record could not be read.
#[derive(Debug)]
pub(super) struct RecordError {
    /// What went wrong.
    pub message: String,
    /// The line, where known.
    pub line: Option<u64>,
}

impl RecordError {
    /// The error as a [`DatasetError`] at data row `row` of `path`, whose
    /// reader started after `lines_before` lines (the row's line when the
    /// reader knows none: rows are one line each then).
    pub fn at(
        &self,
        path: &std::path::Path,
        row: u64,
        lines_before: u64,
    ) -> crate::error::DatasetError {
        let line = self.line.map_or(row + 1, |l| l + lines_before);
        crate::error::DatasetError::row(path, row, line, &self.message)
    }
}

/// What a scan of the buffered bytes found.
enum Scan {
    /// A record, ending at this byte of the buffer (its newline excluded),
    /// spanning this many newlines inside quoted fields, with fields that
    /// need unescaping or not.
    Record {
        end: usize,
        next: usize,
        quoted_newlines: u64,
        escaped: bool,
    },
    /// The buffer ends inside the record: read more.
    More,
    /// A record outside the subset this tokenizer reads.
    Other,
}

/// The csv crate's reader, and the offset and line it started at.
type Fallback = (csv::Reader<Box<dyn Read + Send>>, u64, u64);

/// The records of a CSV byte stream (no header handling: the first record
/// is the first line).
pub(super) struct CsvRecords {
    /// Bytes a read asks for (more for a long record).
    read_size: usize,
    /// A read error that came after bytes the last read gave.
    failed: Option<io::Error>,
    /// Times the buffer was refilled.
    #[cfg(test)]
    fills: u32,
    inner: Option<Box<dyn Read + Send>>,
    delimiter: u8,
    buf: Vec<u8>,
    /// The unread bytes are `buf[pos..len]`.
    pos: usize,
    len: usize,
    eof: bool,
    /// The reader offset of `buf[pos]`, and its line.
    offset: u64,
    line: u64,
    /// Each field's start and end, from the record's start.
    bounds: Vec<(usize, usize)>,
    scratch: Vec<u8>,
    /// The block of `buf` the last record ended in, and its structural
    /// bits after that record.
    block: Option<(usize, u64)>,
    /// The `csv` crate's reader, after a record outside the subset, and
    /// the offset and line it started at.
    fallback: Option<Fallback>,
    record: csv::ByteRecord,
}

impl CsvRecords {
    /// Records of `inner`, fields separated by `delimiter`.
    pub fn new(inner: Box<dyn Read + Send>, delimiter: u8) -> Self {
        Self::with_read_size(inner, delimiter, BLOCK_READ)
    }

    /// [`CsvRecords::new`] reading `read_size` bytes at a time.
    fn with_read_size(inner: Box<dyn Read + Send>, delimiter: u8, read_size: usize) -> Self {
        Self {
            read_size: read_size.max(1),
            failed: None,
            #[cfg(test)]
            fills: 0,
            inner: Some(inner),
            delimiter,
            buf: Vec::new(),
            pos: 0,
            len: 0,
            eof: false,
            offset: 0,
            line: 1,
            bounds: Vec::new(),
            scratch: Vec::new(),
            block: None,
            fallback: None,
            record: csv::ByteRecord::new(),
        }
    }

    /// The next record, `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        if self.fallback.is_none() {
            loop {
                if self.pos == self.len && self.eof {
                    return Ok(None);
                }
                match self.scan() {
                    Scan::Record {
                        end,
                        next,
                        quoted_newlines,
                        escaped,
                    } => return Ok(Some(self.take(end, next, quoted_newlines, escaped))),
                    Scan::More if !self.eof => self.fill()?,
                    // A quote never closed, or anything else outside the
                    // subset: the csv crate reads from here.
                    Scan::More | Scan::Other => {
                        self.fall_back()?;
                        break;
                    }
                }
            }
        }
        self.next_fallback()
    }

    /// The offset just past the last record read (the end of the input
    /// once `next_record` has given `None`).
    pub fn position(&self) -> u64 {
        match &self.fallback {
            Some((reader, offset, _)) => offset + reader.position().byte(),
            None => self.offset,
        }
    }

    /// True while the fast tokenizer reads (no record has needed the csv
    /// crate).
    #[cfg(test)]
    fn is_fast(&self) -> bool {
        self.fallback.is_none()
    }

    /// Reads more input after the unread bytes: a block, or as much again
    /// as they are, so a record longer than a block (whose scan starts
    /// over after each read) is scanned a bounded number of times over.
    fn fill(&mut self) -> Result<(), RecordError> {
        #[cfg(test)]
        {
            self.fills += 1;
        }
        self.block = None;
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        let target = self.len + self.read_size.max(self.len);
        if self.buf.len() < target {
            self.buf.resize(target, 0);
        }
        let read_error = |e: io::Error| RecordError {
            message: format!("read error: {e}"),
            line: None,
        };
        if let Some(e) = self.failed.take() {
            return Err(read_error(e));
        }
        let Some(inner) = self.inner.as_mut() else {
            self.eof = true;
            return Ok(());
        };
        let before = self.len;
        while self.len < target {
            match inner.read(&mut self.buf[self.len..target]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The records before the error come first.
                Err(e) if self.len > before => {
                    self.failed = Some(e);
                    break;
                }
                Err(e) => return Err(read_error(e)),
            }
        }
        Ok(())
    }

    /// Tokenizes the record at `pos` into `bounds`.
    fn scan(&mut self) -> Scan {
        let (buf, len, d) = (&self.buf[..self.len], self.len, self.delimiter);
        let start = self.pos;
        self.bounds.clear();
        let mut field = start;
        let mut in_quotes = false;
        let mut quoted = false;
        let mut escaped = false;
        let mut quoted_newlines = 0u64;
        // A quote (the second of `""`) the walk passes over.
        let mut skip = usize::MAX;
        if self.offset == 0 && buf.get(start) == Some(&0xEF) {
            // Perhaps a byte-order mark, which the csv crate drops.
            return Scan::Other;
        }
        // The block the last record ended in still has this one's first
        // bits.
        let (mut base, mut mask) = match self.block {
            Some((base, mask)) if base <= start && start < base + 64 => {
                (base, mask & (u64::MAX << (start - base)))
            }
            _ => (start, structurals(&buf[start..len.min(start + 64)], d)),
        };
        loop {
            while mask != 0 {
                let i = base + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                if i == skip {
                    continue;
                }
                let c = buf[i];
                if c == b'"' {
                    if !in_quotes {
                        if i != field {
                            return Scan::Other;
                        }
                        in_quotes = true;
                        quoted = true;
                        continue;
                    }
                    match buf.get(i + 1) {
                        None if !self.eof => return Scan::More,
                        Some(b'"') => {
                            escaped = true;
                            skip = i + 1;
                        }
                        None => in_quotes = false,
                        Some(&n) if n == d || n == b'\n' => in_quotes = false,
                        Some(_) => return Scan::Other,
                    }
                    continue;
                }
                if c == b'\r' {
                    return Scan::Other;
                }
                if in_quotes {
                    if c == b'\n' {
                        quoted_newlines += 1;
                    }
                    continue;
                }
                // A delimiter or a newline ends the field.
                if c == b'\n' && i == start {
                    // An empty line: the csv crate skips it.
                    return Scan::Other;
                }
                self.bounds
                    .push(field_bounds(field - start, i - start, quoted));
                quoted = false;
                field = i + 1;
                if c == b'\n' {
                    self.block = Some((base, mask));
                    return Scan::Record {
                        end: i,
                        next: i + 1,
                        quoted_newlines,
                        escaped,
                    };
                }
            }
            base += 64;
            if base >= len {
                break;
            }
            mask = structurals(&buf[base..len.min(base + 64)], d);
        }
        if !self.eof {
            return Scan::More;
        }
        if in_quotes {
            return Scan::Other;
        }
        // The last record, with no newline after it.
        self.bounds
            .push(field_bounds(field - start, len - start, quoted));
        Scan::Record {
            end: len,
            next: len,
            quoted_newlines,
            escaped,
        }
    }

    /// The record `scan` found, consumed.
    fn take(&mut self, end: usize, next: usize, quoted_newlines: u64, escaped: bool) -> Record<'_> {
        let start = self.pos;
        let (byte, line) = (self.offset, self.line);
        self.offset += (next - start) as u64;
        self.line += quoted_newlines + u64::from(next > end);
        self.pos = next;
        let raw = &self.buf[start..end];
        let data: &[u8] = if escaped {
            // Quoted fields with `""`: copied with one quote each.
            self.scratch.clear();
            for b in self.bounds.iter_mut() {
                let s = self.scratch.len();
                let mut rest = &raw[b.0..b.1];
                while let Some(q) = rest.iter().position(|&c| c == b'"') {
                    self.scratch.extend_from_slice(&rest[..=q]);
                    rest = &rest[q + 2..];
                }
                self.scratch.extend_from_slice(rest);
                *b = (s, self.scratch.len());
            }
            &self.scratch
        } else {
            raw
        };
        Record {
            raw: Some(raw),
            data,
            bounds: &self.bounds,
            byte,
            end: self.offset,
            line,
        }
    }

    /// Hands the unread bytes and the rest of the input to the csv crate.
    fn fall_back(&mut self) -> Result<(), RecordError> {
        // The csv crate looks for a byte-order mark in its first read.
        while !self.eof && self.failed.is_none() && self.len - self.pos < 64 {
            self.fill()?;
        }
        let unread = Cursor::new(self.buf[self.pos..self.len].to_vec());
        // A read error held back for the records before it comes after
        // them, from the csv crate's reads.
        let inner: Box<dyn Read + Send> = match (self.failed.take(), self.inner.take()) {
            (Some(e), _) => Box::new(unread.chain(FailedRead(Some(e)))),
            (None, Some(inner)) if !self.eof => Box::new(unread.chain(inner)),
            _ => Box::new(unread),
        };
        let reader = csv_reader(inner, self.delimiter);
        self.fallback = Some((reader, self.offset, self.line));
        self.buf = Vec::new();
        (self.pos, self.len) = (0, 0);
        Ok(())
    }

    fn next_fallback(&mut self) -> Result<Option<Record<'_>>, RecordError> {
        let Some((reader, offset, line)) = self.fallback.as_mut() else {
            return Ok(None);
        };
        let (offset, lines) = (*offset, *line - 1);
        match reader.read_byte_record(&mut self.record) {
            Ok(false) => return Ok(None),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line() + lines);
                let message = match e.kind() {
                    csv::ErrorKind::Io(io) => format!("read error: {io}"),
                    _ => e.to_string(),
                };
                return Err(RecordError { message, line });
            }
        }
        let data = self.record.as_slice();
        self.bounds.clear();
        self.bounds.extend(self.record.iter().map(|f| {
            let s = f.as_ptr() as usize - data.as_ptr() as usize;
            (s, s + f.len())
        }));
        let (byte, line) = self
            .record
            .position()
            .map_or((0, 0), |p| (offset + p.byte(), p.line() + lines));
        Ok(Some(Record {
            raw: None,
            data,
            bounds: &self.bounds,
            byte,
            end: offset + reader.position().byte(),
            line,
        }))
    }
}

/// A reader that fails with a held-back error once, then ends.
struct FailedRead(Option<io::Error>);

impl Read for FailedRead {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        self.0.take().map_or(Ok(0), Err)
    }
}

/// The csv crate's reader with the options of every weir CSV reader.
pub(super) fn csv_reader(
    inner: Box<dyn Read + Send>,
    delimiter: u8,
) -> csv::Reader<Box<dyn Read + Send>> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(inner)
}

/// A field from `start` to `end` (the delimiter or newline after it), its
/// quotes dropped.
fn field_bounds(start: usize, end: usize, quoted: bool) -> (usize, usize) {
    match quoted {
        true => (start + 1, end - 1),
        false => (start, end),
    }
}

/// Bit `k` set where byte `k` of `block` (at most 64 bytes) is the
/// delimiter, `\n`, `\r` or `"`.
#[inline]
fn structurals(block: &[u8], delimiter: u8) -> u64 {
    let Ok(block) = <&[u8; 64]>::try_from(block) else {
        let mut mask = 0u64;
        for (k, &b) in block.iter().enumerate() {
            if b == delimiter || b == b'\n' || b == b'\r' || b == b'"' {
                mask |= 1 << k;
            }
        }
        return mask;
    };
    // Eight bytes at a time in a u64: a byte of `v ^ t` is zero where the
    // byte of `v` is `t`'s, and `zeros` sets the high bit of exactly those
    // bytes (no carry crosses a byte).
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    const ONES: u64 = 0x0101_0101_0101_0101;
    let zeros = |x: u64| !((((x & LOW7) + LOW7) | x) | LOW7);
    let targets = [
        u64::from(delimiter) * ONES,
        u64::from(b'\n') * ONES,
        u64::from(b'\r') * ONES,
        u64::from(b'"') * ONES,
    ];
    let mut mask = 0u64;
    for (k, word) in block.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let v = u64::from_le_bytes(bytes);
        let hits = targets.iter().fold(0, |h, &t| h | zeros(v ^ t));
        // The eight high bits, gathered into the top byte in order.
        let bits = ((hits >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        mask |= bits << (8 * k);
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    type Records = Result<Vec<(Vec<Vec<u8>>, u64, u64, u64)>, String>;

    /// Every record of `input` as (fields, byte, end, line), by this
    /// tokenizer, read `chunk` bytes at a time.
    fn fast(input: &[u8], chunk: usize) -> Records {
        fast_and_whether_fast(input, chunk).0
    }

    /// [`fast`], and whether the fast tokenizer read every record.
    fn fast_and_whether_fast(input: &[u8], chunk: usize) -> (Records, bool) {
        struct Trickle(Vec<u8>, usize, usize);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.2.min(out.len()).min(self.0.len() - self.1);
                out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let trickle = Trickle(input.to_vec(), 0, chunk);
        let mut r = CsvRecords::with_read_size(Box::new(trickle), b',', chunk);
        let mut out = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(rec)) => {
                    let fields = rec.iter().map(<[u8]>::to_vec).collect::<Vec<_>>();
                    // The UTF-8 check never says yes to a bad field, and
                    // its text holds the fields.
                    let text = rec.text();
                    for (i, f) in fields.iter().enumerate() {
                        let alone = std::str::from_utf8(f).ok().map(str::as_bytes);
                        assert_eq!(rec.field_text(text, i).map(str::as_bytes), alone);
                        if text.is_some() {
                            assert!(alone.is_some());
                        }
                    }
                    out.push((fields, rec.byte, rec.end, rec.line));
                }
                Ok(None) => return (Ok(out), r.is_fast()),
                Err(e) => return (Err(format!("{} at {:?}", e.message, e.line)), r.is_fast()),
            }
        }
    }

    /// The same by the csv crate alone.
    fn reference(input: &[u8]) -> Records {
        let mut r = csv_reader(Box::new(Cursor::new(input.to_vec())), b',');
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        loop {
            match r.read_byte_record(&mut rec) {
                Ok(true) => {
                    let p = rec.position().unwrap();
                    out.push((
                        rec.iter().map(<[u8]>::to_vec).collect(),
                        p.byte(),
                        r.position().byte(),
                        p.line(),
                    ));
                }
                Ok(false) => return Ok(out),
                Err(e) => {
                    return Err(format!("{e} at {:?}", e.position().map(|p| p.line())));
                }
            }
        }
    }

    /// Random CSV from pieces that cover the subset and (but for every
    /// third seed, which stays inside it) every way out of it.
    fn generated(seed: u64, records: usize) -> Vec<u8> {
        let odd = !seed.is_multiple_of(3);
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let pieces: &[&[u8]] = &[
            b"abc",
            b"12",
            b"-3.5",
            b"",
            b"\"q,uo\nted\"",
            b"\"a\"\"b\"",
            b"\"\"",
            b"\xC3\xA9",
            b"\xC3",
            b"\xA9",
            b"x\"y",
            b"\"a\"b",
            b"\"open",
        ];
        let mut out = Vec::new();
        for _ in 0..records {
            let fields = 1 + next() % 5;
            for f in 0..fields {
                if f > 0 {
                    out.push(b',');
                }
                // Mostly plain pieces; the last 3 (and \r) leave the subset.
                let k = (next() % 100) as usize;
                let piece = match k {
                    // A lone empty field is an empty line.
                    _ if !odd && f == 0 && k % 10 == 3 => pieces[0],
                    _ if !odd => pieces[k % 10],
                    0 => pieces[10],
                    1 => pieces[11],
                    2 if next() % 8 == 0 => pieces[12],
                    _ => pieces[k % 10],
                };
                out.extend_from_slice(piece);
            }
            match next() % 50 {
                0 if odd => out.extend_from_slice(b"\r\n"),
                1 if odd => out.extend_from_slice(b"\n\n"),
                _ => out.push(b'\n'),
            }
        }
        if next() % 2 == 0 {
            out.pop();
        }
        out
    }

    #[test]
    fn structurals_are_the_bytes_that_are_delimiters_newlines_or_quotes() {
        let block: Vec<u8> = (0..64u8).map(|k| k.wrapping_mul(37) ^ (k << 2)).collect();
        let mut block = block;
        for (k, b) in [(0, b','), (9, b'"'), (31, b'\n'), (32, b'\r'), (63, b',')] {
            block[k] = b;
        }
        for d in [b',', b'\t', b';', 0xC3] {
            let want = block
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == d || b == b'\n' || b == b'\r' || b == b'"')
                .fold(0u64, |m, (k, _)| m | 1 << k);
            assert_eq!(structurals(&block, d), want, "delimiter {d}");
            assert_eq!(
                structurals(&block[..63], d),
                want & !(1 << 63),
                "delimiter {d}"
            );
        }
    }

    #[test]
    fn records_positions_and_errors_are_the_csv_crates() {
        let fixed: &[&[u8]] = &[
            b"",
            b"a",
            b"a,b\n",
            b"a,b\nc,d",
            b"\"a,b\",\"c\nd\"\ne,\"f\"\"g\"\n",
            b"\"a\"",
            b"a,\"b\"",
            b"a,\"b",
            b"a,b\r\nc,d\r\n",
            b"a\n\nb\n",
            b"a,x\"y,b\n",
            b"\"a\"b,c\n",
            b"\xC3,\xA9\n",
            b"\"\xC3\",\"\xA9\"\n",
            b"\"\xC3\"\"\xA9\",x\n",
            b"\xEF\xBB\xBFa,b\nc\n",
        ];
        for input in fixed {
            for chunk in [1, 3, 64, 1 << 20] {
                assert_eq!(
                    fast(input, chunk),
                    reference(input),
                    "{:?} read {chunk} bytes at a time",
                    String::from_utf8_lossy(input)
                );
            }
        }
        let mut fell_back = 0;
        for seed in 0..300 {
            let input = generated(seed, 1 + (seed as usize % 40) * 5);
            for chunk in [7, 100, 1 << 20] {
                let (records, stayed_fast) = fast_and_whether_fast(&input, chunk);
                // Inputs inside the subset never need the csv crate.
                assert!(stayed_fast || !seed.is_multiple_of(3), "seed {seed}");
                fell_back += usize::from(!stayed_fast);
                assert_eq!(
                    records,
                    reference(&input),
                    "seed {seed}, {chunk} bytes at a time: {:?}",
                    String::from_utf8_lossy(&input)
                );
            }
        }
        // And the others mostly do.
        assert!(fell_back > 400, "{fell_back}");
    }

    #[test]
    fn a_record_past_a_block_and_a_read_error_keep_their_place() {
        // A field longer than a block read, after short records.
        let mut input = b"a,b\n".repeat(3);
        input.extend(std::iter::repeat_n(b'x', BLOCK_READ + 100));
        input.extend_from_slice(b",\"y\"\nz\n");
        assert_eq!(fast(&input, 1 << 16), reference(&input));

        // Read 64 bytes at a time, a 4 MiB field takes a read per doubling
        // of what is held, not one per 64 bytes.
        let mut long = b"a,".to_vec();
        long.extend(std::iter::repeat_n(b'x', 4 << 20));
        long.extend_from_slice(b"\nb,c\n");
        let mut r = CsvRecords::with_read_size(Box::new(Cursor::new(long)), b',', 64);
        assert_eq!(
            r.next_record()
                .unwrap()
                .unwrap()
                .iter()
                .nth(1)
                .unwrap()
                .len(),
            4 << 20
        );
        assert_eq!(r.next_record().unwrap().unwrap().line, 2);
        assert!(r.next_record().unwrap().is_none());
        assert!(r.fills <= 20, "{} reads", r.fills);

        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        // Regression: a read error held back behind records was dropped
        // when a later record (the blank line) sent the tokenizer to the
        // csv crate, whose reader read on, and a reader that gives 0 after
        // an error made the input look complete. The records before it,
        // then the error.
        let mut text = b"a,b\n\n".to_vec();
        text.extend(b"c,d\n".repeat(20));
        let failing_once = FailedRead(Some(io::Error::other("disk on fire")));
        let input = Cursor::new(text).chain(failing_once);
        let mut r = CsvRecords::new(Box::new(input), b',');
        let mut got = 0;
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => got += 1,
                Ok(None) => panic!("the read error was lost after {got} records"),
                Err(e) => break e,
            }
        };
        assert!(!r.is_fast());
        assert_eq!(got, 21);
        assert!(err.message.contains("disk on fire"), "{}", err.message);
        let mut r = CsvRecords::new(
            Box::new(Cursor::new(b"a\nb\n".to_vec()).chain(Failing)),
            b',',
        );
        assert_eq!(r.next_record().unwrap().unwrap().line, 1);
        assert_eq!(r.next_record().unwrap().unwrap().line, 2);
        let e = r.next_record().err().unwrap();
        assert!(e.message.contains("disk on fire"), "{}", e.message);
        assert_eq!(e.line, None);
    }
}
