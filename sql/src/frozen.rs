//! What analyzers freeze into: per call a [`Frozen`] value (serialized in
//! `transform.json`) and the [`Vocabulary`] token lists (asset files).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A frozen vocabulary: tokens in TF-Transform's order with their counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    /// The name `apply_vocabulary` refers to: TFT's scope name
    /// (`compute_and_apply_vocabulary`, then `..._1`…; `vocabulary`, …)
    /// or the name given to `vocabulary(x, top_k, threshold, 'name')`.
    pub name: String,
    /// The asset file name: TFT's `vocab_<scope>_vocabulary` for
    /// `compute_and_apply_vocabulary`, `vocab_<scope>` for `vocabulary`, or
    /// the given name.
    pub file_name: String,
    /// The tokens, most frequent first (after top_k and frequency_threshold).
    pub tokens: Vec<Vec<u8>>,
    /// Each token's count in the analyze data (empty when loaded from an
    /// artifact, whose asset files hold tokens only, as TFT's).
    pub counts: Vec<u64>,
}

impl Vocabulary {
    /// TFT's file text: one token per line, most frequent first.
    pub fn file_text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for t in &self.tokens {
            out.extend_from_slice(t);
            out.push(b'\n');
        }
        out
    }

    /// Tokens from TFT's file text.
    pub fn parse_file_text(text: &[u8]) -> Vec<Vec<u8>> {
        let mut tokens: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        if tokens.last().is_some_and(Vec::is_empty) {
            tokens.pop();
        }
        tokens
    }
}

/// An f64 that survives JSON: finite values as numbers, NaN and the
/// infinities as the strings `"NaN"`, `"inf"`, `"-inf"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsonF64(pub f64);

impl Serialize for JsonF64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() {
            s.serialize_f64(v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }
}

impl<'de> Deserialize<'de> for JsonF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(f64),
            Text(String),
        }
        Ok(JsonF64(match Repr::deserialize(d)? {
            Repr::Number(v) => v,
            Repr::Text(t) => match t.as_str() {
                "NaN" => f64::NAN,
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "'{other}' is not a number"
                    )))
                }
            },
        }))
    }
}

/// A frozen scalar: integers stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Number {
    /// An integer.
    Int(i64),
    /// A float.
    Float(JsonF64),
}

/// The constants one analyzer call froze into.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "analyzer", rename_all = "snake_case")]
pub enum Frozen {
    /// `scale_to_z_score`: mean and population standard deviation.
    ZScore {
        /// Mean.
        mean: JsonF64,
        /// Population standard deviation.
        std_dev: JsonF64,
    },
    /// `scale_to_0_1` / `scale_by_min_max`.
    MinMax {
        /// Minimum of the analyze data.
        min: JsonF64,
        /// Maximum of the analyze data.
        max: JsonF64,
        /// Output minimum.
        out_min: JsonF64,
        /// Output maximum.
        out_max: JsonF64,
    },
    /// `compute_and_apply_vocabulary`: a lookup in a named vocabulary.
    Vocabulary {
        /// Which vocabulary.
        name: String,
        /// OOV hash buckets after the vocabulary.
        num_oov_buckets: i64,
        /// Id of OOV tokens without buckets.
        default_value: i64,
    },
    /// `vocabulary(...)`: the name of the vocabulary it computed.
    VocabularyName {
        /// The vocabulary's name.
        name: String,
    },
    /// `bucketize`: quantile boundaries.
    Buckets {
        /// Sorted boundaries (num_buckets - 1 of them).
        boundaries: Vec<JsonF64>,
        /// The number of buckets asked for.
        num_buckets: i64,
    },
    /// `quantiles`: the boundaries as a list value.
    Quantiles {
        /// Sorted boundaries.
        boundaries: Vec<JsonF64>,
    },
    /// `tfidf`: the inverse document frequency of every term id.
    Tfidf {
        /// The vocabulary size given (ids are below it).
        vocab_size: i64,
        /// Whether the idf is smoothed (TFT's default).
        smooth: bool,
        /// Documents (rows) in the analyze data.
        documents: u64,
        /// idf of each id `0..vocab_size`: `1 + ln((documents + 1) / (df + 1))`
        /// smoothed, else `1 + ln(documents / df)`.
        idf: Vec<JsonF64>,
    },
    /// `mean`, `var`, `min`, `max`, `sum`, `size`: one value.
    Constant {
        /// The value (None for an empty analyze set's min/max/sum).
        value: Option<Number>,
        /// Its Arrow type, as Arrow prints it.
        data_type: String,
    },
}
