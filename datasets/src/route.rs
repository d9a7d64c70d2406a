//! Where each example goes: [`ExampleRouter`] encodes a batch of input rows
//! as `tf.train.Example`s and gives each its split (TFX's sha256 bucketing,
//! or the split folder it came from); [`shard_of`] gives its shard within
//! the split from its place in the input. Both depend on the row alone, not
//! on how the input was split into parts or in what order parts were read,
//! so ExampleGen writes the same shards in-process and on a cluster.

use std::path::PathBuf;

use crate::error::{DatasetError, Result};
use crate::example::{EncodedBatch, ExampleEncoder};
use crate::formats::SourceBatch;
use crate::proto::{Example, FeatureKind};
use crate::SplitConfig;
use datafusion::arrow::array::{Array, BinaryArray};
use datafusion::arrow::datatypes::SchemaRef;
use prost::Message;

/// The shard (of `shards`) of the example at row `row` of input file `file`:
/// a mix of the two (splitmix64), so shards are balanced and the rule needs
/// no count of the rows before it.
#[inline]
pub fn shard_of(file: usize, row: u64, shards: usize) -> usize {
    let mut z = (file as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(row)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % shards.max(1) as u64) as usize
}

/// Encodes input rows as examples and assigns their splits.
pub struct ExampleRouter {
    encoder: Option<ExampleEncoder>,
    /// Hash splitting; `None` when splits come from input folders.
    hash: Option<SplitConfig>,
    partition_feature: Option<String>,
    /// Split of each input file (used without hashing).
    file_split: Vec<usize>,
    files: Vec<PathBuf>,
}

impl ExampleRouter {
    /// A router for batches of `schema` (already serialized examples when
    /// `serialized_input`, as TFRecord inputs are).
    pub fn new(
        schema: &SchemaRef,
        serialized_input: bool,
        hash: Option<SplitConfig>,
        partition_feature: Option<String>,
        file_split: Vec<usize>,
        files: Vec<PathBuf>,
    ) -> Result<Self> {
        let encoder = if serialized_input {
            None
        } else {
            Some(
                ExampleEncoder::new(
                    schema,
                    partition_feature.as_deref().filter(|_| hash.is_some()),
                )
                .map_err(DatasetError::Invalid)?,
            )
        };
        Ok(Self {
            encoder,
            hash,
            partition_feature,
            file_split,
            files,
        })
    }

    /// The batch's examples and the split of each.
    pub fn route(&self, batch: &SourceBatch) -> Result<(EncodedBatch, Vec<usize>)> {
        let encoded = match (&batch.serialized, &self.encoder) {
            (Some(records), _) => EncodedBatch {
                examples: records.clone(),
                partition_spans: None,
            },
            (None, Some(enc)) => enc
                .encode(&batch.batch)
                .map_err(|m| DatasetError::file(self.path(batch.file), m))?,
            (None, None) => {
                return Err(DatasetError::Internal(
                    "no encoder for a columnar batch".into(),
                ))
            }
        };
        let splits = self.assign(batch, &encoded)?;
        Ok((encoded, splits))
    }

    fn path(&self, file: usize) -> &std::path::Path {
        self.files
            .get(file)
            .map_or(std::path::Path::new("?"), |p| p.as_path())
    }

    /// The split of every row.
    fn assign(&self, batch: &SourceBatch, encoded: &EncodedBatch) -> Result<Vec<usize>> {
        let n = encoded.examples.len();
        let Some(cfg) = &self.hash else {
            let split = self.file_split.get(batch.file).copied().ok_or_else(|| {
                DatasetError::Internal(format!("input file {} has no split", batch.file))
            })?;
            return Ok(vec![split; n]);
        };
        let ex = &encoded.examples;
        let path = self.path(batch.file);
        let mut out = Vec::with_capacity(n);
        match (&self.partition_feature, &encoded.partition_spans) {
            (None, _) => {
                for r in 0..n {
                    out.push(cfg.split_of(ex.value(r)));
                }
            }
            (Some(name), Some(spans)) => {
                for (r, &(s, l)) in spans.iter().enumerate() {
                    if l == 0 {
                        return Err(no_partition_value(path, batch.row + r as u64 + 1, name));
                    }
                    let bytes = &ex.value(r)[s as usize..(s + l) as usize];
                    out.push(cfg.split_of(bytes));
                }
            }
            (Some(name), None) => {
                for r in 0..n {
                    let key = serialized_partition_key(ex, r, name)
                        .map_err(|m| DatasetError::row(path, batch.row + r as u64 + 1, 0, m))?;
                    out.push(cfg.split_of(&key));
                }
            }
        }
        Ok(out)
    }
}

fn no_partition_value(path: &std::path::Path, row: u64, name: &str) -> DatasetError {
    DatasetError::row(
        path,
        row,
        0,
        format!(
            "partition feature '{name}' has no value (TFX requires an int64_list or bytes_list)"
        ),
    )
}

/// The serialized `Feature` `name` of a serialized example, as TFX hashes it.
fn serialized_partition_key(
    examples: &BinaryArray,
    row: usize,
    name: &str,
) -> Result<Vec<u8>, String> {
    let ex =
        Example::decode(examples.value(row)).map_err(|e| format!("not a tf.train.Example: {e}"))?;
    let feature = ex
        .feature_map()
        .and_then(|m| m.get(name))
        .ok_or_else(|| format!("partition feature '{name}' does not exist in the example"))?;
    match &feature.kind {
        Some(FeatureKind::Int64List(_)) | Some(FeatureKind::BytesList(_)) => {
            Ok(feature.encode_to_vec())
        }
        _ => Err(format!(
            "partition feature '{name}' must be an int64_list or bytes_list feature with a value"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_balanced_and_depend_on_the_row_alone() {
        let shards = 7;
        let mut counts = vec![0u64; shards];
        for file in 0..4 {
            for row in 0..7000u64 {
                let s = shard_of(file, row, shards);
                assert_eq!(s, shard_of(file, row, shards));
                counts[s] += 1;
            }
        }
        let expect = 4.0 * 7000.0 / shards as f64;
        for c in counts {
            assert!((c as f64 - expect).abs() < expect * 0.05, "{c} vs {expect}");
        }
        assert_eq!(shard_of(3, 5, 1), 0);
    }
}
