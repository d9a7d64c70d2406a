//! Protocol buffer messages, defined with prost derive macros (no protoc).
//!
//! Field numbers follow TensorFlow's `example.proto` and `feature.proto`.
//! tensorflow-metadata's messages (statistics) are in `weir-tfmd`.

pub mod example;

pub use example::{
    BytesList, Example, Feature, FeatureKind, FeatureList, FeatureLists, Features, FloatList,
    Int64List, SequenceExample,
};

/// True when `record` has a non-empty top-level field 2: a
/// `tf.train.SequenceExample`'s `feature_lists` (a `tf.train.Example` has
/// only field 1, `features`, which is also a SequenceExample's `context`).
/// Decoded as an Example, such a record would lose its sequence features
/// without a word, so readers refuse it. A malformed record is not one
/// (its decoding reports it).
pub fn has_feature_lists(record: &[u8]) -> bool {
    let mut at = 0usize;
    let varint = |at: &mut usize| -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *record.get(*at)?;
            *at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    while at < record.len() {
        let Some(key) = varint(&mut at) else {
            return false;
        };
        let (field, wire) = (key >> 3, key & 7);
        let skip = match wire {
            0 => varint(&mut at).map(|_| 0),
            1 => Some(8),
            2 => varint(&mut at),
            5 => Some(4),
            _ => None,
        };
        let Some(len) = skip.and_then(|l| usize::try_from(l).ok()) else {
            return false;
        };
        at = match at.checked_add(len) {
            Some(next) if next <= record.len() => next,
            _ => return false,
        };
        if field == 2 && wire == 2 && len > 0 {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn feature_lists_are_seen_and_examples_are_not() {
        let feature = [(
            "x".to_string(),
            Feature {
                kind: Some(FeatureKind::Int64List(Int64List { value: vec![1, 2] })),
            },
        )]
        .into_iter()
        .collect();
        let ex = Example {
            features: Some(Features { feature }),
        }
        .encode_to_vec();
        assert!(!has_feature_lists(&ex));
        // The same bytes as a SequenceExample's context, plus feature_lists.
        let mut seq = ex.clone();
        seq.extend_from_slice(&[0x12, 0x03, 0x0a, 0x01, 0x00]);
        assert!(has_feature_lists(&seq));
        assert!(!has_feature_lists(&[0x12, 0x7f]), "truncated: not one");
        assert!(!has_feature_lists(&[0x12, 0x00]), "empty feature_lists");
    }
}
