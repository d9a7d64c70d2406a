//! CSV input with TFX's CsvExampleGen semantics.
//!
//! The first line of each file is the header (all files must agree). Quoting
//! follows RFC 4180 and Python's `csv` module (doubled quotes, delimiters
//! and newlines inside quotes). Blank lines are skipped and an empty cell is a
//! missing value. Column types are inferred over the whole input as TFX does
//! (`tfx_bsl` `_InferValueType`): INT when every non-empty cell is a Python
//! `int` in int64 range, FLOAT when every cell is a Python `float`, else
//! BYTES (also for integers outside int64); a column with no values stays
//! unknown. A `--schema` overrides inference for the columns it declares.
//!
//! The inference pass also notes, in uncompressed files, the first record
//! of every span of [`CHUNK_BYTES`] by default, counted from the file's
//! start, whatever the number of cores ([`Chunk`]): a reader started
//! there is at a record boundary (the parser's own, so quoted newlines
//! cannot mislead it) and knows its first row, so one large file splits
//! into parts that read in parallel ([`CsvSource::split`]) with the rows
//! and lines of a whole-file read.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::crc_tap::CrcTap;
use super::csv_batches::CsvBatches;
use super::csv_held::HeldStore;
use super::csv_tokens::CsvRecords;
use super::pynum::{parse_py_float, parse_py_int, plain_number, PlainNumber};
use crate::compression::Compression;
use crate::error::{DatasetError, Result};
use crate::example::FeatureType;
use crate::input::InputFile;

/// Options of the CSV reader.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Field delimiter (`,`).
    pub delimiter: u8,
    /// Rows per record batch.
    pub batch_size: usize,
    /// Types a user schema declares, by column name.
    pub declared: Option<HashMap<String, FeatureType>>,
    /// Bytes between chunk starts ([`CHUNK_BYTES`]).
    pub chunk_bytes: u64,
    /// Bytes of batches the type-inference pass may build and keep for
    /// the source's first read (`0`: none; see the `csv_held` module).
    pub hold_bytes: u64,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            batch_size: 8192,
            declared: None,
            chunk_bytes: chunk_bytes_setting(),
            hold_bytes: 0,
        }
    }
}

/// The inferred TFX column type; the order is TFX's type hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum ColType {
    Unknown,
    Int,
    Float,
    String,
}

impl ColType {
    pub(super) fn of_value(v: &[u8]) -> ColType {
        if v.is_empty() {
            return ColType::Unknown;
        }
        match plain_number(v) {
            Some(PlainNumber::Int(_)) => return ColType::Int,
            Some(PlainNumber::Float(_)) => return ColType::Float,
            None => {}
        }
        match parse_py_int(v) {
            Ok(Some(_)) => ColType::Int,
            Ok(None) => ColType::String,
            Err(()) => match parse_py_float(v) {
                Some(_) => ColType::Float,
                None => ColType::String,
            },
        }
    }
}

/// A non-empty value typed as [`ColType::of_value`] types it, with its
/// number parsed on the way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Parsed {
    Int(i64),
    Float(f64),
    Bytes,
}

impl Parsed {
    pub(super) fn of_value(v: &[u8]) -> Parsed {
        // Plain numbers parse in one pass; longer ones and every other
        // form after the integer parse refuses them.
        match plain_number(v) {
            Some(PlainNumber::Int(i)) => return Parsed::Int(i),
            Some(PlainNumber::Float(f)) => return Parsed::Float(f),
            None => {}
        }
        match parse_py_int(v) {
            Ok(Some(i)) => Parsed::Int(i),
            Ok(None) => Parsed::Bytes,
            Err(()) => parse_py_float(v).map_or(Parsed::Bytes, Parsed::Float),
        }
    }

    pub(super) fn ty(self) -> ColType {
        match self {
            Parsed::Int(_) => ColType::Int,
            Parsed::Float(_) => ColType::Float,
            Parsed::Bytes => ColType::String,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: ColType,
    /// Every value is valid UTF-8 (strings become Utf8, else Binary).
    pub(super) utf8: bool,
    pub(super) declared: bool,
}

/// Bytes between the chunk starts noted by the inference pass.
pub const CHUNK_BYTES: u64 = 8 << 20;

/// Consecutive chunks of a file a part of a split reads, about (see
/// [`runs`]).
pub const CHUNKS_PER_PART: usize = 4;

/// Runs a file of at least that many chunks is read in, at least (see
/// [`runs`]).
const MIN_RUNS: usize = 4;

/// `WEIR_CSV_CHUNK_BYTES` (bytes; `0`: every file one part, as before
/// chunks existed, for comparisons), else [`CHUNK_BYTES`].
fn chunk_bytes_setting() -> u64 {
    match std::env::var("WEIR_CSV_CHUNK_BYTES").map(|v| v.trim().parse::<u64>()) {
        Ok(Ok(0)) => u64::MAX,
        Ok(Ok(n)) => n,
        _ => CHUNK_BYTES,
    }
}

/// Where a chunk of a file starts: a record's first byte, that record's
/// row (0-based, header excluded) and line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub(super) start: u64,
    pub(super) row: u64,
    pub(super) line: u64,
}

/// What one reader of a part reads: a whole file (header included), or
/// chunk `c` of a file (to the next chunk's start, or the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Unit {
    pub(super) file: usize,
    pub(super) chunk: Option<usize>,
}

/// Whether `path` is read through a decompressor (and so cannot seek).
pub(super) fn is_compressed(path: &Path) -> bool {
    Compression::from_file_name(&path.to_string_lossy()).is_some_and(|c| c != Compression::None)
}

/// The text of `path` from byte `start` (of an uncompressed file), for
/// `len` bytes or to the end, decompressed, each line's length guarded;
/// `tap` takes the CRC32C of the file's bytes as read (its first `.1`
/// bytes, or all).
pub(super) fn open_csv_input(
    path: &Path,
    start: u64,
    len: Option<u64>,
    tap: Option<(&CrcTap, Option<u64>)>,
) -> Result<Box<dyn Read + Send>> {
    let mut file = crate::store::read::open(path)?;
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .map_err(|e| DatasetError::io(path, e))?;
    }
    let file: Box<dyn Read + Send> = match tap {
        Some((tap, limit)) => Box::new(tap.wrap(file, limit)),
        None => Box::new(file),
    };
    let buffered = BufReader::with_capacity(1 << 20, file);
    let inner: Box<dyn Read + Send> = match len {
        Some(n) => Box::new(buffered.take(n)),
        None => Compression::from_file_name(&path.to_string_lossy())
            .unwrap_or(Compression::None)
            .reader(buffered),
    };
    Ok(Box::new(super::line_guard::LineGuard::new(
        inner,
        super::line_guard::MAX_LINE_BYTES,
    )))
}

/// The header: the first record's fields, each a distinct, non-empty
/// UTF-8 name.
pub(super) fn read_header_record(path: &Path, records: &mut CsvRecords) -> Result<Vec<String>> {
    let rec = match records.next_record() {
        Ok(Some(rec)) => rec,
        Ok(None) => return Err(DatasetError::file(path, "empty file: no header line")),
        Err(e) => return Err(e.at(path, 0, 0)),
    };
    let mut names = Vec::with_capacity(rec.len());
    for (i, f) in rec.iter().enumerate() {
        let name = std::str::from_utf8(f)
            .map_err(|_| {
                DatasetError::row(
                    path,
                    0,
                    1,
                    format!("header column {} is not valid UTF-8", i + 1),
                )
            })?
            .trim()
            .to_string();
        if name.is_empty() {
            return Err(DatasetError::row(
                path,
                0,
                1,
                format!("header column {} has no name", i + 1),
            ));
        }
        if names.contains(&name) {
            return Err(DatasetError::row(
                path,
                0,
                1,
                format!("header names column '{name}' twice"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

/// A record of `found` fields where the header has `expected`.
pub(super) fn width_error(
    path: &Path,
    row: u64,
    line: u64,
    found: usize,
    expected: usize,
) -> DatasetError {
    DatasetError::row(
        path,
        row,
        line,
        format!("expected {expected} fields as in the header, found {found}"),
    )
}

/// A CSV input: its layout (header and types) is fixed when it is opened.
#[derive(Debug, Clone)]
pub struct CsvSource {
    pub(super) files: Vec<InputFile>,
    pub(super) columns: Vec<Column>,
    pub(super) schema: SchemaRef,
    pub(super) options: CsvOptions,
    /// Per file, where its chunks start (empty: not chunked).
    pub(super) chunks: Arc<[Vec<Chunk>]>,
    /// Per file, the CRC32C of its bytes where type inference read them
    /// all (see [`CsvSource::read_crc32c`]).
    crc32c: Arc<[Option<u32>]>,
    /// The batches type inference built, for the first read.
    pub(super) held: HeldStore,
    /// What this source reads, in order; `None`: every file, whole.
    pub(super) units: Option<Vec<Unit>>,
    /// The columns whose values are converted into the batches (indices
    /// into `schema`); `None`: all. The others are still tokenized (a
    /// record's fields are found in one pass), never parsed.
    pub(super) projection: Option<Vec<usize>>,
}

impl CsvSource {
    /// Opens the files, checks their headers and infers column types (one
    /// full pass, skipped when the user schema declares every column).
    pub fn open(files: Vec<InputFile>, options: CsvOptions) -> Result<Self> {
        let mut header: Option<(Vec<String>, &Path)> = None;
        for f in &files {
            let mut r = CsvRecords::new(open_csv_input(&f.path, 0, None, None)?, options.delimiter);
            let h = read_header_record(&f.path, &mut r)?;
            match &header {
                None => header = Some((h, &f.path)),
                Some((first, first_path)) if *first != h => {
                    return Err(DatasetError::file(
                        &f.path,
                        format!(
                            "header differs from the one in {}: [{}] vs [{}]",
                            first_path.display(),
                            h.join(","),
                            first.join(",")
                        ),
                    ))
                }
                _ => {}
            }
        }
        let (header, _) = header.ok_or_else(|| DatasetError::Invalid("no CSV files".into()))?;
        let mut columns: Vec<Column> = header
            .into_iter()
            .map(|name| {
                let declared = options
                    .declared
                    .as_ref()
                    .and_then(|d| d.get(&name))
                    .copied();
                Column {
                    ty: match declared {
                        Some(FeatureType::Int) => ColType::Int,
                        Some(FeatureType::Float) => ColType::Float,
                        Some(FeatureType::Bytes) => ColType::String,
                        // `declared_types` refuses STRUCT features.
                        Some(FeatureType::Unknown | FeatureType::Struct) | None => ColType::Unknown,
                    },
                    declared: matches!(declared, Some(t) if t != FeatureType::Unknown),
                    utf8: true,
                    name,
                }
            })
            .collect();
        let mut chunks = vec![Vec::new(); files.len()];
        let mut crc32c = vec![None; files.len()];
        let mut held = HeldStore::default();
        if columns
            .iter()
            .any(|c| !c.declared || c.ty == ColType::String)
        {
            let scans = super::csv_infer::infer(&files, &options, &mut columns)?;
            let mut held_files = Vec::with_capacity(scans.len());
            (chunks, crc32c) = (Vec::new(), Vec::new());
            for s in scans {
                chunks.push(s.chunks);
                crc32c.push(s.crc32c);
                held_files.push(s.held);
            }
            held = HeldStore::new(held_files, &columns);
        }
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| {
                let dt = match c.ty {
                    ColType::Unknown => DataType::Null,
                    ColType::Int => DataType::Int64,
                    ColType::Float => DataType::Float32,
                    ColType::String if c.utf8 => DataType::Utf8,
                    ColType::String => DataType::Binary,
                };
                Field::new(&c.name, dt, true)
            })
            .collect();
        Ok(Self {
            files,
            columns,
            schema: Arc::new(Schema::new(fields)),
            options,
            chunks: chunks.into(),
            crc32c: crc32c.into(),
            held,
            units: None,
            projection: None,
        })
    }

    /// Per file, the CRC32C of its bytes, where opening the source read
    /// them all (type inference, unless a schema declared every column);
    /// so a caller fingerprinting the input need not read it again.
    pub fn read_crc32c(&self) -> &[Option<u32>] {
        &self.crc32c
    }

    /// Per file, its chunks whose batches are held, and its chunks.
    #[cfg(test)]
    pub(super) fn held_counts(&self) -> Vec<(usize, usize)> {
        self.held.counts()
    }

    /// This source converting only the columns named in `names` (unknown
    /// names are ignored); its batches hold those, in the schema's order.
    pub fn with_columns(&self, names: &[String]) -> CsvSource {
        let keep = (0..self.schema.fields().len())
            .filter(|&i| names.contains(self.schema.field(i).name()))
            .collect();
        CsvSource {
            projection: Some(keep),
            ..self.clone()
        }
    }

    /// `n` parts of the input (part `p`: units p, p+n, …), each with its
    /// files' indices in the whole input when it keeps only some files.
    /// With at least `n` files, or files too small to have chunks, the
    /// units are whole files; else the chunks of each chunked file.
    pub fn split(&self, n: usize) -> Vec<(CsvSource, Option<Arc<[usize]>>)> {
        let chunked = self.chunks.iter().any(|c| c.len() > 1);
        if self.units.is_none() && (self.files.len() >= n || !chunked) {
            return super::split_by_files(self, n, |s| s)
                .into_iter()
                .map(|(mut part, ids)| {
                    // Each part's chunks and CRCs stay in line with its files.
                    if let Some(ids) = &ids {
                        part.chunks = ids.iter().map(|&i| self.chunks[i].clone()).collect();
                        part.crc32c = ids.iter().map(|&i| self.crc32c[i]).collect();
                        part.held = self.held.subset(ids);
                    }
                    (part, ids)
                })
                .collect();
        }
        // The units (a part of a part splits its own units further).
        let units: Vec<Unit> = match &self.units {
            Some(units) => units.clone(),
            None => self
                .chunks
                .iter()
                .enumerate()
                .flat_map(|(file, chunks)| match chunks.len() {
                    0 | 1 => vec![Unit { file, chunk: None }],
                    k => (0..k)
                        .map(|c| Unit {
                            file,
                            chunk: Some(c),
                        })
                        .collect(),
                })
                .collect(),
        };
        let runs = runs(&units);
        let n = n.clamp(1, runs.len().max(1));
        (0..n)
            .map(|p| {
                let mut part = self.clone();
                part.units = Some(runs.iter().skip(p).step_by(n).flatten().copied().collect());
                (part, None)
            })
            .collect()
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        match &self.projection {
            Some(keep) => Arc::new(
                self.schema
                    .project(keep)
                    .expect("projection indices come from the schema"),
            ),
            None => self.schema.clone(),
        }
    }

    /// The record batches of every file, in order.
    pub fn batches(&self) -> CsvBatches {
        let units = match &self.units {
            Some(u) => u.clone(),
            None => (0..self.files.len())
                .map(|file| Unit { file, chunk: None })
                .collect(),
        };
        CsvBatches::new(self.clone(), units)
    }
}

/// `units` in runs of consecutive chunks of one file. A file's `k`
/// consecutive chunks make `max(ceil(k / CHUNKS_PER_PART), min(k,
/// MIN_RUNS))` runs of as even lengths as can be. A part reads whole runs:
/// every part costs the job its own accumulators and tables (on TPC-H's
/// 121 MiB `lineitem`, 16 parts of one 8 MiB chunk took 0.55 s of exact
/// statistics against 0.47 s for 4 parts of four chunks), while chunks
/// stay small for parallel type inference and held batches, and a file of
/// a few chunks still reads in as many parts. Runs depend on the file
/// alone, so the parts (and the statistics) do not depend on the machine.
fn runs(units: &[Unit]) -> Vec<Vec<Unit>> {
    let consecutive = |a: &Unit, b: &Unit| {
        a.file == b.file && matches!((a.chunk, b.chunk), (Some(x), Some(y)) if y == x + 1)
    };
    let mut runs = Vec::new();
    for seq in units.chunk_by(consecutive) {
        let k = seq.len();
        let count = k.div_ceil(CHUNKS_PER_PART).max(k.min(MIN_RUNS));
        let mut rest = seq;
        for r in 0..count {
            let (run, more) = rest.split_at(rest.len().div_ceil(count - r));
            runs.push(run.to_vec());
            rest = more;
        }
    }
    runs
}

/// A file `name` of `bytes` written in `dir`, as an input (for tests).
#[cfg(test)]
pub(super) fn written_input(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> InputFile {
    let path = dir.join(name);
    let bytes = bytes.as_ref();
    std::fs::write(&path, bytes).unwrap();
    InputFile {
        path,
        size: bytes.len() as u64,
        etag: None,
    }
}

/// A file whose id column the returned types declare INT: 300 rows of two
/// lines each (a quoted newline), then `oops` in that column, data row 301
/// on line 602 (for tests).
#[cfg(test)]
pub(super) fn bad_int_after_quoted_newlines(
    dir: &Path,
) -> (InputFile, HashMap<String, FeatureType>) {
    let mut text = String::from("id,note\n");
    for i in 0..300 {
        text.push_str(&format!("{i},\"a\nb\"\n"));
    }
    text.push_str("oops,z\n");
    let declared = HashMap::from([("id".to_string(), FeatureType::Int)]);
    (written_input(dir, "f.csv", &text), declared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::Int64Type;

    /// `(file, row, id)` of every row the source's batches give.
    fn rows(s: &CsvSource) -> Vec<(usize, u64, i64)> {
        let mut out = Vec::new();
        for b in s.batches() {
            let (file, row, batch, _) = b.unwrap();
            let ids: &Int64Array = batch.column(0).as_primitive::<Int64Type>();
            out.extend((0..batch.num_rows()).map(|i| (file, row + i as u64, ids.value(i))));
        }
        out
    }

    fn options(chunk_bytes: u64) -> CsvOptions {
        CsvOptions {
            batch_size: 7,
            chunk_bytes,
            ..Default::default()
        }
    }

    /// A file split into chunks at the parser's record starts reads, part
    /// by part, every row once with its row in the file, quoted newlines
    /// and blank lines included; a compressed file is not chunked.
    #[test]
    fn chunks_of_a_file_read_every_row_once_with_its_row() {
        let d = tempfile::tempdir().unwrap();
        let mut text = String::from("id,note\n");
        for i in 0..500 {
            match i % 50 {
                7 => text.push_str(&format!("{i},\"two\nlines, quoted\"\n")),
                9 => text.push_str(&format!("{i},x\n\n")),
                _ => text.push_str(&format!("{i},n{i}\n")),
            }
        }
        let small = written_input(d.path(), "small.csv", "id,note\n1000,a\n1001,b\n");
        let big = written_input(d.path(), "big.csv", &text);
        let whole = CsvSource::open(vec![big.clone(), small.clone()], options(1 << 30)).unwrap();
        let expected = rows(&whole);
        assert_eq!(expected.len(), 502);
        let chunked = CsvSource::open(vec![big, small], options(300)).unwrap();
        assert!(
            chunked.chunks[0].len() > 10,
            "{:?}",
            chunked.chunks[0].len()
        );
        assert_eq!(chunked.chunks[1].len(), 1);
        let parts = chunked.split(4);
        assert_eq!(parts.len(), 4);
        let mut got: Vec<_> = parts.iter().flat_map(|(p, _)| rows(p)).collect();
        got.sort();
        assert_eq!(got, expected);
        // Unsplit, the chunked source reads whole files as before.
        assert_eq!(rows(&chunked), expected);
        // A part split again reads its own rows, each once.
        let first = &parts[0].0;
        let mut again: Vec<_> = first.split(3).iter().flat_map(|(p, _)| rows(p)).collect();
        let mut once = rows(first);
        again.sort();
        once.sort();
        assert!(!once.is_empty());
        assert_eq!(again, once);
    }

    /// Consecutive chunks of a file are read in runs: about
    /// `CHUNKS_PER_PART` each, at least `MIN_RUNS` of them where there are
    /// that many chunks, lengths within one of each other, every chunk once
    /// in order; a file without chunks is a run of its own.
    #[test]
    fn chunks_are_read_in_runs_of_a_few() {
        for k in 1..=40usize {
            let mut units = vec![Unit {
                file: 0,
                chunk: None,
            }];
            units.extend((0..k).map(|c| Unit {
                file: 1,
                chunk: Some(c),
            }));
            units.push(Unit {
                file: 2,
                chunk: None,
            });
            let got = runs(&units);
            let want = k.div_ceil(CHUNKS_PER_PART).max(k.min(MIN_RUNS));
            assert_eq!(got.len(), want + 2, "{k} chunks");
            assert_eq!(got.concat(), units, "{k} chunks");
            let lengths: Vec<usize> = got[1..=want].iter().map(Vec::len).collect();
            let (lo, hi) = (lengths.iter().min().unwrap(), lengths.iter().max().unwrap());
            assert!(hi - lo <= 1, "{k} chunks: {lengths:?}");
        }
        // TPC-H's 121 MiB lineitem: 16 chunks of 8 MiB, 4 runs of 4.
        let units: Vec<Unit> = (0..16)
            .map(|c| Unit {
                file: 0,
                chunk: Some(c),
            })
            .collect();
        assert_eq!(
            runs(&units).iter().map(Vec::len).collect::<Vec<_>>(),
            [4; 4]
        );
    }

    /// A bad value in a chunk is reported at its row and line in the file.
    #[test]
    fn an_error_in_a_chunk_names_the_rows_line_in_the_file() {
        let d = tempfile::tempdir().unwrap();
        let (f, declared) = bad_int_after_quoted_newlines(d.path());
        let source = CsvSource::open(
            vec![f],
            CsvOptions {
                declared: Some(declared),
                ..options(200)
            },
        )
        .unwrap();
        let parts = source.split(16);
        assert!(parts.len() > 1);
        let err = parts
            .iter()
            .flat_map(|(p, _)| p.batches())
            .find_map(|b| b.err())
            .expect("the bad value is found")
            .to_string();
        // Row 301 of the data starts on line 2 + 300 * 2.
        assert!(err.contains("301") && err.contains("602"), "{err}");
        assert!(err.contains("not an INT"), "{err}");
    }

    /// A text column whose file changed after its type was inferred, so
    /// that a value is no longer UTF-8, is reported at the value's row.
    #[test]
    fn a_text_value_that_stopped_being_utf8_names_its_row() {
        let d = tempfile::tempdir().unwrap();
        let mut text = String::from("id,note\n");
        for i in 0..50 {
            text.push_str(&format!("{i},n{}\n", i % 9));
        }
        let f = written_input(d.path(), "f.csv", &text);
        let source = CsvSource::open(vec![f.clone()], options(0)).unwrap();
        assert_eq!(source.schema().field(1).data_type(), &DataType::Utf8);
        // Row 41's note, `n4`, becomes the byte 0xFF and `4`.
        let mut bytes = text.into_bytes();
        let at = bytes.windows(5).position(|w| w == b"40,n4").unwrap() + 3;
        bytes[at] = 0xff;
        std::fs::write(&f.path, &bytes).unwrap();
        let err = source
            .batches()
            .find_map(|b| b.err())
            .expect("the changed value is found")
            .to_string();
        assert!(err.contains("41"), "{err}");
        assert!(err.contains("not valid UTF-8"), "{err}");
    }

    /// A source with columns converts only those, in schema order, and its
    /// chunked parts keep the projection.
    #[test]
    fn a_source_with_columns_builds_only_those() {
        let d = tempfile::tempdir().unwrap();
        let mut text = String::from("id,price,note\n");
        for i in 0..400 {
            text.push_str(&format!("{i},{}.5,n{}\n", i * 2, i % 9));
        }
        let f = written_input(d.path(), "f.csv", &text);
        let source = CsvSource::open(vec![f], options(300)).unwrap();
        let some = source.with_columns(&["note".to_string(), "id".to_string()]);
        let names: Vec<_> = some
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["id", "note"]);
        let mut seen = 0;
        for (part, _) in some.split(3) {
            assert_eq!(part.schema(), some.schema());
            for b in part.batches() {
                let (_, row, batch, _) = b.unwrap();
                assert_eq!(batch.schema(), some.schema());
                let ids = batch.column(0).as_primitive::<Int64Type>();
                let notes = batch.column(1).as_string::<i32>();
                for i in 0..batch.num_rows() {
                    assert_eq!(ids.value(i), (row + i as u64) as i64);
                    assert_eq!(notes.value(i), format!("n{}", ids.value(i) % 9));
                }
                seen += batch.num_rows();
            }
        }
        assert_eq!(seen, 400);
    }
}
