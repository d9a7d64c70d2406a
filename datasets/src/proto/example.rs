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
