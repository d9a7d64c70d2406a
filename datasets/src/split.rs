//! Deterministic hash splits exactly as TFX's ExampleGen computes them:
//! `int(sha256(key).hexdigest(), 16) % total_buckets`, where the key is the
//! serialized example, or with a partition feature that feature's serialized
//! `Feature`; a split owns a contiguous bucket range, in declaration order.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::DatasetError;

/// One output split: its name and its number of hash buckets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SplitSpec {
    /// Split name (`train`, `eval`...), used in `Split-<name>` folders.
    pub name: String,
    /// Hash buckets given to this split.
    pub buckets: u32,
}

/// The splits of an ExampleGen run (`train=2,eval=1` by default).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SplitConfigFields")]
pub struct SplitConfig {
    splits: Vec<SplitSpec>,
    /// Cumulative upper bucket bounds, TFX's `buckets` list.
    #[serde(skip)]
    upper: Vec<u64>,
}

/// A [`SplitConfig`] as serialized: deserializing validates it and
/// derives the bucket bounds.
#[derive(serde::Deserialize)]
struct SplitConfigFields {
    splits: Vec<SplitSpec>,
}

impl TryFrom<SplitConfigFields> for SplitConfig {
    type Error = DatasetError;
    fn try_from(f: SplitConfigFields) -> Result<Self, DatasetError> {
        SplitConfig::new(f.splits)
    }
}

impl Default for SplitConfig {
    fn default() -> Self {
        "train=2,eval=1"
            .parse()
            .expect("default split config parses")
    }
}

impl SplitConfig {
    /// A config from `(name, buckets)` pairs.
    pub fn new(splits: Vec<SplitSpec>) -> Result<Self, DatasetError> {
        if splits.is_empty() {
            return Err(DatasetError::Invalid(
                "at least one split is required".into(),
            ));
        }
        let mut upper = Vec::with_capacity(splits.len());
        let mut total = 0u64;
        for (i, s) in splits.iter().enumerate() {
            validate_split_name(&s.name)?;
            if splits[..i].iter().any(|o| o.name == s.name) {
                return Err(DatasetError::Invalid(format!(
                    "split '{}' is given twice",
                    s.name
                )));
            }
            if s.buckets == 0 {
                return Err(DatasetError::Invalid(format!(
                    "split '{}' has 0 hash buckets; each split needs at least 1",
                    s.name
                )));
            }
            total += u64::from(s.buckets);
            upper.push(total);
        }
        if total > u64::from(u32::MAX) {
            return Err(DatasetError::Invalid(
                "too many hash buckets in total".into(),
            ));
        }
        Ok(Self { splits, upper })
    }

    /// The splits in order.
    pub fn splits(&self) -> &[SplitSpec] {
        &self.splits
    }

    /// Total number of hash buckets.
    pub fn total_buckets(&self) -> u64 {
        *self.upper.last().expect("at least one split")
    }

    /// Index of the split that `key` (serialized example or feature) goes to.
    #[inline]
    pub fn split_of(&self, key: &[u8]) -> usize {
        self.split_of_bucket(hash_bucket(key, self.total_buckets()))
    }

    /// Index of the split owning `bucket`: TFX's `bisect.bisect(buckets,
    /// bucket)`, the first split whose cumulative bound exceeds it.
    #[inline]
    pub fn split_of_bucket(&self, bucket: u64) -> usize {
        self.upper.partition_point(|&u| u <= bucket)
    }
}

/// `int(sha256(key).hexdigest(), 16) % modulus`.
#[inline]
pub fn hash_bucket(key: &[u8], modulus: u64) -> u64 {
    let digest = Sha256::digest(key);
    // Horner's rule over 64-bit limbs: acc < modulus < 2^32, so
    // acc * 2^64 + limb fits in u128. Four divisions instead of 32.
    let m = u128::from(modulus);
    digest.chunks_exact(8).fold(0u128, |acc, limb| {
        let limb = u64::from_be_bytes(limb.try_into().expect("8-byte limb"));
        ((acc << 64) | u128::from(limb)) % m
    }) as u64
}

/// Split names become folder names: letters, digits, `_` and `-` only.
pub fn validate_split_name(name: &str) -> Result<(), DatasetError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DatasetError::Invalid(format!(
            "invalid split name '{name}': use letters, digits, '_' and '-'"
        )));
    }
    Ok(())
}

impl FromStr for SplitConfig {
    type Err = DatasetError;
    /// Parses `name=buckets[,name=buckets...]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut specs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, buckets) = part.split_once('=').ok_or_else(|| {
                DatasetError::Invalid(format!(
                    "bad split '{part}': expected name=buckets, e.g. train=2,eval=1"
                ))
            })?;
            let buckets: u32 = buckets.trim().parse().map_err(|_| {
                DatasetError::Invalid(format!(
                    "bad split '{part}': '{}' is not a whole number of hash buckets",
                    buckets.trim()
                ))
            })?;
            specs.push(SplitSpec {
                name: name.trim().to_string(),
                buckets,
            });
        }
        SplitConfig::new(specs)
    }
}

impl fmt::Display for SplitConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .splits
            .iter()
            .map(|s| format!("{}={}", s.name, s.buckets))
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_survives_serde_with_its_buckets() {
        let c: SplitConfig = "train=3,eval=1,test=1".parse().unwrap();
        let back: SplitConfig = serde_json::from_slice(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.total_buckets(), 5);
        assert!(serde_json::from_str::<SplitConfig>(r#"{"splits":[]}"#).is_err());
    }

    #[test]
    fn bucket_matches_python_big_int_mod() {
        // int(hashlib.sha256(b"abc").hexdigest(), 16) % 3 == 1
        // int(hashlib.sha256(b"").hexdigest(), 16) % 1000 == 549
        assert_eq!(hash_bucket(b"abc", 3), 1);
        assert_eq!(hash_bucket(b"", 1000), 549);
    }

    #[test]
    fn limb_modulus_equals_byte_modulus() {
        for key in [&b""[..], b"abc", b"weir", &[0xff; 40]] {
            let d = Sha256::digest(key);
            for m in [1u64, 2, 3, 10, 97, 1000, u64::from(u32::MAX)] {
                let bytewise = d.iter().fold(0u64, |acc, &b| {
                    (((acc as u128) << 8 | u128::from(b)) % u128::from(m)) as u64
                });
                assert_eq!(hash_bucket(key, m), bytewise, "m={m}");
            }
        }
    }

    #[test]
    fn bisect_assigns_contiguous_ranges() {
        let c: SplitConfig = "a=1,b=2,c=3".parse().unwrap();
        assert_eq!(c.upper, vec![1, 3, 6]);
        let got: Vec<usize> = (0..6).map(|b| c.split_of_bucket(b)).collect();
        assert_eq!(got, vec![0, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn rejects_bad_configs() {
        assert!("train".parse::<SplitConfig>().is_err());
        assert!("train=0".parse::<SplitConfig>().is_err());
        assert!("train=1,train=2".parse::<SplitConfig>().is_err());
        assert!("tr/ain=1".parse::<SplitConfig>().is_err());
        assert!("".parse::<SplitConfig>().is_err());
    }
}
