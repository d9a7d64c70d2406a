//! `hash_strings(x, hash_buckets)`: TF-Transform's `tft.hash_strings`, each
//! string's bucket by TensorFlow's `to_hash_bucket_fast` (FarmHash
//! Fingerprint64 mod `hash_buckets`). NULL in, NULL out.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::apply_vocabulary::hash_bucket;
use super::null_where_x_is_null;

/// See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HashStringsUdf {
    signature: Signature,
}

impl Default for HashStringsUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl HashStringsUdf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::scalar(
            "TF-Transform's hash_strings: each string's bucket by FarmHash Fingerprint64 mod hash_buckets (TensorFlow's to_hash_bucket_fast).",
            "hash_strings(x, hash_buckets)",
            &[
            ("x", "A string, or a list of strings."),
            ("hash_buckets", "The number of buckets."),
            ],
        )
    });

impl ScalarUDFImpl for HashStringsUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "hash_strings"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        null_where_x_is_null(self, &args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let buckets = match &args.args[1] {
            ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(Some(b)) if b > 0 => b as u64,
                other => {
                    return exec_err!("hash_strings: hash_buckets must be positive, got {other}")
                }
            },
            _ => return exec_err!("hash_strings: hash_buckets must be a constant"),
        };
        let x = args.args[0].to_array(args.number_rows)?;
        let x = cast(&x, &DataType::Binary)?;
        let x = x.as_binary::<i32>();
        let out: Int64Array = (0..x.len())
            .map(|i| (!x.is_null(i)).then(|| hash_bucket(x.value(i), buckets) as i64))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
