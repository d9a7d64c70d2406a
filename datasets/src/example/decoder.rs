//! Decoding serialized `tf.train.Example`s and `tf.train.SequenceExample`s
//! into Arrow columns, one per feature: `List<Int64>`, `List<Float32>` or
//! `List<Binary>`.
//!
//! An absent feature and an empty `Feature` decode to a null list; a present
//! but empty value list decodes to an empty list. A SequenceExample's
//! context features decode the same way; its sequence features go into one
//! struct column, [`SEQUENCE_COLUMN`], with a list-of-lists child per
//! feature (one inner list per step), as tfx_bsl's SequenceExample decoder
//! gives them: an absent feature list is a null outer list, a step with an
//! empty `Feature` a null inner list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, BinaryBuilder, Float32Builder, Int64Builder, ListArray,
    ListBuilder, NullArray, NullBuilder, StructArray, UInt32Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use prost::Message;

use super::kind::{ArrowFeatureType, FeatureType};
use super::payload::{PayloadFormat, SEQUENCE_COLUMN};
use crate::proto::{Example, Feature, FeatureKind, FeatureList, SequenceExample};

/// The message of one record, decoded as `payload` says, as a
/// SequenceExample (a tf.Example is one with its features as the context
/// and no feature lists). A record that holds feature lists read as a
/// tf.Example is refused with a message that names `--payload-format`:
/// its sequence features would be dropped.
fn decode_record(payload: PayloadFormat, record: &[u8]) -> Result<SequenceExample, String> {
    match payload {
        PayloadFormat::Example => {
            let ex = Example::decode(record)
                .map_err(|e| format!("record is not a tf.train.Example: {e}"))?;
            if crate::proto::has_feature_lists(record) {
                return Err(
                    "record is a tf.train.SequenceExample (it has feature_lists): read \
                            it with --payload-format sequence_example; decoded as a \
                            tf.train.Example its sequence features would be dropped"
                        .to_string(),
                );
            }
            Ok(SequenceExample {
                context: ex.features,
                feature_lists: None,
            })
        }
        PayloadFormat::SequenceExample => SequenceExample::decode(record)
            .map_err(|e| format!("record is not a tf.train.SequenceExample: {e}")),
    }
}

/// Merges `kind` into the kind recorded for `name`.
fn merge_kind(
    slot: &mut FeatureType,
    kind: FeatureType,
    name: &str,
    what: &str,
) -> Result<(), String> {
    match (*slot, kind) {
        (a, b) if a == b => {}
        (_, FeatureType::Unknown) => {}
        (FeatureType::Unknown, k) => *slot = k,
        (a, b) => {
            return Err(format!(
                "feature '{name}' is {} in one {what} and {} in another",
                a.name(),
                b.name()
            ))
        }
    }
    Ok(())
}

/// Feature names and kinds, in key order, observed over a set of records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureSchema {
    payload: PayloadFormat,
    /// Features (a SequenceExample's context features).
    features: BTreeMap<String, FeatureType>,
    /// Features seen with more than one value in some example.
    multi_valued: BTreeSet<String>,
    /// A SequenceExample's sequence features.
    sequence: BTreeMap<String, FeatureType>,
}

impl FeatureSchema {
    /// An empty schema for records of `payload`.
    pub fn new(payload: PayloadFormat) -> Self {
        Self {
            payload,
            ..Default::default()
        }
    }

    /// The message the records hold.
    pub fn payload(&self) -> PayloadFormat {
        self.payload
    }

    /// Adds what one serialized record shows; errors when it does not
    /// decode or a feature changes kind.
    pub fn observe_record(&mut self, record: &[u8]) -> Result<(), String> {
        let seq = decode_record(self.payload, record)?;
        if let Some(map) = seq.context_map() {
            self.observe_features(map)?;
        }
        for (name, list) in seq.feature_list_map().into_iter().flatten() {
            let slot = self
                .sequence
                .entry(name.clone())
                .or_insert(FeatureType::Unknown);
            for step in &list.feature {
                merge_kind(slot, step.kind_type(), name, "step")?;
            }
        }
        Ok(())
    }

    fn observe_features(&mut self, map: &BTreeMap<String, Feature>) -> Result<(), String> {
        for (name, feature) in map {
            if feature.value_count() > 1 {
                self.multi_valued.insert(name.clone());
            }
            let slot = self
                .features
                .entry(name.clone())
                .or_insert(FeatureType::Unknown);
            merge_kind(slot, feature.kind_type(), name, "example")?;
        }
        Ok(())
    }

    /// Merges another observation.
    pub fn merge(&mut self, other: &FeatureSchema) -> Result<(), String> {
        self.multi_valued.extend(other.multi_valued.iter().cloned());
        for (name, kind) in &other.features {
            let slot = self
                .features
                .entry(name.clone())
                .or_insert(FeatureType::Unknown);
            merge_kind(slot, *kind, name, "file")?;
        }
        for (name, kind) in &other.sequence {
            let slot = self
                .sequence
                .entry(name.clone())
                .or_insert(FeatureType::Unknown);
            merge_kind(slot, *kind, name, "file")?;
        }
        Ok(())
    }

    /// The features in key order (a SequenceExample's context features).
    pub fn features(&self) -> impl Iterator<Item = (&str, FeatureType)> {
        self.features.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The sequence features in key order.
    pub fn sequence_features(&self) -> impl Iterator<Item = (&str, FeatureType)> {
        self.sequence.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// True when no observed example has more than one value of `name`.
    pub fn is_single_valued(&self, name: &str) -> bool {
        !self.multi_valued.contains(name)
    }

    /// The Arrow schema of decoded batches: the features in key order, then
    /// the [`SEQUENCE_COLUMN`] struct when there are sequence features.
    pub fn arrow_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .features
            .iter()
            .map(|(name, kind)| match kind {
                FeatureType::Unknown => Field::new(name, DataType::Null, true),
                k => Field::new(name, list_type(k.arrow_type()), true),
            })
            .collect();
        if !self.sequence.is_empty() {
            fields.push(Field::new(
                SEQUENCE_COLUMN,
                DataType::Struct(self.sequence_fields()),
                true,
            ));
        }
        Arc::new(Schema::new(fields))
    }

    fn sequence_fields(&self) -> Fields {
        self.sequence
            .iter()
            .map(|(name, kind)| Field::new(name, list_type(list_type(kind.arrow_type())), true))
            .collect()
    }
}

/// `List<item>` with a nullable item field named "item".
fn list_type(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// A builder that appends one `Feature` as one value list.
trait ValueListBuilder: ArrayBuilder {
    /// Appends the feature's values as one list (a null list when it has
    /// no value list); false when its kind is not the builder's.
    fn append_feature(&mut self, feature: &Feature) -> bool;
    /// Appends a null list (an absent feature).
    fn append_absent(&mut self);
}

macro_rules! value_list_builder {
    ($values:ty, $variant:ident, |$b:ident, $l:ident| $append:expr) => {
        impl ValueListBuilder for ListBuilder<$values> {
            fn append_feature(&mut self, feature: &Feature) -> bool {
                match &feature.kind {
                    None => self.append(false),
                    Some(FeatureKind::$variant($l)) => {
                        let $b = self.values();
                        $append;
                        self.append(true);
                    }
                    Some(_) => return false,
                }
                true
            }
            fn append_absent(&mut self) {
                self.append(false)
            }
        }
    };
}

value_list_builder!(Int64Builder, Int64List, |b, l| b.append_slice(&l.value));
value_list_builder!(Float32Builder, FloatList, |b, l| b.append_slice(&l.value));
value_list_builder!(BinaryBuilder, BytesList, |b, l| for v in &l.value {
    b.append_value(v)
});

/// Steps of a sequence feature whose steps never hold a value list.
impl ValueListBuilder for ListBuilder<NullBuilder> {
    fn append_feature(&mut self, feature: &Feature) -> bool {
        self.append(false);
        feature.kind.is_none()
    }
    fn append_absent(&mut self) {
        self.append(false)
    }
}

/// A builder that appends one `FeatureList` as a list of value lists.
trait StepsBuilder: ArrayBuilder {
    /// Appends the steps (a null list when the feature list is absent);
    /// false when a step's kind is not the builder's.
    fn append_steps(&mut self, steps: Option<&FeatureList>) -> bool;
}

impl<L: ValueListBuilder> StepsBuilder for ListBuilder<L> {
    fn append_steps(&mut self, steps: Option<&FeatureList>) -> bool {
        let Some(steps) = steps else {
            self.append(false);
            return true;
        };
        for step in &steps.feature {
            if !self.values().append_feature(step) {
                return false;
            }
        }
        self.append(true);
        true
    }
}

fn value_list_builder(kind: FeatureType) -> Option<Box<dyn ValueListBuilder>> {
    Some(match kind {
        FeatureType::Unknown | FeatureType::Struct => return None,
        FeatureType::Int => Box::new(ListBuilder::new(Int64Builder::new())),
        FeatureType::Float => Box::new(ListBuilder::new(Float32Builder::new())),
        FeatureType::Bytes => Box::new(ListBuilder::new(BinaryBuilder::new())),
    })
}

fn steps_builder(kind: FeatureType) -> Box<dyn StepsBuilder> {
    match kind {
        FeatureType::Unknown | FeatureType::Struct => {
            Box::new(ListBuilder::new(ListBuilder::new(NullBuilder::new())))
        }
        FeatureType::Int => Box::new(ListBuilder::new(ListBuilder::new(Int64Builder::new()))),
        FeatureType::Float => Box::new(ListBuilder::new(ListBuilder::new(Float32Builder::new()))),
        FeatureType::Bytes => Box::new(ListBuilder::new(ListBuilder::new(BinaryBuilder::new()))),
    }
}

/// Decodes serialized records into record batches of a fixed [`FeatureSchema`].
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
        // `None` for a feature that never has a value (a NullArray).
        let mut builders: Vec<Option<Box<dyn ValueListBuilder>>> = self
            .schema
            .features
            .values()
            .map(|k| value_list_builder(*k))
            .collect();
        let mut steps: Vec<Box<dyn StepsBuilder>> = self
            .schema
            .sequence
            .values()
            .map(|k| steps_builder(*k))
            .collect();
        let mut rows = 0usize;
        let mut seen = vec![false; builders.len()];
        for (i, rec) in records.into_iter().enumerate() {
            let seq = decode_record(self.schema.payload, rec).map_err(|m| (i, m))?;
            seen.iter_mut().for_each(|s| *s = false);
            for (name, feature) in seq.context_map().into_iter().flatten() {
                let Some(&c) = index.get(name.as_str()) else {
                    return Err((i, format!("feature '{name}' is not in the schema")));
                };
                seen[c] = true;
                let ok = match &mut builders[c] {
                    None => feature.kind.is_none(),
                    Some(b) => b.append_feature(feature),
                };
                if !ok {
                    return Err((
                        i,
                        format!("feature '{name}' has a different kind than the schema says"),
                    ));
                }
            }
            for (c, s) in seen.iter().enumerate() {
                if let (false, Some(b)) = (s, &mut builders[c]) {
                    b.append_absent();
                }
            }
            if !steps.is_empty() {
                let lists = seq.feature_list_map();
                if let Some(name) = lists
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .find(|k| !self.schema.sequence.contains_key(*k))
                {
                    return Err((i, format!("sequence feature '{name}' is not in the schema")));
                }
                for ((name, _), b) in self.schema.sequence.iter().zip(steps.iter_mut()) {
                    if !b.append_steps(lists.and_then(|l| l.get(name))) {
                        return Err((
                            i,
                            format!(
                                "sequence feature '{name}' has a step of a different kind than \
                                 the schema says"
                            ),
                        ));
                    }
                }
            }
            rows += 1;
        }
        let mut columns: Vec<ArrayRef> = builders
            .into_iter()
            .map(|b| -> ArrayRef {
                match b {
                    None => Arc::new(NullArray::new(rows)),
                    Some(mut b) => b.finish(),
                }
            })
            .collect();
        if !steps.is_empty() {
            let children: Vec<ArrayRef> = steps.iter_mut().map(|b| b.finish()).collect();
            let fields = self.schema.sequence_fields();
            let sequence =
                StructArray::try_new(fields, children, None).map_err(|e| (0, e.to_string()))?;
            columns.push(Arc::new(sequence));
        }
        RecordBatch::try_new_with_options(
            self.arrow.clone(),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|e| (0, e.to_string()))
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
