//! The CSV type-inference pass (TFX's `_InferValueType` over every value,
//! and UTF-8 validity), which also notes where chunks start (see the `csv`
//! module).
//!
//! A large uncompressed file is scanned in parallel byte ranges, which
//! start at chunk spans (so the chunks are a single scan's). Each
//! range after the first starts after a newline, a guess that is wrong
//! when the newline is inside a quoted field; so each range also parses on
//! to the first record at or after its end, and the pass accepts the
//! ranges only when that record is where the next range's first record
//! is (the previous range's parse being right, by induction from the
//! file's start, proves the next one's). Types merge exactly (each value's
//! type depends on the value alone; the column's is the highest, and UTF-8
//! validity holds for all). Any mismatch or error falls back to one
//! sequential scan of the file, which reports errors at their rows and lines.
//!
//! The pass reads every byte of the file, so it also takes the file's
//! CRC32C on the way (each range its own bytes, up to the next range's
//! start, combined): the input's fingerprint without another read.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use super::crc_tap::{combine, CrcTap};
use super::csv::{
    is_compressed, open_csv_input, read_header_record, width_error, Chunk, ColType, Column,
    CsvOptions,
};
use super::csv_held::{ChunkBuilder, HeldChunk, HoldBudget};
use super::csv_tokens::CsvRecords;
use crate::error::{DatasetError, Result};
use crate::input::InputFile;

/// Bytes each parallel range should at least have.
const MIN_RANGE_BYTES: u64 = 4 << 20;

/// What scanning one range of a file learned.
struct RangeScan {
    columns: Vec<Column>,
    /// Chunk starts: absolute bytes, rows from the range's first record,
    /// lines of the range's reader (1-based at its start).
    chunks: Vec<Chunk>,
    /// Records in the range.
    records: u64,
    /// The range's first record: absolute byte and reader line.
    first: Option<(u64, u64)>,
    /// The first record at or after the range's end (absolute byte,
    /// reader line); `None` at the end of the file.
    boundary: Option<(u64, u64)>,
    /// With a hold budget, the batches of each chunk (rows from the
    /// range's first record), `None` where one was not kept.
    held: Vec<Option<HeldChunk>>,
}

/// What the pass learned about one file besides its types.
pub(super) struct FileScan {
    /// Where its chunks start (empty for a compressed file).
    pub chunks: Vec<Chunk>,
    /// The CRC32C of its bytes as read, when the pass read exactly the
    /// file's listed size.
    pub crc32c: Option<u32>,
    /// With a hold budget, the batches the pass built: one entry per
    /// chunk (one for a compressed file), `None` where one was not kept.
    pub held: Vec<Option<HeldChunk>>,
}

/// Type inference over all files; gives where each uncompressed file's
/// chunks start and its CRC32C.
pub(super) fn infer(
    files: &[InputFile],
    options: &CsvOptions,
    columns: &mut [Column],
) -> Result<Vec<FileScan>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let budget = HoldBudget::new(options.hold_bytes);
    let mut scans = Vec::with_capacity(files.len());
    for f in files {
        // Ranges of at least half a chunk (small chunks: small ranges).
        let min_range = MIN_RANGE_BYTES.min(options.chunk_bytes / 2).max(1);
        let ranges = threads.min(f.size / min_range).max(1);
        let compressed = is_compressed(&f.path);
        let parallel = match (ranges > 1, compressed) {
            (true, false) => infer_in_ranges(f, options, columns, ranges, &budget)?,
            _ => None,
        };
        let (merged, file_scan) = match parallel {
            Some(found) => found,
            None => {
                let tap = CrcTap::default();
                let mut r = CsvRecords::new(
                    open_csv_input(&f.path, 0, None, Some((&tap, None)))?,
                    options.delimiter,
                );
                read_header_record(&f.path, &mut r)?;
                let mut holder = holder(options, &budget);
                let scan = scan_range(
                    &f.path,
                    &mut r,
                    0,
                    None,
                    options,
                    columns.to_vec(),
                    holder.as_mut(),
                )?;
                // A compressed file cannot be read from a chunk's start.
                let (chunks, held) = match compressed {
                    true => (Vec::new(), vec![HeldChunk::joined(scan.held)]),
                    false => (scan.chunks, scan.held),
                };
                let crc32c = tap.crc_of(f.size);
                (
                    scan.columns,
                    FileScan {
                        chunks,
                        crc32c,
                        held,
                    },
                )
            }
        };
        columns.clone_from_slice(&merged);
        scans.push(file_scan);
    }
    Ok(scans)
}

/// A builder of held batches when `options` give a budget to hold.
fn holder<'a>(options: &CsvOptions, budget: &'a HoldBudget) -> Option<ChunkBuilder<'a>> {
    (options.hold_bytes > 0).then(|| ChunkBuilder::new(budget, options.batch_size))
}

/// Scans the records of `r` (a reader started at absolute byte `start`)
/// up to the first record starting at or after `end` (`None`: to the end),
/// inferring `columns`.
fn scan_range(
    path: &Path,
    r: &mut CsvRecords,
    start: u64,
    end: Option<u64>,
    options: &CsvOptions,
    mut columns: Vec<Column>,
    mut holder: Option<&mut ChunkBuilder>,
) -> Result<RangeScan> {
    let width = columns.len();
    let mut scan = RangeScan {
        columns: Vec::new(),
        chunks: Vec::new(),
        records: 0,
        first: None,
        boundary: None,
        held: Vec::new(),
    };
    let mut row = 0u64;
    loop {
        row += 1;
        let rec = match r.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => return Err(e.at(path, row, 0)),
        };
        let (byte, line) = (start + rec.byte, rec.line);
        if end.is_some_and(|end| byte >= end) {
            scan.boundary = Some((byte, line));
            break;
        }
        if rec.len() != width {
            return Err(width_error(path, row, line, rec.len(), width));
        }
        if scan.first.is_none() {
            scan.first = Some((byte, line));
        }
        // A chunk starts at the first record of each span of
        // `chunk_bytes` (counted from the file's start) that has one, so
        // where chunks start does not depend on where ranges started.
        let span = |b: u64| b / options.chunk_bytes.max(1);
        if scan
            .chunks
            .last()
            .is_none_or(|c| span(byte) > span(c.start))
        {
            scan.chunks.push(Chunk {
                start: byte,
                row: row - 1,
                line,
            });
            if let Some(h) = holder.as_deref_mut() {
                h.start_chunk(row - 1, &columns);
            }
        }
        scan.records += 1;
        if let Some(h) = holder.as_deref_mut() {
            h.push(&rec, &mut columns, row - 1, start + rec.end);
            continue;
        }
        // One UTF-8 check per record; per field only when it fails.
        let record_utf8 = rec.is_utf8();
        for (c, v) in columns.iter_mut().zip(rec.iter()) {
            infer_value(c, v, record_utf8);
        }
    }
    if let Some(h) = holder {
        h.end_chunk(&columns);
        scan.held = std::mem::take(&mut h.chunks);
    }
    scan.columns = columns;
    Ok(scan)
}

/// Infers column `c` from one more value `v` (`record_utf8`: its whole
/// record is valid UTF-8, so `v` is).
pub(super) fn infer_value(c: &mut Column, v: &[u8], record_utf8: bool) {
    if c.ty == ColType::String || (c.declared && !v.is_empty()) {
        if c.utf8 && !record_utf8 && std::str::from_utf8(v).is_err() {
            c.utf8 = false;
        }
        return;
    }
    let t = ColType::of_value(v);
    if t > c.ty {
        c.ty = t;
    }
    if c.ty == ColType::String && !record_utf8 && std::str::from_utf8(v).is_err() {
        c.utf8 = false;
    }
}

/// The first byte after the first newline at or after `offset` (the
/// file's size when there is none).
fn next_line_start(f: &InputFile, offset: u64) -> Result<u64> {
    let mut file = crate::store::read::open(&f.path)?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| DatasetError::io(&f.path, e))?;
    let mut line = Vec::new();
    let n = BufReader::with_capacity(64 << 10, file)
        .read_until(b'\n', &mut line)
        .map_err(|e| DatasetError::io(&f.path, e))?;
    Ok((offset + n as u64).min(f.size))
}

/// Infers `columns` over `f` in `ranges` parallel ranges: the merged
/// columns and the file's chunks and CRC, or `None` when the ranges cannot
/// be proven to start at records (or one has an error), for a sequential
/// scan.
fn infer_in_ranges(
    f: &InputFile,
    options: &CsvOptions,
    columns: &[Column],
    ranges: u64,
    budget: &HoldBudget,
) -> Result<Option<(Vec<Column>, FileScan)>> {
    // Ranges start at the first record of a chunk span (a guess, checked
    // below), so their first records are chunk starts a single scan
    // notes too: the chunks, and so the parts a read splits into, are
    // those of one scan whatever the number of cores.
    let span = options.chunk_bytes.max(1);
    let mut starts = vec![0u64];
    for k in 1..ranges {
        let even = k * f.size / ranges;
        let aligned = (even / span + u64::from(even % span >= span / 2)).saturating_mul(span);
        if aligned == 0 || aligned >= f.size {
            continue;
        }
        // The first line starting at or after `aligned`.
        let s = next_line_start(f, aligned - 1)?;
        if s < f.size && s > *starts.last().expect("one start") {
            starts.push(s);
        }
    }
    // Each range's own bytes: from its start to the next range's.
    let lengths: Vec<u64> = starts
        .iter()
        .enumerate()
        .map(|(k, &s)| starts.get(k + 1).copied().unwrap_or(f.size) - s)
        .collect();
    let taps: Vec<CrcTap> = starts.iter().map(|_| CrcTap::default()).collect();
    let scans: Vec<std::result::Result<RangeScan, ()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = starts
            .iter()
            .enumerate()
            .map(|(k, &start)| {
                let end = starts.get(k + 1).copied();
                let columns = columns.to_vec();
                let tap = (&taps[k], end.map(|e| e - start));
                scope.spawn(move || {
                    let input = open_csv_input(&f.path, start, None, Some(tap)).map_err(|_| ())?;
                    let mut r = CsvRecords::new(input, options.delimiter);
                    if k == 0 {
                        read_header_record(&f.path, &mut r).map_err(|_| ())?;
                    }
                    let mut holder = holder(options, budget);
                    scan_range(
                        &f.path,
                        &mut r,
                        start,
                        end,
                        options,
                        columns,
                        holder.as_mut(),
                    )
                    .map_err(|_| ())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(())))
            .collect()
    });
    // A refused scan gives back what its ranges held.
    let refuse = |scans: Vec<std::result::Result<RangeScan, ()>>| {
        for s in scans.into_iter().flatten() {
            budget.give_back(s.held.iter().flatten().map(HeldChunk::bytes).sum());
        }
        Ok(None)
    };
    if scans.iter().any(|s| s.is_err()) {
        return refuse(scans);
    }
    // Each range's boundary must be the next range's first record.
    let agree = scans.windows(2).all(|pair| match pair {
        [Ok(a), Ok(b)] => a.boundary.map(|x| x.0) == b.first.map(|x| x.0),
        _ => false,
    });
    if !agree {
        return refuse(scans);
    }
    let scans: Vec<RangeScan> = scans.into_iter().flatten().collect();
    let mut merged = columns.to_vec();
    let mut chunks = Vec::new();
    let mut held = Vec::new();
    let (mut rows_before, mut lines_before) = (0u64, 0u64);
    let mut previous_boundary = None;
    for mut scan in scans {
        if let Some((_, boundary_line)) = previous_boundary {
            // The previous range's boundary record is this range's first.
            let (_, first_line) = scan.first.expect("checked above");
            lines_before = lines_before + boundary_line - first_line;
        }
        previous_boundary = scan.boundary;
        for (m, c) in merged.iter_mut().zip(&scan.columns) {
            m.ty = m.ty.max(c.ty);
            m.utf8 &= c.utf8;
        }
        chunks.extend(scan.chunks.iter().map(|c| Chunk {
            start: c.start,
            row: rows_before + c.row,
            line: lines_before + c.line,
        }));
        for chunk in scan.held.iter_mut().flatten() {
            chunk.batches.iter_mut().for_each(|b| b.row += rows_before);
        }
        held.append(&mut scan.held);
        rows_before += scan.records;
    }
    let crcs: Option<Vec<(u32, u64)>> = taps
        .iter()
        .zip(&lengths)
        .map(|(tap, &len)| tap.crc_of(len).map(|c| (c, len)))
        .collect();
    let crc32c = crcs.map(combine);
    Ok(Some((
        merged,
        FileScan {
            chunks,
            crc32c,
            held,
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::super::csv::written_input;
    use super::super::csv_tokens::csv_reader;
    use super::*;
    use std::collections::HashMap;

    fn unknown(names: &[&str]) -> Vec<Column> {
        names
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                ty: ColType::Unknown,
                utf8: true,
                declared: false,
            })
            .collect()
    }

    /// Every record's start byte → (row, line), by one sequential parse.
    fn record_starts(f: &InputFile) -> HashMap<u64, (u64, u64)> {
        // The csv crate's own reading, the header first.
        let mut r = csv_reader(open_csv_input(&f.path, 0, None, None).unwrap(), b',');
        let mut rec = csv::ByteRecord::new();
        assert!(r.read_byte_record(&mut rec).unwrap());
        let mut out = HashMap::new();
        let mut row = 0;
        while r.read_byte_record(&mut rec).unwrap() {
            let p = rec.position().unwrap();
            out.insert(p.byte(), (row, p.line()));
            row += 1;
        }
        out
    }

    /// Parallel ranges infer the types and UTF-8 validity one scan infers
    /// (a FLOAT only in the last range, bytes that are not UTF-8 only in
    /// the middle, quoted newlines and blank lines throughout), and every
    /// chunk they note is a record start with its row and line.
    #[test]
    fn parallel_ranges_infer_what_one_scan_infers() {
        let d = tempfile::tempdir().unwrap();
        let mut text = b"n,s,q\n".to_vec();
        for i in 0..3000 {
            let n = if i == 2990 {
                "1.5".to_string()
            } else {
                i.to_string()
            };
            let s: &[u8] = if i == 1500 { b"\xff\xfe" } else { b"ok" };
            text.extend_from_slice(format!("{n},").as_bytes());
            text.extend_from_slice(s);
            text.extend_from_slice(if i % 97 == 0 {
                b",\"a\nb\"\n\n"
            } else {
                b",z\n"
            });
        }
        let f = written_input(d.path(), "f.csv", &text);
        let options = CsvOptions {
            chunk_bytes: 700,
            ..Default::default()
        };
        let columns = unknown(&["n", "s", "q"]);
        let mut r = CsvRecords::new(open_csv_input(&f.path, 0, None, None).unwrap(), b',');
        read_header_record(&f.path, &mut r).unwrap();
        let one = scan_range(&f.path, &mut r, 0, None, &options, columns.clone(), None).unwrap();
        let starts = record_starts(&f);
        let mut accepted = 0;
        for ranges in 2..=8 {
            // A guess inside a quoted field is refused (the other test);
            // the ranges that are accepted must agree with one scan.
            let Some((merged, scan)) =
                infer_in_ranges(&f, &options, &columns, ranges, &HoldBudget::new(0)).unwrap()
            else {
                continue;
            };
            accepted += 1;
            // The ranges' CRCs combine into the file's.
            assert_eq!(scan.crc32c, Some(crc32c::crc32c(&text)), "{ranges}");
            let chunks = scan.chunks;
            let types: Vec<_> = merged.iter().map(|c| (c.ty, c.utf8)).collect();
            let want: Vec<_> = one.columns.iter().map(|c| (c.ty, c.utf8)).collect();
            assert_eq!(types, want, "{ranges} ranges");
            // The chunks are those of one scan, whatever the ranges.
            assert_eq!(chunks, one.chunks, "{ranges} ranges");
            assert_eq!(types[0], (ColType::Float, true));
            assert_eq!(types[1], (ColType::String, false));
            assert!(chunks.len() > 10);
            for c in &chunks {
                assert_eq!(
                    starts.get(&c.start),
                    Some(&(c.row, c.line)),
                    "{ranges}: {c:?}"
                );
            }
        }
        assert!(accepted >= 4, "only {accepted} of 7 range counts accepted");
    }

    /// A guessed start inside a quoted field is found out (the previous
    /// range's parse does not land there), and the file is scanned once.
    #[test]
    fn a_range_starting_inside_quotes_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut text = b"id,text\n".to_vec();
        for i in 0..200 {
            text.extend_from_slice(format!("{i},\"").as_bytes());
            for _ in 0..40 {
                text.extend_from_slice(b"a line inside quotes\n");
            }
            text.extend_from_slice(b"\"\n");
        }
        let f = written_input(d.path(), "f.csv", &text);
        let options = CsvOptions::default();
        let columns = unknown(&["id", "text"]);
        // Small chunks, so the ranges start at small multiples (inside
        // quoted fields, most of the file).
        let small = CsvOptions {
            chunk_bytes: 1000,
            ..Default::default()
        };
        assert!(
            infer_in_ranges(&f, &small, &columns, 4, &HoldBudget::new(0))
                .unwrap()
                .is_none()
        );
        let mut columns = unknown(&["id", "text"]);
        let scans = infer(std::slice::from_ref(&f), &options, &mut columns).unwrap();
        assert_eq!(scans[0].chunks.len(), 1);
        assert_eq!(scans[0].crc32c, Some(crc32c::crc32c(&text)));
        assert_eq!(
            (columns[0].ty, columns[1].ty),
            (ColType::Int, ColType::String)
        );
    }

    /// Regression: the record's UTF-8 check ran on its fields back to back
    /// (the csv crate's `ByteRecord::as_slice`), so a character split
    /// across two fields (`\xC3` `,` `\xA9`) read as valid and both
    /// columns were typed UTF-8. Read fast, and read by the csv crate (a
    /// CRLF line first sends the tokenizer there), with and without held
    /// batches.
    #[test]
    fn a_character_split_across_two_fields_is_not_utf8() {
        let d = tempfile::tempdir().unwrap();
        for first in [&b"a,b\n"[..], b"a,b\r\n"] {
            let mut text = first.to_vec();
            text.extend_from_slice(b"x,y\n\xC3,\xA9\n\"\xC3\",\"\xA9\"\nz,w\n");
            let f = written_input(d.path(), "f.csv", &text);
            for hold_bytes in [0, 1 << 20] {
                let options = CsvOptions {
                    hold_bytes,
                    ..Default::default()
                };
                let mut columns = unknown(&["a", "b"]);
                infer(std::slice::from_ref(&f), &options, &mut columns).unwrap();
                let types: Vec<_> = columns.iter().map(|c| (c.ty, c.utf8)).collect();
                assert_eq!(
                    types,
                    [(ColType::String, false), (ColType::String, false)],
                    "{:?}, hold {hold_bytes}",
                    String::from_utf8_lossy(first)
                );
            }
        }
    }
}
