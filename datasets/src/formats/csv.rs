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

use std::collections::HashMap;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, Float32Builder, Int64Builder, NullArray, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::pynum::{parse_py_float, parse_py_int};
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
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            batch_size: 8192,
            declared: None,
        }
    }
}

/// The inferred TFX column type; the order is TFX's type hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColType {
    Unknown,
    Int,
    Float,
    String,
}

impl ColType {
    fn of_value(v: &[u8]) -> ColType {
        if v.is_empty() {
            return ColType::Unknown;
        }
        // Fast path for plain decimals `-?digits.digits`, valid Python floats.
        let body = v.strip_prefix(b"-").unwrap_or(v);
        if let Some(dot) = body.iter().position(|&b| b == b'.') {
            let (int, frac) = (&body[..dot], &body[dot + 1..]);
            if !int.is_empty()
                && !frac.is_empty()
                && int.iter().all(u8::is_ascii_digit)
                && frac.iter().all(u8::is_ascii_digit)
            {
                return ColType::Float;
            }
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

#[derive(Debug, Clone)]
struct Column {
    name: String,
    ty: ColType,
    /// Every value is valid UTF-8 (strings become Utf8, else Binary).
    utf8: bool,
    declared: bool,
}

fn open_csv(path: &Path, delimiter: u8) -> Result<csv::Reader<Box<dyn Read + Send>>> {
    let file = crate::store::read::open(path)?;
    let buffered = BufReader::with_capacity(1 << 20, file);
    let inner = Compression::from_file_name(&path.to_string_lossy())
        .unwrap_or(Compression::None)
        .reader(buffered);
    let inner: Box<dyn Read + Send> = Box::new(super::line_guard::LineGuard::new(
        inner,
        super::line_guard::MAX_LINE_BYTES,
    ));
    Ok(csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(inner))
}

fn csv_err(path: &Path, row: u64, e: &csv::Error) -> DatasetError {
    // An I/O error has no position: the row's line when rows are one line each.
    let line = e.position().map_or(row + 1, |p| p.line());
    let msg = match e.kind() {
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    DatasetError::row(path, row, line, msg)
}

fn read_header(path: &Path, reader: &mut csv::Reader<Box<dyn Read + Send>>) -> Result<Vec<String>> {
    let mut rec = csv::ByteRecord::new();
    let got = reader
        .read_byte_record(&mut rec)
        .map_err(|e| csv_err(path, 0, &e))?;
    if !got {
        return Err(DatasetError::file(path, "empty file: no header line"));
    }
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

fn wrong_width(path: &Path, row: u64, rec: &csv::ByteRecord, expected: usize) -> DatasetError {
    let line = rec.position().map_or(0, |p| p.line());
    DatasetError::row(
        path,
        row,
        line,
        format!(
            "expected {expected} fields as in the header, found {}",
            rec.len()
        ),
    )
}

/// A CSV input: its layout (header and types) is fixed when it is opened.
#[derive(Debug, Clone)]
pub struct CsvSource {
    pub(super) files: Vec<InputFile>,
    columns: Vec<Column>,
    schema: SchemaRef,
    options: CsvOptions,
}

impl CsvSource {
    /// Opens the files, checks their headers and infers column types (one
    /// full pass, skipped when the user schema declares every column).
    pub fn open(files: Vec<InputFile>, options: CsvOptions) -> Result<Self> {
        let mut header: Option<(Vec<String>, &Path)> = None;
        for f in &files {
            let mut r = open_csv(&f.path, options.delimiter)?;
            let h = read_header(&f.path, &mut r)?;
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
        if columns
            .iter()
            .any(|c| !c.declared || c.ty == ColType::String)
        {
            infer(&files, &options, &mut columns)?;
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
        })
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The record batches of every file, in order.
    pub fn batches(&self) -> CsvBatches {
        CsvBatches {
            source: self.clone(),
            file: 0,
            reader: None,
            row: 0,
            record: csv::ByteRecord::new(),
        }
    }
}

/// Pass 1: TFX column type inference over all files (and UTF-8 validity).
fn infer(files: &[InputFile], options: &CsvOptions, columns: &mut [Column]) -> Result<()> {
    let width = columns.len();
    let mut rec = csv::ByteRecord::new();
    for f in files {
        let mut r = open_csv(&f.path, options.delimiter)?;
        read_header(&f.path, &mut r)?;
        let mut row = 0u64;
        loop {
            row += 1;
            match r.read_byte_record(&mut rec) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_err(&f.path, row, &e)),
            }
            if rec.len() != width {
                return Err(wrong_width(&f.path, row, &rec, width));
            }
            // One UTF-8 check per record; per field only when it fails.
            let record_utf8 = std::str::from_utf8(rec.as_slice()).is_ok();
            for (c, v) in columns.iter_mut().zip(rec.iter()) {
                if c.ty == ColType::String || (c.declared && !v.is_empty()) {
                    if c.utf8 && !record_utf8 && std::str::from_utf8(v).is_err() {
                        c.utf8 = false;
                    }
                    continue;
                }
                let t = ColType::of_value(v);
                if t > c.ty {
                    c.ty = t;
                }
                if c.ty == ColType::String && !record_utf8 && std::str::from_utf8(v).is_err() {
                    c.utf8 = false;
                }
            }
        }
    }
    Ok(())
}

enum Builder {
    Null,
    Int(Int64Builder),
    Float(Float32Builder),
    /// Built as bytes; validated as UTF-8 once per column when finished.
    Utf8(BinaryBuilder),
    Binary(BinaryBuilder),
}

/// Iterator over the record batches of a [`CsvSource`].
pub struct CsvBatches {
    source: CsvSource,
    file: usize,
    reader: Option<csv::Reader<Box<dyn Read + Send>>>,
    row: u64,
    record: csv::ByteRecord,
}

impl CsvBatches {
    fn path(&self) -> &Path {
        &self.source.files[self.file].path
    }

    fn next_batch(&mut self) -> Result<Option<(usize, RecordBatch, u64)>> {
        let size = self.source.options.batch_size.max(1);
        let width = self.source.columns.len();
        loop {
            if self.file >= self.source.files.len() {
                return Ok(None);
            }
            if self.reader.is_none() {
                let path = self.path().to_path_buf();
                let mut r = open_csv(&path, self.source.options.delimiter)?;
                read_header(&path, &mut r)?;
                self.reader = Some(r);
                self.row = 0;
            }
            let mut builders: Vec<Builder> = self
                .source
                .schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Int64 => Builder::Int(Int64Builder::with_capacity(size)),
                    DataType::Float32 => Builder::Float(Float32Builder::with_capacity(size)),
                    DataType::Utf8 => Builder::Utf8(BinaryBuilder::with_capacity(size, size * 16)),
                    DataType::Binary => {
                        Builder::Binary(BinaryBuilder::with_capacity(size, size * 16))
                    }
                    _ => Builder::Null,
                })
                .collect();
            let mut rows = 0usize;
            let file_index = self.file;
            let mut position = 0u64;
            while rows < size {
                self.row += 1;
                let reader = self.reader.as_mut().expect("reader is open");
                match reader.read_byte_record(&mut self.record) {
                    Ok(true) => position = reader.position().byte(),
                    Ok(false) => {
                        position = self.source.files[file_index].size;
                        self.reader = None;
                        self.file += 1;
                        break;
                    }
                    Err(e) => {
                        return Err(csv_err(&self.source.files[file_index].path, self.row, &e))
                    }
                }
                if self.record.len() != width {
                    return Err(wrong_width(self.path(), self.row, &self.record, width));
                }
                for (c, (b, v)) in builders.iter_mut().zip(self.record.iter()).enumerate() {
                    if v.is_empty() {
                        match b {
                            Builder::Null => {}
                            Builder::Int(b) => b.append_null(),
                            Builder::Float(b) => b.append_null(),
                            Builder::Utf8(b) => b.append_null(),
                            Builder::Binary(b) => b.append_null(),
                        }
                        continue;
                    }
                    match b {
                        Builder::Int(b) => match parse_py_int(v) {
                            Ok(Some(i)) => b.append_value(i),
                            _ => return Err(self.bad_value(c, v, "an INT")),
                        },
                        Builder::Float(b) => match parse_py_float(v) {
                            Some(f) => b.append_value(f as f32),
                            None => return Err(self.bad_value(c, v, "a FLOAT")),
                        },
                        Builder::Utf8(b) => b.append_value(v),
                        Builder::Binary(b) => b.append_value(v),
                        Builder::Null => {
                            return Err(self.bad_value(
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
                .map(|b| -> Result<ArrayRef> {
                    Ok(match b {
                        Builder::Null => Arc::new(NullArray::new(rows)),
                        Builder::Int(mut b) => Arc::new(b.finish()),
                        Builder::Float(mut b) => Arc::new(b.finish()),
                        // The inference pass found every value valid UTF-8.
                        Builder::Utf8(mut b) => Arc::new(StringArray::try_from_binary(b.finish())?),
                        Builder::Binary(mut b) => Arc::new(b.finish()),
                    })
                })
                .collect::<Result<_>>()?;
            let batch = RecordBatch::try_new_with_options(
                self.source.schema.clone(),
                arrays,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )?;
            let position = position.min(self.source.files[file_index].size);
            return Ok(Some((file_index, batch, position)));
        }
    }

    fn bad_value(&self, column: usize, value: &[u8], what: &str) -> DatasetError {
        let c = &self.source.columns[column];
        let why = if c.declared {
            " as the schema declares"
        } else {
            ""
        };
        let line = self.record.position().map_or(0, |p| p.line());
        DatasetError::row(
            self.path(),
            self.row,
            line,
            format!(
                "column '{}': value '{}' is not {what}{why}",
                c.name,
                String::from_utf8_lossy(&value[..value.len().min(80)])
            ),
        )
    }
}

impl Iterator for CsvBatches {
    /// The index of the file the batch came from, the batch, and how far
    /// into that file reading has got (bytes; approximate for `.gz`).
    type Item = Result<(usize, RecordBatch, u64)>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                // Stop after the first error.
                self.file = self.source.files.len();
                Some(Err(e))
            }
        }
    }
}
