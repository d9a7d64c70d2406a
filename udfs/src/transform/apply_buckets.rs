//! `apply_buckets(x, boundaries)`: the bucket of each value given sorted
//! boundaries (a literal list): the number of boundaries <= x, as
//! TensorFlow's `Bucketize` op counts; NaN goes to the last bucket, as
//! TF-Transform's `bucketize`. NULL in, NULL out.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{constant_list, null_where_x_is_null};

/// See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApplyBucketsUdf {
    signature: Signature,
}

impl Default for ApplyBucketsUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ApplyBucketsUdf {
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
            "The bucket of each value given sorted boundaries: the number of boundaries <= x (TensorFlow's Bucketize); NaN goes to the last bucket.",
            "apply_buckets(x, boundaries)",
            &[
            ("x", "A number, or a list of numbers."),
            ("boundaries", "Sorted boundaries, a literal list."),
            ],
        )
    });

impl ScalarUDFImpl for ApplyBucketsUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "apply_buckets"
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
        let bounds = constant_list(
            &args.args[1],
            &DataType::Float64,
            "apply_buckets: the boundaries",
        )?;
        let bounds: Vec<f64> = bounds.as_primitive::<Float64Type>().values().to_vec();
        if bounds.windows(2).any(|w| w[0] > w[1]) || bounds.iter().any(|b| b.is_nan()) {
            return exec_err!("apply_buckets: boundaries {bounds:?} are not sorted numbers");
        }
        let x = args.args[0].to_array(args.number_rows)?;
        let x = cast(&x, &DataType::Float64)?;
        let x = x.as_primitive::<Float64Type>();
        let last = bounds.len() as i64;
        let out: Int64Array = x
            .iter()
            .map(|v| {
                v.map(|v| {
                    if v.is_nan() {
                        last
                    } else {
                        bounds.partition_point(|&b| b <= v) as i64
                    }
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
