//! Batches the CSV type-inference pass builds as it reads, so a source's
//! first read does not tokenize and parse the file again.
//!
//! TFX infers a column's type from all of its values, so a CSV input is
//! read once to infer and once for its batches. With a budget
//! ([`CsvOptions::hold_bytes`](super::csv::CsvOptions::hold_bytes)) the
//! inference pass also parses each value as the type inferred so far and
//! keeps the batches of every chunk in memory ([`HeldChunk`]): an INT
//! column that later turns FLOAT is converted in the batch being built and
//! cast in the batches already built ([`float_of_int`]), and a column that
//! has no value yet is null.
//! A value that turns an INT or FLOAT column into BYTES cannot be kept (the
//! numbers lost their text): that chunk is dropped and read again from the
//! file, as is every chunk once the budget is spent, so holding never
//! changes a batch's values, only where they come from. Parallel ranges
//! each infer from their own first record, so a column that turns BYTES
//! anywhere in a file costs, in every range, the chunks that built it as a
//! number (a file after it starts from its types and keeps its chunks).
//!
//! The first reader of a chunk (or of a whole file) takes its batches;
//! later reads, and parts whose batches were not held, read the file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryArray, BinaryBuilder, Float32Array,
    Float32Builder, Int64Builder, NullArray, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Int64Type, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::csv::{ColType, Column, Parsed};
use super::csv_tokens::Record;
use super::pynum::{parse_py_float, parse_py_int, plain_number, PlainNumber};
use crate::error::Result;

/// One batch as the inference pass built it: each column in the type
/// inferred when it was built.
pub(super) struct HeldBatch {
    /// Its first row in the file (0-based, header excluded).
    pub row: u64,
    pub rows: usize,
    pub arrays: Vec<ArrayRef>,
    /// Bytes of the file read after its last record.
    pub position: u64,
}

/// The held batches of one chunk of a file.
pub(super) struct HeldChunk {
    pub batches: Vec<HeldBatch>,
    /// Per column, the highest type its batches were built as.
    built: Vec<ColType>,
    bytes: u64,
}

impl HeldChunk {
    /// Bytes of its batches' arrays.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Whether the columns' final types can be reached from what was
    /// built (not from a number to BYTES).
    fn fits(&self, columns: &[Column]) -> bool {
        self.built.iter().zip(columns).all(|(&b, c)| {
            b == c.ty || b == ColType::Unknown || (b == ColType::Int && c.ty == ColType::Float)
        })
    }

    /// The chunks of a file as one (for a file read whole): all of them,
    /// or `None` when one is missing.
    pub fn joined(chunks: Vec<Option<HeldChunk>>) -> Option<HeldChunk> {
        let mut out: Option<HeldChunk> = None;
        for c in chunks {
            let c = c?;
            out = Some(match out {
                None => c,
                Some(mut o) => {
                    o.batches.extend(c.batches);
                    for (a, b) in o.built.iter_mut().zip(c.built) {
                        *a = (*a).max(b);
                    }
                    o.bytes += c.bytes;
                    o
                }
            });
        }
        out
    }
}

/// Per file, its held chunks (aligned with the file's chunks; one for a
/// file read whole); shared by a source and its parts.
#[derive(Clone, Default)]
pub(super) struct HeldStore(Arc<[HeldFile]>);

/// One file's chunks, each taken by its first reader.
type HeldFile = Arc<[Mutex<Option<HeldChunk>>]>;

impl std::fmt::Debug for HeldStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldStore")
            .field("files", &self.0.len())
            .finish()
    }
}

impl HeldStore {
    /// The store of `files`' chunks, keeping only those that reach the
    /// final `columns` types.
    pub fn new(files: Vec<Vec<Option<HeldChunk>>>, columns: &[Column]) -> Self {
        Self(
            files
                .into_iter()
                .map(|chunks| {
                    chunks
                        .into_iter()
                        .map(|c| Mutex::new(c.filter(|c| c.fits(columns))))
                        .collect()
                })
                .collect(),
        )
    }

    /// The store of a part that keeps the files `ids` of this one.
    pub fn subset(&self, ids: &[usize]) -> Self {
        if self.0.is_empty() {
            return Self::default();
        }
        Self(ids.iter().map(|&i| self.0[i].clone()).collect())
    }

    /// Per file, how many of its chunks are held and how many it has.
    #[cfg(test)]
    pub fn counts(&self) -> Vec<(usize, usize)> {
        self.0
            .iter()
            .map(|f| {
                let held = f
                    .iter()
                    .filter(|c| c.lock().unwrap_or_else(|e| e.into_inner()).is_some())
                    .count();
                (held, f.len())
            })
            .collect()
    }

    /// Takes chunk `chunk` of file `file`.
    pub fn take_chunk(&self, file: usize, chunk: usize) -> Option<Vec<HeldBatch>> {
        let slot = self.0.get(file)?.get(chunk)?;
        let taken = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        taken.map(|c| c.batches)
    }

    /// Takes every chunk of file `file`; `None` (and none kept) when one
    /// is missing.
    pub fn take_file(&self, file: usize) -> Option<Vec<HeldBatch>> {
        let slots = self.0.get(file)?;
        if slots.is_empty() {
            return None;
        }
        let chunks = slots
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).take())
            .collect();
        HeldChunk::joined(chunks).map(|c| c.batches)
    }
}

/// An INT value of a column that turned FLOAT: the f32 a FLOAT column
/// parses the integer's text to (its f64, correctly rounded as the text's
/// parse is, then rounded to f32).
fn float_of_int(i: i64) -> f32 {
    i as f64 as f32
}

/// `held`'s arrays in the `schema`'s (final) types.
pub(super) fn settle(held: HeldBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    let arrays = held
        .arrays
        .into_iter()
        .zip(schema.fields())
        .map(|(a, f)| -> Result<ArrayRef> {
            Ok(match (a.data_type(), f.data_type()) {
                (from, to) if from == to => a,
                (DataType::Null, to) => new_null_array(to, held.rows),
                // A batch built before another batch's value turned out
                // not to be UTF-8.
                (DataType::Utf8, DataType::Binary) => {
                    Arc::new(BinaryArray::from(a.as_string::<i32>().clone()))
                }
                (DataType::Binary, DataType::Utf8) => {
                    Arc::new(StringArray::try_from_binary(a.as_binary::<i32>().clone())?)
                }
                (DataType::Int64, DataType::Float32) => {
                    let ints = a.as_primitive::<Int64Type>();
                    let floats: Float32Array = ints.unary(float_of_int);
                    Arc::new(floats)
                }
                (from, to) => {
                    return Err(crate::error::DatasetError::Invalid(format!(
                        "a held CSV batch of {from} cannot become {to}"
                    )))
                }
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(held.rows)),
    )?)
}

/// How much the inference pass may hold, shared by its threads.
#[derive(Debug)]
pub(super) struct HoldBudget(AtomicU64);

impl HoldBudget {
    pub fn new(bytes: u64) -> Self {
        Self(AtomicU64::new(bytes))
    }

    /// Takes `bytes` from the budget; false (and nothing taken) when it
    /// has fewer.
    fn take(&self, bytes: u64) -> bool {
        self.0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            })
            .is_ok()
    }

    pub fn give_back(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// One column of the batch being built, in the type inferred so far.
enum ColumnBuild {
    /// No value yet in this batch (a column of unknown type): nulls.
    Null(usize),
    Int(Int64Builder),
    Float(Float32Builder),
    /// Strings, while every value of the batch is valid UTF-8 (the
    /// tokenizer's one check a record makes it text, so the batch need
    /// not be checked again as a whole).
    Text(StringBuilder),
    /// Strings, once a value of the batch is not valid UTF-8.
    Bytes(BinaryBuilder),
}

impl ColumnBuild {
    fn new(ty: ColType, capacity: usize) -> Self {
        match ty {
            ColType::Unknown => ColumnBuild::Null(0),
            ColType::Int => ColumnBuild::Int(Int64Builder::with_capacity(capacity)),
            ColType::Float => ColumnBuild::Float(Float32Builder::with_capacity(capacity)),
            ColType::String => {
                ColumnBuild::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuild::Null(n) => *n += 1,
            ColumnBuild::Int(b) => b.append_null(),
            ColumnBuild::Float(b) => b.append_null(),
            ColumnBuild::Text(b) => b.append_null(),
            ColumnBuild::Bytes(b) => b.append_null(),
        }
    }

    /// Appends `n` when this is a column of type `ty` that holds it as
    /// its text parses (an integer other than negative zero, or a plain
    /// decimal, in a FLOAT column); false (nothing appended) otherwise.
    #[inline]
    fn append_plain(&mut self, ty: ColType, n: PlainNumber) -> bool {
        match (self, ty, n) {
            (ColumnBuild::Int(b), ColType::Int, PlainNumber::Int(i)) => b.append_value(i),
            (ColumnBuild::Float(b), ColType::Float, PlainNumber::Float(f)) => {
                b.append_value(f as f32)
            }
            (ColumnBuild::Float(b), ColType::Float, PlainNumber::Int(i)) => {
                b.append_value(float_of_int(i))
            }
            _ => return false,
        }
        true
    }

    /// Appends a string value `v` (`text`: `v` as text, when it is valid
    /// UTF-8); false when this is not a string column.
    #[inline]
    fn append_string(&mut self, v: &[u8], text: Option<&str>) -> bool {
        match (&mut *self, text) {
            (ColumnBuild::Text(b), Some(t)) => b.append_value(t),
            (ColumnBuild::Bytes(b), _) => b.append_value(v),
            (ColumnBuild::Text(_), None) => {
                self.text_to_bytes();
                return self.append_string(v, None);
            }
            _ => return false,
        }
        true
    }

    /// A text column's values so far as bytes.
    #[cold]
    fn text_to_bytes(&mut self) {
        if let ColumnBuild::Text(b) = self {
            let strings = b.finish();
            let mut bytes =
                BinaryBuilder::with_capacity(strings.len().max(1) * 2, strings.values().len() * 2);
            strings
                .iter()
                .for_each(|s| bytes.append_option(s.map(str::as_bytes)));
            *self = ColumnBuild::Bytes(bytes);
        }
    }

    /// This column as `ty` (from no values, or from INT to FLOAT).
    #[inline]
    fn widen(&mut self, ty: ColType, capacity: usize) {
        match (&*self, ty) {
            (ColumnBuild::Int(_), ColType::Int)
            | (ColumnBuild::Float(_), ColType::Float)
            | (ColumnBuild::Text(_) | ColumnBuild::Bytes(_), ColType::String) => {}
            _ => self.widen_slow(ty, capacity),
        }
    }

    #[cold]
    fn widen_slow(&mut self, ty: ColType, capacity: usize) {
        let widened = match (&mut *self, ty) {
            (ColumnBuild::Null(n), ty) => {
                let mut b = ColumnBuild::new(ty, capacity);
                (0..*n).for_each(|_| b.append_null());
                b
            }
            (ColumnBuild::Int(ints), ColType::Float) => {
                let ints = ints.finish();
                let mut floats = Float32Builder::with_capacity(capacity);
                ints.iter()
                    .for_each(|i| floats.append_option(i.map(float_of_int)));
                ColumnBuild::Float(floats)
            }
            _ => return,
        };
        *self = widened;
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuild::Null(n) => Arc::new(NullArray::new(n)),
            ColumnBuild::Int(mut b) => Arc::new(b.finish()),
            ColumnBuild::Float(mut b) => Arc::new(b.finish()),
            ColumnBuild::Text(mut b) => Arc::new(b.finish()),
            ColumnBuild::Bytes(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Builds the batches of the chunks of one range while it is inferred.
pub(super) struct ChunkBuilder<'a> {
    budget: &'a HoldBudget,
    batch_size: usize,
    columns: Vec<ColumnBuild>,
    /// Rows in the batch being built, and its first row.
    rows: usize,
    first_row: u64,
    /// Bytes read after the last record pushed.
    position: u64,
    batches: Vec<HeldBatch>,
    bytes: u64,
    /// A chunk has been started and not ended.
    in_chunk: bool,
    /// This chunk is not being kept (a number turned BYTES, a declared
    /// type did not parse, or the budget ran out).
    lost: bool,
    /// The budget ran out: nothing more of this range is kept.
    spent: bool,
    /// The range's chunks so far, `None` where one was not kept.
    pub chunks: Vec<Option<HeldChunk>>,
}

impl<'a> ChunkBuilder<'a> {
    pub fn new(budget: &'a HoldBudget, batch_size: usize) -> Self {
        Self {
            budget,
            batch_size: batch_size.max(1),
            columns: Vec::new(),
            rows: 0,
            first_row: 0,
            position: 0,
            batches: Vec::new(),
            bytes: 0,
            in_chunk: false,
            lost: true,
            spent: false,
            chunks: Vec::new(),
        }
    }

    /// Ends the chunk being built (if any) and starts one at `row` (its
    /// row in the range, from 0).
    pub fn start_chunk(&mut self, row: u64, columns: &[Column]) {
        self.end_chunk(columns);
        self.in_chunk = true;
        self.lost = self.spent;
        self.start_batch(row, columns);
    }

    /// Ends the chunk being built, if any.
    pub fn end_chunk(&mut self, columns: &[Column]) {
        if !std::mem::take(&mut self.in_chunk) {
            return;
        }
        self.finish_batch();
        let chunk = (!self.lost).then(|| HeldChunk {
            batches: std::mem::take(&mut self.batches),
            built: columns.iter().map(|c| c.ty).collect(),
            bytes: std::mem::take(&mut self.bytes),
        });
        self.chunks.push(chunk);
        self.columns.clear();
    }

    fn start_batch(&mut self, row: u64, columns: &[Column]) {
        self.first_row = row;
        self.rows = 0;
        self.columns = match self.lost {
            true => Vec::new(),
            false => columns
                .iter()
                .map(|c| ColumnBuild::new(c.ty, self.batch_size))
                .collect(),
        };
    }

    fn finish_batch(&mut self) {
        if self.lost || self.rows == 0 {
            return;
        }
        let arrays: Vec<ArrayRef> = std::mem::take(&mut self.columns)
            .into_iter()
            .map(ColumnBuild::finish)
            .collect();
        let bytes: u64 = arrays
            .iter()
            .map(|a| a.get_array_memory_size() as u64)
            .sum();
        if !self.budget.take(bytes) {
            self.spent = true;
            self.lose();
            return;
        }
        self.bytes += bytes;
        self.batches.push(HeldBatch {
            row: self.first_row,
            rows: self.rows,
            arrays,
            position: self.position,
        });
    }

    /// Drops the chunk being built.
    fn lose(&mut self) {
        self.lost = true;
        self.batches.clear();
        self.columns.clear();
        self.budget.give_back(std::mem::take(&mut self.bytes));
    }

    /// Infers and keeps one record (`row` its row in the range, counted
    /// from 0; `position` the bytes read after it), as the inference pass
    /// would infer it: `columns` take the types and UTF-8 validity of its
    /// values.
    pub fn push(&mut self, rec: &Record<'_>, columns: &mut [Column], row: u64, position: u64) {
        if !self.lost && self.rows == self.batch_size {
            self.finish_batch();
            if !self.lost {
                self.start_batch(row, columns);
            }
        }
        self.position = position;
        let record_text = rec.text();
        let record_utf8 = record_text.is_some();
        let capacity = self.batch_size;
        for (i, (c, v)) in columns.iter_mut().zip(rec.iter()).enumerate() {
            if self.lost {
                break;
            }
            let b = &mut self.columns[i];
            if v.is_empty() {
                b.append_null();
                continue;
            }
            // The common case: a plain number of the column's type. An
            // integer's negative zero takes the path below.
            match plain_number(v) {
                Some(PlainNumber::Int(0)) if v[0] == b'-' => {}
                Some(n) if b.append_plain(c.ty, n) => continue,
                _ => {}
            }
            let kept = match (c.ty, c.declared) {
                (ColType::String, _) => {
                    let text = rec.field_text(record_text, i);
                    if text.is_none() {
                        c.utf8 = false;
                    }
                    b.widen(ColType::String, capacity);
                    b.append_string(v, text)
                }
                (ColType::Int, true) => match (b, parse_py_int(v)) {
                    (ColumnBuild::Int(b), Ok(Some(n))) => {
                        b.append_value(n);
                        true
                    }
                    _ => false,
                },
                (ColType::Float, true) => match (b, parse_py_float(v)) {
                    (ColumnBuild::Float(b), Some(f)) => {
                        b.append_value(f as f32);
                        true
                    }
                    _ => false,
                },
                (ty, _) => {
                    let parsed = Parsed::of_value(v);
                    let t = parsed.ty();
                    if t > ty {
                        c.ty = t;
                    }
                    let text = match c.ty {
                        ColType::String => rec.field_text(record_text, i),
                        _ => None,
                    };
                    if c.ty == ColType::String {
                        if text.is_none() {
                            c.utf8 = false;
                        }
                        // A number column turned BYTES: its text is gone.
                        if ty != ColType::Unknown {
                            self.lose();
                            continue;
                        }
                    }
                    b.widen(c.ty, capacity);
                    match (b, parsed) {
                        // "-0" read as a FLOAT is -0.0, which an INT column
                        // turned FLOAT would have lost: the chunk is read
                        // from the file instead.
                        (ColumnBuild::Int(_), Parsed::Int(0)) if v[0] == b'-' => false,
                        (ColumnBuild::Int(b), Parsed::Int(n)) => {
                            b.append_value(n);
                            true
                        }
                        (ColumnBuild::Float(b), Parsed::Int(0)) if v[0] == b'-' => {
                            b.append_value(-0.0);
                            true
                        }
                        (ColumnBuild::Float(b), Parsed::Int(n)) => {
                            b.append_value(float_of_int(n));
                            true
                        }
                        (ColumnBuild::Float(b), Parsed::Float(f)) => {
                            b.append_value(f as f32);
                            true
                        }
                        // False (not reached: the column was widened
                        // to the value's type) has the file read instead.
                        (b, Parsed::Bytes) => b.append_string(v, text),
                        // Not reached either.
                        _ => false,
                    }
                }
            };
            if !kept {
                // A declared type the value is not (the read reports it),
                // or a builder that is not the column's type.
                self.lose();
            }
        }
        if self.lost {
            // Go on inferring this record's other values.
            for (c, v) in columns.iter_mut().zip(rec.iter()) {
                super::csv_infer::infer_value(c, v, record_utf8);
            }
            return;
        }
        self.rows += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::path::Path;

    use datafusion::arrow::compute::concat_batches;

    use super::super::csv::{
        bad_int_after_quoted_newlines, written_input, ColType, CsvOptions, CsvSource, Parsed,
    };
    use crate::input::InputFile;

    fn gz(dir: &Path, name: &str, bytes: &[u8]) -> InputFile {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        written_input(dir, name, e.finish().unwrap())
    }

    fn options(hold_bytes: u64) -> CsvOptions {
        CsvOptions {
            batch_size: 7,
            chunk_bytes: 900,
            hold_bytes,
            ..Default::default()
        }
    }

    /// Every row of every part of `source` split `n` ways, as one batch per
    /// file in row order.
    fn read(source: &CsvSource, n: usize) -> crate::error::Result<Vec<RecordBatchRows>> {
        let mut got = Vec::new();
        for (part, ids) in source.split(n) {
            for b in part.batches() {
                let (file, row, batch, _) = b?;
                let file = ids.as_ref().map_or(file, |ids| ids[file]);
                got.push((file, row, batch));
            }
        }
        got.sort_by_key(|(f, r, _)| (*f, *r));
        let files = got.iter().map(|(f, _, _)| *f).max().map_or(0, |f| f + 1);
        Ok((0..files)
            .map(|f| {
                let parts: Vec<_> = got.iter().filter(|(g, _, _)| *g == f).collect();
                let mut next = 0;
                for (_, row, batch) in &parts {
                    assert_eq!(*row, next, "file {f}: rows in order, each once");
                    next += batch.num_rows() as u64;
                }
                let batches: Vec<_> = parts.iter().map(|(_, _, b)| b.clone()).collect();
                concat_batches(&source.schema(), &batches).unwrap()
            })
            .collect())
    }

    type RecordBatchRows = datafusion::arrow::record_batch::RecordBatch;

    /// A file whose columns change type as it goes: `late` has no value
    /// for a while, then integers, then a float (INT → FLOAT in the batch
    /// being built and in those built); `text` has bytes that are not
    /// UTF-8 and quoted newlines; `none` stays empty. With `to_bytes`,
    /// `turns` is integers until one value that is text and `big` floats
    /// until an integer outside int64 (both BYTES: the chunks built with
    /// them as numbers are read again); else both stay numbers. `big` has
    /// a -0 (-0.0 as a FLOAT).
    fn mixed(to_bytes: bool) -> Vec<u8> {
        let mut text = b"late,turns,big,text,none\n".to_vec();
        for i in 0..600u64 {
            let late = match i {
                0..40 => String::new(),
                333 => "2.5".into(),
                _ if i % 5 == 0 => String::new(),
                _ => (i * 1_000_003).to_string(),
            };
            let turns = match i {
                410 if to_bytes => "n/a".into(),
                _ => i.to_string(),
            };
            let big = match i {
                500 if to_bytes => "99999999999999999999".into(),
                201 => "-0".into(),
                _ => format!("{i}.25"),
            };
            text.extend_from_slice(format!("{late},{turns},{big},").as_bytes());
            match i % 61 {
                7 => text.extend_from_slice(b"\"two\nlines, quoted\""),
                30 => text.extend_from_slice(b"\xff\xfe"),
                _ => text.extend_from_slice(format!("t{}", i % 13).as_bytes()),
            }
            text.extend_from_slice(b",\n");
            if i % 97 == 0 {
                text.extend_from_slice(b"\n");
            }
        }
        text
    }

    /// Held batches are the batches a read of the files gives, for every
    /// way the input splits: a large file in chunks (inferred in parallel
    /// ranges where the machine has two cores), a compressed one read
    /// whole (inferred sequentially), a small one; in two orders. Without
    /// a number turning BYTES every chunk is held (INT → FLOAT and empty
    /// columns converted); with one, the chunks built with the number are
    /// read again instead.
    #[test]
    fn held_batches_are_what_reading_the_files_gives() {
        for to_bytes in [false, true] {
            let d = tempfile::tempdir().unwrap();
            let text = mixed(to_bytes);
            let plain_file = written_input(d.path(), "a.csv", &text);
            let gz_file = gz(d.path(), "b.csv.gz", &text);
            let small = written_input(d.path(), "c.csv", b"late,turns,big,text,none\n1,2,3.5,x,\n");
            let orders = [
                vec![plain_file.clone(), gz_file.clone(), small.clone()],
                vec![gz_file, plain_file, small],
            ];
            let want_types = match to_bytes {
                false => ["Float32", "Int64", "Float32", "Binary", "Null"],
                true => ["Float32", "Utf8", "Utf8", "Binary", "Null"],
            };
            for files in orders {
                let plain = CsvSource::open(files.clone(), options(0)).unwrap();
                let types: Vec<_> = plain
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.data_type().to_string())
                    .collect();
                assert_eq!(types, want_types);
                let want = read(&plain, 1).unwrap();
                for n in [1, 2, 3, 16] {
                    let held = CsvSource::open(files.clone(), options(1 << 30)).unwrap();
                    assert_eq!(held.schema(), plain.schema());
                    let counts = held.held_counts();
                    let all = counts.iter().all(|&(h, chunks)| h == chunks && h > 0);
                    assert_eq!(all, !to_bytes, "{counts:?}");
                    assert_eq!(read(&held, n).unwrap(), want, "{n} parts");
                }
            }
        }
    }

    /// Regression: an integer `-0` in a column that turns FLOAT later
    /// was held as the integer 0 and converted to 0.0, where the file's
    /// read gives -0.0. Its chunk is now read from the file.
    #[test]
    fn an_integer_negative_zero_in_a_column_turned_float_is_negative_zero() {
        use datafusion::arrow::array::AsArray;
        use datafusion::arrow::datatypes::Float32Type;
        let d = tempfile::tempdir().unwrap();
        let mut text = String::from("x,y\n");
        for i in 0..50 {
            let x = match i {
                10 => "-0".to_string(),
                40 => "2.5".to_string(),
                _ => i.to_string(),
            };
            let y = if i == 0 { "0.5" } else { "-0" };
            text.push_str(&format!("{x},{y}\n"));
        }
        let f = written_input(d.path(), "f.csv", &text);
        let plain = CsvSource::open(vec![f.clone()], options(0)).unwrap();
        let held = CsvSource::open(vec![f], options(1 << 30)).unwrap();
        let (want, got) = (read(&plain, 1).unwrap(), read(&held, 1).unwrap());
        assert_eq!(got, want);
        for batch in [&want[0], &got[0]] {
            for c in 0..2 {
                let floats = batch.column(c).as_primitive::<Float32Type>();
                let zero = if c == 0 { 10 } else { 3 };
                assert_eq!(
                    floats.value(zero).to_bits(),
                    (-0.0f32).to_bits(),
                    "column {c}"
                );
            }
        }
    }

    /// A source with a budget reads its first time from memory (its files
    /// removed, the read still gives every row) and its second time from
    /// the files; without a budget, or with one too small for a batch, it
    /// reads the files.
    #[test]
    fn the_first_read_of_a_held_source_needs_no_file() {
        let d = tempfile::tempdir().unwrap();
        let mut text = b"id,price,note\n".to_vec();
        for i in 0..500 {
            text.extend_from_slice(format!("{i},{}.5,n{}\n", i * 2, i % 9).as_bytes());
        }
        let files = vec![
            written_input(d.path(), "f.csv", &text),
            gz(d.path(), "g.csv.gz", &text),
        ];
        let want = read(&CsvSource::open(files.clone(), options(0)).unwrap(), 1).unwrap();
        let held = CsvSource::open(files.clone(), options(1 << 30)).unwrap();
        let small = CsvSource::open(files.clone(), options(64)).unwrap();
        let none = CsvSource::open(files.clone(), options(0)).unwrap();
        for f in &files {
            std::fs::remove_file(&f.path).unwrap();
        }
        assert_eq!(read(&held, 3).unwrap(), want);
        let again = read(&held, 3).unwrap_err().to_string();
        assert!(
            again.contains("f.csv") || again.contains("g.csv.gz"),
            "{again}"
        );
        assert!(read(&small, 3).is_err());
        assert!(read(&none, 3).is_err());
    }

    /// Parsing a value types it as inference does.
    #[test]
    fn a_parsed_value_has_the_type_inference_gives_it() {
        for v in [
            "0",
            "-12",
            "1_000",
            "9223372036854775807",
            "9223372036854775808",
            "1.5",
            "-0.25",
            "1e3",
            "inf",
            "nan",
            " 7 ",
            "1.",
            ".5",
            "0x10",
            "abc",
            "12a",
            "-",
            "٣",
        ] {
            let v = v.as_bytes();
            assert_eq!(Parsed::of_value(v).ty(), ColType::of_value(v), "{v:?}");
        }
        assert_eq!(Parsed::of_value(b"1_000"), Parsed::Int(1000));
        assert_eq!(Parsed::of_value(b"-0.25"), Parsed::Float(-0.25));
    }

    /// A value that is not its declared type is reported at its row and
    /// line whether or not the inference pass held the batches.
    #[test]
    fn a_bad_declared_value_is_the_same_error_when_held() {
        let d = tempfile::tempdir().unwrap();
        let (file, declared) = bad_int_after_quoted_newlines(d.path());
        let files = vec![file];
        let errors: Vec<String> = [0, 1 << 30]
            .into_iter()
            .map(|hold| {
                let source = CsvSource::open(
                    files.clone(),
                    CsvOptions {
                        declared: Some(declared.clone()),
                        ..options(hold)
                    },
                )
                .unwrap();
                read(&source, 4).unwrap_err().to_string()
            })
            .collect();
        assert!(
            errors[0].contains("301") && errors[0].contains("602"),
            "{}",
            errors[0]
        );
        assert_eq!(errors[0], errors[1]);
    }
}
