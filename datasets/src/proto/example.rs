//! `tf.train.Example` and friends (tensorflow/core/example/{example,feature}.proto).
//!
//! `Features.feature` is a `BTreeMap`, so prost encodes entries in key order:
//! the same bytes as TensorFlow's deterministic serialization.
//! Fields carry the names and numbers of the protos, which document them.
#![allow(missing_docs)]

use std::collections::BTreeMap;

/// `tf.train.Example`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Example {
    #[prost(message, optional, tag = "1")]
    pub features: Option<Features>,
}

/// `tf.train.Features`: a map from feature name to feature.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Features {
    #[prost(btree_map = "string, message", tag = "1")]
    pub feature: BTreeMap<String, Feature>,
}

/// `tf.train.Feature`: one of three value lists, or none (a missing value).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Feature {
    #[prost(oneof = "FeatureKind", tags = "1, 2, 3")]
    pub kind: Option<FeatureKind>,
}

/// The value list of a [`Feature`].
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum FeatureKind {
    #[prost(message, tag = "1")]
    BytesList(BytesList),
    #[prost(message, tag = "2")]
    FloatList(FloatList),
    #[prost(message, tag = "3")]
    Int64List(Int64List),
}

/// `tf.train.BytesList`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct BytesList {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub value: Vec<Vec<u8>>,
}

/// `tf.train.FloatList` (packed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct FloatList {
    #[prost(float, repeated, tag = "1")]
    pub value: Vec<f32>,
}

/// `tf.train.Int64List` (packed).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Int64List {
    #[prost(int64, repeated, tag = "1")]
    pub value: Vec<i64>,
}

impl Example {
    /// The features of this example (an empty map when unset).
    pub fn feature_map(&self) -> Option<&BTreeMap<String, Feature>> {
        self.features.as_ref().map(|f| &f.feature)
    }
}

impl Feature {
    /// Number of values in the feature's list (0 when it has none).
    pub fn value_count(&self) -> usize {
        match &self.kind {
            None => 0,
            Some(FeatureKind::BytesList(l)) => l.value.len(),
            Some(FeatureKind::FloatList(l)) => l.value.len(),
            Some(FeatureKind::Int64List(l)) => l.value.len(),
        }
    }
}

/// `tf.train.SequenceExample`: context features and, per sequence feature,
/// one `Feature` per step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SequenceExample {
    #[prost(message, optional, tag = "1")]
    pub context: Option<Features>,
    #[prost(message, optional, tag = "2")]
    pub feature_lists: Option<FeatureLists>,
}

/// `tf.train.FeatureLists`: a map from sequence feature name to its steps.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureLists {
    #[prost(btree_map = "string, message", tag = "1")]
    pub feature_list: BTreeMap<String, FeatureList>,
}

/// `tf.train.FeatureList`: one `Feature` per step.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FeatureList {
    #[prost(message, repeated, tag = "1")]
    pub feature: Vec<Feature>,
}

impl SequenceExample {
    /// The context features (`None` when unset).
    pub fn context_map(&self) -> Option<&BTreeMap<String, Feature>> {
        self.context.as_ref().map(|f| &f.feature)
    }

    /// The sequence features (`None` when unset).
    pub fn feature_list_map(&self) -> Option<&BTreeMap<String, FeatureList>> {
        self.feature_lists.as_ref().map(|f| &f.feature_list)
    }
}

impl Feature {
    /// The TFMD kind of the feature's value list (`Unknown` when it has none).
    pub fn kind_type(&self) -> weir_tfmd::FeatureType {
        use weir_tfmd::FeatureType;
        match &self.kind {
            None => FeatureType::Unknown,
            Some(FeatureKind::Int64List(_)) => FeatureType::Int,
            Some(FeatureKind::FloatList(_)) => FeatureType::Float,
            Some(FeatureKind::BytesList(_)) => FeatureType::Bytes,
        }
    }
}
