//! Reading a [`CsvSource`]'s batches ([`CsvBatches`]): each unit of the
//! source (a whole file, or one chunk of a file) is tokenized and its
//! values parsed into the columns' types, or, where type inference held
//! that unit's batches (the `csv_held` module), given from memory.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, Float32Builder, Int64Builder, NullArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::csv::{open_csv_input, read_header_record, width_error, CsvSource, Unit};
use super::csv_held::{settle, HeldBatch};
use super::csv_tokens::CsvRecords;
use super::pynum::{parse_py_float, parse_py_int};
use crate::error::{DatasetError, Result};

enum Builder {
    /// A column not in the projection: its values are not looked at.
    Skip,
    Null,
    Int(Int64Builder),
    Float(Float32Builder),
    /// Built as text: each value cut from its record's one UTF-8 check.
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
}

/// Iterator over the record batches of a [`CsvSource`].
pub struct CsvBatches {
    /// The batches' schema (the source's projected one).
    schema: SchemaRef,
    source: CsvSource,
    units: Vec<Unit>,
    unit: usize,
    reader: Option<CsvRecords>,
    /// Rows of the file before the next record.
    row: u64,
    /// Lines of the file before the reader's start.
    lines_before: u64,
    /// The byte the reader started at.
    start: u64,
    /// The held batches of the current unit being given out.
    serving: Option<std::vec::IntoIter<HeldBatch>>,
}

impl CsvBatches {
    pub(super) fn new(source: CsvSource, units: Vec<Unit>) -> Self {
        Self {
            schema: source.schema(),
            source,
            units,
            unit: 0,
            reader: None,
            row: 0,
            lines_before: 0,
            start: 0,
            serving: None,
        }
    }

    /// Opens the reader of the current unit.
    fn open_unit(&mut self) -> Result<()> {
        let unit = self.units[self.unit];
        let path = self.source.files[unit.file].path.clone();
        let delimiter = self.source.options.delimiter;
        match unit.chunk {
            None => {
                let mut r = CsvRecords::new(open_csv_input(&path, 0, None, None)?, delimiter);
                read_header_record(&path, &mut r)?;
                self.reader = Some(r);
                (self.row, self.lines_before, self.start) = (0, 0, 0);
            }
            Some(c) => {
                let chunks = &self.source.chunks[unit.file];
                let chunk = chunks[c];
                let end = chunks
                    .get(c + 1)
                    .map_or(self.source.files[unit.file].size, |next| next.start);
                let len = end.saturating_sub(chunk.start);
                let input = open_csv_input(&path, chunk.start, Some(len), None)?;
                self.reader = Some(CsvRecords::new(input, delimiter));
                (self.row, self.lines_before, self.start) =
                    (chunk.row, chunk.line - 1, chunk.start);
            }
        }
        Ok(())
    }

    /// The next batch: its file, the row in that file of its first row,
    /// the batch, and how far into the file reading has got.
    fn next_batch(&mut self) -> Result<Option<(usize, u64, RecordBatch, u64)>> {
        let size = self.source.options.batch_size.max(1);
        let width = self.source.columns.len();
        loop {
            if self.unit >= self.units.len() {
                return Ok(None);
            }
            if let Some(serving) = &mut self.serving {
                match serving.next() {
                    Some(held) => return self.settled(held).map(Some),
                    None => {
                        self.serving = None;
                        self.unit += 1;
                        continue;
                    }
                }
            }
            if self.reader.is_none() {
                let unit = self.units[self.unit];
                let held = match unit.chunk {
                    Some(c) => self.source.held.take_chunk(unit.file, c),
                    None => self.source.held.take_file(unit.file),
                };
                if let Some(held) = held {
                    self.serving = Some(held.into_iter());
                    continue;
                }
                self.open_unit()?;
            }
            let first_row = self.row;
            let mut builders: Vec<Builder> = self
                .source
                .schema
                .fields()
                .iter()
                .enumerate()
                .map(|(i, f)| match f.data_type() {
                    _ if self
                        .source
                        .projection
                        .as_ref()
                        .is_some_and(|keep| !keep.contains(&i)) =>
                    {
                        Builder::Skip
                    }
                    DataType::Int64 => Builder::Int(Int64Builder::with_capacity(size)),
                    DataType::Float32 => Builder::Float(Float32Builder::with_capacity(size)),
                    DataType::Utf8 => Builder::Utf8(StringBuilder::with_capacity(size, size * 16)),
                    DataType::Binary => {
                        Builder::Binary(BinaryBuilder::with_capacity(size, size * 16))
                    }
                    _ => Builder::Null,
                })
                .collect();
            let has_text = builders.iter().any(|b| matches!(b, Builder::Utf8(_)));
            let mut rows = 0usize;
            let file_index = self.units[self.unit].file;
            let mut position = 0u64;
            let path = &self.source.files[file_index].path;
            while rows < size {
                self.row += 1;
                let reader = self.reader.as_mut().expect("reader is open");
                let rec = match reader.next_record() {
                    Ok(Some(rec)) => rec,
                    Ok(None) => {
                        position = self.start + reader.position();
                        if self.units[self.unit].chunk.is_none() {
                            position = self.source.files[file_index].size;
                        }
                        self.row -= 1;
                        self.reader = None;
                        self.unit += 1;
                        break;
                    }
                    Err(e) => return Err(e.at(path, self.row, self.lines_before)),
                };
                position = self.start + rec.end;
                let line = rec.line + self.lines_before;
                if rec.len() != width {
                    return Err(width_error(path, self.row, line, rec.len(), width));
                }
                let bad = |c: usize, v: &[u8], what: &str| {
                    bad_value(&self.source, path, self.row, line, c, v, what)
                };
                // One UTF-8 check per record for the text columns.
                let text = match has_text {
                    true => rec.text(),
                    false => None,
                };
                for (c, (b, v)) in builders.iter_mut().zip(rec.iter()).enumerate() {
                    if v.is_empty() {
                        match b {
                            Builder::Skip | Builder::Null => {}
                            Builder::Int(b) => b.append_null(),
                            Builder::Float(b) => b.append_null(),
                            Builder::Utf8(b) => b.append_null(),
                            Builder::Binary(b) => b.append_null(),
                        }
                        continue;
                    }
                    match b {
                        Builder::Skip => {}
                        Builder::Int(b) => match parse_py_int(v) {
                            Ok(Some(i)) => b.append_value(i),
                            _ => return Err(bad(c, v, "an INT")),
                        },
                        Builder::Float(b) => match parse_py_float(v) {
                            Some(f) => b.append_value(f as f32),
                            None => return Err(bad(c, v, "a FLOAT")),
                        },
                        Builder::Utf8(b) => match rec.field_text(text, c) {
                            Some(t) => b.append_value(t),
                            // The inference pass found every value valid
                            // UTF-8: the file changed since.
                            None => return Err(bad(c, v, "valid UTF-8")),
                        },
                        Builder::Binary(b) => b.append_value(v),
                        Builder::Null => {
                            return Err(bad(
                                c,
                                v,
                                "empty (the column had no values when its type was inferred)",
                            ))
                        }
                    }
                }
                rows += 1;
            }
            if rows == 0 {
                continue;
            }
            let arrays: Vec<ArrayRef> = builders
                .into_iter()
                .filter(|b| !matches!(b, Builder::Skip))
                .map(|b| -> Result<ArrayRef> {
                    Ok(match b {
                        Builder::Skip | Builder::Null => Arc::new(NullArray::new(rows)),
                        Builder::Int(mut b) => Arc::new(b.finish()),
                        Builder::Float(mut b) => Arc::new(b.finish()),
                        Builder::Utf8(mut b) => Arc::new(b.finish()),
                        Builder::Binary(mut b) => Arc::new(b.finish()),
                    })
                })
                .collect::<Result<_>>()?;
            let batch = RecordBatch::try_new_with_options(
                self.schema.clone(),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )?;
            let position = position.min(self.source.files[file_index].size);
            return Ok(Some((file_index, first_row, batch, position)));
        }
    }

    /// A held batch of the current unit, as a read would give it.
    fn settled(&self, held: HeldBatch) -> Result<(usize, u64, RecordBatch, u64)> {
        let file = self.units[self.unit].file;
        let (row, position) = (held.row, held.position);
        let mut batch = settle(held, &self.source.schema)?;
        if let Some(keep) = &self.source.projection {
            batch = batch.project(keep)?;
        }
        let position = position.min(self.source.files[file].size);
        Ok((file, row, batch, position))
    }
}

/// The error of value `value` of column `column` at data row `row` (line
/// `line`) of `path`, which is not `what`.
fn bad_value(
    source: &CsvSource,
    path: &Path,
    row: u64,
    line: u64,
    column: usize,
    value: &[u8],
    what: &str,
) -> DatasetError {
    let c = &source.columns[column];
    let why = if c.declared {
        " as the schema declares"
    } else {
        ""
    };
    DatasetError::row(
        path,
        row,
        line,
        format!(
            "column '{}': value '{}' is not {what}{why}",
            c.name,
            String::from_utf8_lossy(&value[..value.len().min(80)])
        ),
    )
}

impl Iterator for CsvBatches {
    /// The index of the file the batch came from, the row in that file of
    /// its first row, the batch, and how far into that file reading has
    /// got (bytes; approximate for `.gz`).
    type Item = Result<(usize, u64, RecordBatch, u64)>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                // Stop after the first error.
                self.unit = self.units.len();
                Some(Err(e))
            }
        }
    }
}
