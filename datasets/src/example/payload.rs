//! Which message a TFRecord holds: `tf.train.Example` or
//! `tf.train.SequenceExample`, as TFX's ImportExampleGen `payload_format`
//! (`FORMAT_TF_EXAMPLE`, `FORMAT_TF_SEQUENCE_EXAMPLE`).

/// The column that holds a SequenceExample's sequence features: a struct
/// with one list-of-lists child per feature, the name tfx_bsl's decoder and
/// TFDV use (statistics paths `##SEQUENCE##.<feature>`).
pub const SEQUENCE_COLUMN: &str = "##SEQUENCE##";

/// The serialized message of each TFRecord.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// `tf.train.Example` (TFX's `FORMAT_TF_EXAMPLE`, the default).
    #[default]
    Example,
    /// `tf.train.SequenceExample` (`FORMAT_TF_SEQUENCE_EXAMPLE`): context
    /// features as columns, sequence features under [`SEQUENCE_COLUMN`].
    SequenceExample,
}

impl PayloadFormat {
    /// The name the `--payload-format` flag and manifests use.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::Example => "example",
            PayloadFormat::SequenceExample => "sequence_example",
        }
    }

    /// TFX's name (`example_gen_pb2.PayloadFormat`).
    pub fn tfx_name(self) -> &'static str {
        match self {
            PayloadFormat::Example => "FORMAT_TF_EXAMPLE",
            PayloadFormat::SequenceExample => "FORMAT_TF_SEQUENCE_EXAMPLE",
        }
    }
}

impl std::str::FromStr for PayloadFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "example" | "tf_example" | "FORMAT_TF_EXAMPLE" => Ok(PayloadFormat::Example),
            "sequence_example" | "tf_sequence_example" | "FORMAT_TF_SEQUENCE_EXAMPLE" => {
                Ok(PayloadFormat::SequenceExample)
            }
            other => Err(format!(
                "unknown payload format '{other}' (example or sequence_example)"
            )),
        }
    }
}

impl std::fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
