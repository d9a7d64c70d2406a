//! TFMD's `FeatureType`, the one enum every weir crate uses: the value
//! list kind of a `tf.Example` feature (`INT`: `int64_list`, `FLOAT`:
//! `float_list`, `BYTES`: `bytes_list`), `STRUCT` for nested features,
//! and `TYPE_UNKNOWN` when no value says which.

/// `tensorflow.metadata.v0.FeatureType`.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum FeatureType {
    /// `TYPE_UNKNOWN` (or absent): no value anywhere says which.
    #[default]
    #[serde(rename = "TYPE_UNKNOWN")]
    Unknown,
    /// `BYTES`: `bytes_list`.
    #[serde(rename = "BYTES")]
    Bytes,
    /// `INT`: `int64_list`.
    #[serde(rename = "INT")]
    Int,
    /// `FLOAT`: `float_list`.
    #[serde(rename = "FLOAT")]
    Float,
    /// `STRUCT`: a nested feature.
    #[serde(rename = "STRUCT")]
    Struct,
}

impl FeatureType {
    /// The enum value's name (`INT`, `FLOAT`, `BYTES`, `STRUCT`, `TYPE_UNKNOWN`).
    pub fn name(self) -> &'static str {
        match self {
            FeatureType::Unknown => "TYPE_UNKNOWN",
            FeatureType::Bytes => "BYTES",
            FeatureType::Int => "INT",
            FeatureType::Float => "FLOAT",
            FeatureType::Struct => "STRUCT",
        }
    }

    /// The type an enum value's name stands for.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "TYPE_UNKNOWN" => FeatureType::Unknown,
            "BYTES" => FeatureType::Bytes,
            "INT" => FeatureType::Int,
            "FLOAT" => FeatureType::Float,
            "STRUCT" => FeatureType::Struct,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FeatureType;

    #[test]
    fn names_round_trip() {
        for t in [
            FeatureType::Unknown,
            FeatureType::Bytes,
            FeatureType::Int,
            FeatureType::Float,
            FeatureType::Struct,
        ] {
            assert_eq!(FeatureType::parse(t.name()), Some(t));
        }
        assert_eq!(FeatureType::parse("STRING"), None);
    }
}
