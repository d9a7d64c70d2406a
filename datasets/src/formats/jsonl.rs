//! Newline-delimited JSON objects (optionally gzip-compressed), one example
//! per line. Schema inference and decoding use `arrow-json`; each line is
//! parsed on its own so errors name the row and line.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::reader::{infer_json_schema_from_iterator, ReaderBuilder};
use datafusion::arrow::record_batch::RecordBatch;

use crate::compression::Compression;
use crate::error::{DatasetError, Result};
use crate::example::{ArrowFeatureType, FeatureType};
use crate::input::InputFile;

fn open_lines(path: &Path) -> Result<Box<dyn BufRead + Send>> {
    let file = crate::store::read::open(path)?;
    let buffered = BufReader::with_capacity(1 << 20, file);
    let inner = Compression::from_file_name(&path.to_string_lossy())
        .unwrap_or(Compression::None)
        .reader(buffered);
    Ok(Box::new(BufReader::with_capacity(
        1 << 20,
        super::line_guard::LineGuard::new(inner, super::line_guard::MAX_LINE_BYTES),
    )))
}

/// Reads lines, skipping blank ones; yields `(row, line number, bytes)`.
struct Lines {
    path: std::path::PathBuf,
    reader: Box<dyn BufRead + Send>,
    line: u64,
    row: u64,
    buf: Vec<u8>,
}

impl Lines {
    fn open(path: &Path) -> Result<Self> {
        Ok(Self {
            path: path.to_path_buf(),
            reader: open_lines(path)?,
            line: 0,
            row: 0,
            buf: Vec::new(),
        })
    }

    fn next_line(&mut self) -> Result<Option<(u64, u64)>> {
        loop {
            self.buf.clear();
            let n = self.reader.read_until(b'\n', &mut self.buf).map_err(|e| {
                DatasetError::row(
                    &self.path,
                    self.row + 1,
                    self.line + 1,
                    format!("read error: {e}"),
                )
            })?;
            if n == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.row += 1;
            return Ok(Some((self.row, self.line)));
        }
    }
}

fn parse_error(path: &Path, row: u64, line: u64, text: &[u8]) -> Option<DatasetError> {
    match serde_json::from_slice::<serde_json::Value>(text) {
        Err(e) => Some(DatasetError::row(
            path,
            row,
            line,
            format!("invalid JSON: {e}"),
        )),
        Ok(v) if !v.is_object() => {
            Some(DatasetError::row(path, row, line, "expected a JSON object"))
        }
        Ok(_) => None,
    }
}

/// A set of JSON-lines files with one inferred schema.
#[derive(Debug, Clone)]
pub struct JsonlSource {
    pub(super) files: Vec<InputFile>,
    schema: SchemaRef,
    batch_size: usize,
}

impl JsonlSource {
    /// Infers the schema over every line of every file. Types `declared`
    /// by a schema win over inferred ones: an INT or FLOAT feature may be
    /// written as JSON strings (BigQuery exports INT64 as `"123"`), a BYTES
    /// one as numbers.
    pub fn open(
        files: Vec<InputFile>,
        batch_size: usize,
        declared: Option<&HashMap<String, FeatureType>>,
    ) -> Result<Self> {
        let mut schemas = Vec::new();
        for f in &files {
            let mut lines = Lines::open(&f.path)?;
            let mut first_error: Option<DatasetError> = None;
            let iter = std::iter::from_fn(|| {
                if first_error.is_some() {
                    return None;
                }
                match lines.next_line() {
                    Err(e) => {
                        first_error = Some(e);
                        Some(Err(ArrowError::ParseError("stopped".into())))
                    }
                    Ok(None) => None,
                    Ok(Some((row, line))) => {
                        match serde_json::from_slice::<serde_json::Value>(&lines.buf) {
                            Ok(v) if v.is_object() => Some(Ok(v)),
                            _ => {
                                first_error = parse_error(&f.path, row, line, &lines.buf);
                                Some(Err(ArrowError::ParseError("stopped".into())))
                            }
                        }
                    }
                }
            });
            let inferred = infer_json_schema_from_iterator(iter);
            if let Some(e) = first_error {
                return Err(e);
            }
            schemas.push(
                inferred.map_err(|e| {
                    DatasetError::file(&f.path, format!("cannot infer a schema: {e}"))
                })?,
            );
        }
        let mut merged: Vec<Field> = Vec::new();
        for (f, schema) in files.iter().zip(schemas) {
            let schema = match declared {
                Some(d) => with_declared(schema, d),
                None => schema,
            };
            for field in schema.fields() {
                match merged.iter_mut().find(|m| m.name() == field.name()) {
                    None => merged.push(field.as_ref().clone()),
                    Some(m) => {
                        let t = widen(m.data_type(), field.data_type()).ok_or_else(|| {
                            DatasetError::file(
                                &f.path,
                                format!(
                                    "field '{}' is {} here but {} in earlier files",
                                    field.name(),
                                    field.data_type(),
                                    m.data_type()
                                ),
                            )
                        })?;
                        *m = m.clone().with_data_type(t).with_nullable(true);
                    }
                }
            }
        }
        let schema = Schema::new(merged);
        Ok(Self {
            files,
            schema: Arc::new(schema),
            batch_size,
        })
    }

    /// Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Batches of every file in order, with the index of their file.
    pub fn batches(&self) -> impl Iterator<Item = Result<(usize, RecordBatch)>> + Send + 'static {
        let files = self.files.clone();
        let schema = self.schema.clone();
        let batch_size = self.batch_size;
        files.into_iter().enumerate().flat_map(move |(i, f)| {
            let mut state = FileBatches::open(&f.path, schema.clone(), batch_size);
            let mut done = false;
            std::iter::from_fn(move || {
                if done {
                    return None;
                }
                let r = match state.as_mut() {
                    Err(e) => {
                        done = true;
                        return Some(Err(DatasetError::Invalid(e.to_string())));
                    }
                    Ok(s) => s.next_batch(),
                };
                match r {
                    Ok(Some(b)) => Some(Ok((i, b))),
                    Ok(None) => {
                        done = true;
                        None
                    }
                    Err(e) => {
                        done = true;
                        Some(Err(e))
                    }
                }
            })
        })
    }
}

/// The type two files' inferences of one field agree on, as arrow-json
/// widens within a file: null gives way, integers widen to floats, any
/// scalar to text; lists widen their items.
fn widen(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (a, b) {
        _ if a == b => a.clone(),
        (Null, t) | (t, Null) => t.clone(),
        (Int64, Float64) | (Float64, Int64) => Float64,
        (List(x), List(y)) => List(Arc::new(
            x.as_ref()
                .clone()
                .with_data_type(widen(x.data_type(), y.data_type())?),
        )),
        (List(_), _) | (_, List(_)) | (Struct(_), _) | (_, Struct(_)) => return None,
        (Utf8, _) | (_, Utf8) => Utf8,
        _ => return None,
    })
}

/// `schema` with each declared INT, FLOAT or BYTES feature read as that
/// type (scalars and lists alike).
fn with_declared(schema: Schema, declared: &HashMap<String, FeatureType>) -> Schema {
    let retype = |dt: &DataType, kind: FeatureType| -> DataType {
        let scalar = match kind {
            FeatureType::Int => DataType::Int64,
            FeatureType::Float => DataType::Float64,
            FeatureType::Bytes => DataType::Utf8,
            // `declared_types` refuses STRUCT features.
            FeatureType::Unknown | FeatureType::Struct => return dt.clone(),
        };
        match dt {
            DataType::List(f) => {
                DataType::List(Arc::new(f.as_ref().clone().with_data_type(scalar)))
            }
            _ => scalar,
        }
    };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match declared.get(f.name()) {
            Some(&kind) if FeatureType::of_column(f.data_type()).map(|(k, _)| k) != Some(kind) => f
                .as_ref()
                .clone()
                .with_data_type(retype(f.data_type(), kind)),
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

struct FileBatches {
    lines: Lines,
    schema: SchemaRef,
    batch_size: usize,
}

impl FileBatches {
    fn open(path: &Path, schema: SchemaRef, batch_size: usize) -> Result<Self> {
        Ok(Self {
            lines: Lines::open(path)?,
            schema,
            batch_size,
        })
    }

    fn decoder(&self) -> Result<datafusion::arrow::json::reader::Decoder> {
        Ok(ReaderBuilder::new(self.schema.clone())
            .with_batch_size(self.batch_size)
            .with_coerce_primitive(true)
            .build_decoder()?)
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut decoder = self.decoder()?;
        let mut pending: Vec<(u64, u64, Vec<u8>)> = Vec::new();
        while pending.len() < self.batch_size {
            let Some((row, line)) = self.lines.next_line()? else {
                break;
            };
            let path = self.lines.path.clone();
            if let Err(e) = decoder.decode(&self.lines.buf) {
                return Err(parse_error(&path, row, line, &self.lines.buf)
                    .unwrap_or_else(|| DatasetError::row(&path, row, line, e.to_string())));
            }
            pending.push((row, line, std::mem::take(&mut self.lines.buf)));
        }
        if pending.is_empty() {
            return Ok(None);
        }
        match decoder.flush() {
            Ok(b) => Ok(b),
            Err(e) => {
                // Find the row at fault by decoding the batch's lines one at a time.
                for (row, line, text) in &pending {
                    let mut one = self.decoder()?;
                    if let Err(e) = one.decode(text).and_then(|_| one.flush()) {
                        return Err(DatasetError::row(
                            &self.lines.path,
                            *row,
                            *line,
                            e.to_string(),
                        ));
                    }
                }
                Err(DatasetError::file(&self.lines.path, e.to_string()))
            }
        }
    }
}
