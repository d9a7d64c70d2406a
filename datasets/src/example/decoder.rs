//! Decoding serialized `tf.train.Example`s into Arrow list columns
//! (`List<Int64>`, `List<Float32>`, `List<Binary>`), one column per feature.
//!
//! An absent feature and an empty `Feature` decode to a null list; a present
//! but empty value list decodes to an empty list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BinaryBuilder, Float32Builder, Int64Builder, ListArray, ListBuilder,
    NullArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use prost::Message;

use super::kind::{ArrowFeatureType, FeatureType};
use crate::proto::{Example, FeatureKind};

/// Feature names and kinds, in key order, observed over a set of examples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureSchema {
    features: BTreeMap<String, FeatureType>,
    /// Features seen with more than one value in some example.
    multi_valued: BTreeSet<String>,
}

impl FeatureSchema {
    /// Adds what one example shows; errors when a feature changes kind.
    pub fn observe(&mut self, example: &Example) -> Result<(), String> {
        let Some(map) = example.feature_map() else {
            return Ok(());
        };
        for (name, feature) in map {
            if feature.value_count() > 1 {
                self.multi_valued.insert(name.clone());
            }
            let kind = match &feature.kind {
                None => FeatureType::Unknown,
                Some(FeatureKind::Int64List(_)) => FeatureType::Int,
                Some(FeatureKind::FloatList(_)) => FeatureType::Float,
                Some(FeatureKind::BytesList(_)) => FeatureType::Bytes,
            };
            let slot = self.features.entry(name.clone()).or_insert(kind);
            match (*slot, kind) {
                (a, b) if a == b => {}
                (_, FeatureType::Unknown) => {}
                (FeatureType::Unknown, k) => *slot = k,
                (a, b) => {
                    return Err(format!(
                        "feature '{name}' is {} in one example and {} in another",
                        a.name(),
                        b.name()
                    ))
                }
            }
        }
        Ok(())
    }

    /// Merges another observation.
    pub fn merge(&mut self, other: &FeatureSchema) -> Result<(), String> {
        self.multi_valued.extend(other.multi_valued.iter().cloned());
        for (name, kind) in &other.features {
            let slot = self.features.entry(name.clone()).or_insert(*kind);
            if *slot == FeatureType::Unknown {
                *slot = *kind;
            } else if *kind != FeatureType::Unknown && *slot != *kind {
                return Err(format!(
                    "feature '{name}' is {} in one file and {} in another",
                    slot.name(),
                    kind.name()
                ));
            }
        }
        Ok(())
    }

    /// The features in key order.
    pub fn features(&self) -> impl Iterator<Item = (&str, FeatureType)> {
        self.features.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// True when no observed example has more than one value of `name`.
    pub fn is_single_valued(&self, name: &str) -> bool {
        !self.multi_valued.contains(name)
    }

    /// The Arrow schema of decoded batches.
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .features
            .iter()
            .map(|(name, kind)| match kind {
                FeatureType::Unknown => Field::new(name, DataType::Null, true),
                k => Field::new(
                    name,
                    DataType::List(Arc::new(Field::new("item", k.arrow_type(), true))),
                    true,
                ),
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

enum ColumnBuilder {
    Null,
    Int(ListBuilder<Int64Builder>),
    Float(ListBuilder<Float32Builder>),
    Bytes(ListBuilder<BinaryBuilder>),
}

/// Decodes serialized examples into record batches of a fixed [`FeatureSchema`].
pub struct ExampleDecoder {
    schema: FeatureSchema,
    arrow: SchemaRef,
}

impl ExampleDecoder {
    /// A decoder producing batches of `schema`.
    pub fn new(schema: FeatureSchema) -> Self {
        let arrow = schema.arrow_schema();
        Self { schema, arrow }
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.arrow.clone()
    }

    /// Decodes `records`; `Err((index, message))` names the bad record.
    pub fn decode<'a>(
        &self,
        records: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<RecordBatch, (usize, String)> {
        let index: BTreeMap<&str, usize> = self
            .schema
            .features
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        let mut builders: Vec<ColumnBuilder> = self
            .schema
            .features
            .values()
            .map(|k| match k {
                // A tf.Example has no nested features: never Struct.
                FeatureType::Unknown | FeatureType::Struct => ColumnBuilder::Null,
                FeatureType::Int => ColumnBuilder::Int(ListBuilder::new(Int64Builder::new())),
                FeatureType::Float => ColumnBuilder::Float(ListBuilder::new(Float32Builder::new())),
                FeatureType::Bytes => ColumnBuilder::Bytes(ListBuilder::new(BinaryBuilder::new())),
            })
            .collect();
        let mut rows = 0usize;
        let mut seen = vec![false; builders.len()];
        for (i, rec) in records.into_iter().enumerate() {
            let ex = Example::decode(rec)
                .map_err(|e| (i, format!("not a valid tf.train.Example: {e}")))?;
            seen.iter_mut().for_each(|s| *s = false);
            if let Some(map) = ex.feature_map() {
                for (name, feature) in map {
                    let Some(&c) = index.get(name.as_str()) else {
                        return Err((i, format!("feature '{name}' is not in the schema")));
                    };
                    seen[c] = true;
                    let ok = match (&mut builders[c], &feature.kind) {
                        (ColumnBuilder::Null, None) => true,
                        (b, None) => {
                            append_null(b);
                            true
                        }
                        (ColumnBuilder::Int(b), Some(FeatureKind::Int64List(l))) => {
                            b.values().append_slice(&l.value);
                            b.append(true);
                            true
                        }
                        (ColumnBuilder::Float(b), Some(FeatureKind::FloatList(l))) => {
                            b.values().append_slice(&l.value);
                            b.append(true);
                            true
                        }
                        (ColumnBuilder::Bytes(b), Some(FeatureKind::BytesList(l))) => {
                            for v in &l.value {
                                b.values().append_value(v);
                            }
                            b.append(true);
                            true
                        }
                        _ => false,
                    };
                    if !ok {
                        return Err((
                            i,
                            format!("feature '{name}' has a different kind than the schema says"),
                        ));
                    }
                }
            }
            for (c, s) in seen.iter().enumerate() {
                if !s {
                    append_null(&mut builders[c]);
                }
            }
            rows += 1;
        }
        let columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Null => Arc::new(NullArray::new(rows)),
                    ColumnBuilder::Int(mut b) => Arc::new(b.finish()),
                    ColumnBuilder::Float(mut b) => Arc::new(b.finish()),
                    ColumnBuilder::Bytes(mut b) => Arc::new(b.finish()),
                }
            })
            .collect();
        RecordBatch::try_new_with_options(
            self.arrow.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| (0, e.to_string()))
    }
}

fn append_null(b: &mut ColumnBuilder) {
    match b {
        ColumnBuilder::Null => {}
        ColumnBuilder::Int(b) => b.append(false),
        ColumnBuilder::Float(b) => b.append(false),
        ColumnBuilder::Bytes(b) => b.append(false),
    }
}

/// A list column whose lists hold at most one value as a scalar column of
/// the item type (a null or empty list gives NULL); `Err(row)` names the
/// first row with more than one value.
pub fn list_to_scalar(list: &ListArray) -> Result<ArrayRef, usize> {
    let offsets = list.value_offsets();
    let mut indices = Vec::with_capacity(list.len());
    for row in 0..list.len() {
        let (start, end) = (offsets[row], offsets[row + 1]);
        match end - start {
            _ if list.is_null(row) => indices.push(None),
            0 => indices.push(None),
            1 => indices.push(Some(start as u32)),
            _ => return Err(row),
        }
    }
    let indices = UInt32Array::from(indices);
    datafusion::arrow::compute::take(list.values().as_ref(), &indices, None).map_err(|_| 0)
}
