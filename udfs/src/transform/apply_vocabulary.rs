//! `apply_vocabulary(x, tokens [, num_oov_buckets [, default_value]])`: the id of
//! each token in a frozen vocabulary (its position in `tokens`, a literal
//! list in TF-Transform's order). A token outside the vocabulary goes to
//! `len(tokens) + fingerprint64(token) mod num_oov_buckets` when there are
//! OOV buckets — TensorFlow's `to_hash_bucket_fast`, FarmHash Fingerprint64
//! — and to `default_value` otherwise (defaults 0 buckets and -1, as TFT).
//! A list of tokens gives the list of their ids.
//! NULL in, NULL out.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, HashMap, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// TensorFlow's `to_hash_bucket_fast`: FarmHash Fingerprint64 mod `buckets`.
pub fn hash_bucket(token: &[u8], buckets: u64) -> u64 {
    farmhash::fingerprint64(token) % buckets
}

fn list_of_binary() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Binary, true)))
}

use super::{constant_list, null_where_x_is_null};

/// See the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ApplyVocabularyUdf {
    signature: Signature,
}

impl Default for ApplyVocabularyUdf {
    fn default() -> Self {
        Self::new()
    }
}

impl ApplyVocabularyUdf {
    /// The function.
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

fn scalar_i64(v: &ColumnarValue, what: &str) -> Result<i64> {
    match v {
        ColumnarValue::Scalar(s) => match s.cast_to(&DataType::Int64)? {
            ScalarValue::Int64(Some(x)) => Ok(x),
            _ => exec_err!("apply_vocabulary: {what} must not be NULL"),
        },
        _ => exec_err!("apply_vocabulary: {what} must be a constant"),
    }
}

static DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::scalar(
            "The id of each token in a frozen vocabulary (its position in tokens); a token outside it goes to an OOV bucket by FarmHash Fingerprint64 when there are OOV buckets, else to default_value. A list of tokens gives the list of their ids.",
            "apply_vocabulary(x, tokens [, num_oov_buckets [, default_value]])",
            &[
            ("x", "A string, or a list of strings."),
            ("tokens", "The vocabulary, a literal list in TF-Transform's order."),
            ("num_oov_buckets", "OOV buckets (default 0)."),
            ("default_value", "The id of an unknown token without OOV buckets (default -1)."),
            ],
        )
    });

impl ScalarUDFImpl for ApplyVocabularyUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(&DOCUMENTATION)
    }

    fn name(&self) -> &str {
        "apply_vocabulary"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !(2..=4).contains(&arg_types.len()) {
            return exec_err!(
                "apply_vocabulary(x, tokens [, num_oov_buckets [, default_value]]) takes 2 to 4 arguments, got {}",
                arg_types.len()
            );
        }
        Ok(match &arg_types[0] {
            DataType::List(_) | DataType::LargeList(_) => {
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)))
            }
            _ => DataType::Int64,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        null_where_x_is_null(self, &args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let num_oov = match args.args.get(2) {
            Some(v) => scalar_i64(v, "num_oov_buckets")?,
            None => 0,
        };
        let default = match args.args.get(3) {
            Some(v) => scalar_i64(v, "default_value")?,
            None => -1,
        };
        if num_oov < 0 {
            return exec_err!("apply_vocabulary: num_oov_buckets {num_oov} is negative");
        }
        let tokens = constant_list(
            &args.args[1],
            &DataType::Binary,
            "apply_vocabulary: the vocabulary",
        )?;
        let tokens = tokens.as_binary::<i32>();
        let mut ids: HashMap<&[u8], i64> = HashMap::with_capacity(tokens.len());
        for i in 0..tokens.len() {
            ids.entry(tokens.value(i)).or_insert(i as i64);
        }
        let size = tokens.len() as i64;
        let lookup = |x: &dyn Array| -> Result<Int64Array> {
            let x = cast(x, &DataType::Binary)?;
            let x = x.as_binary::<i32>();
            Ok((0..x.len())
                .map(|i| {
                    (!x.is_null(i)).then(|| {
                        let t = x.value(i);
                        match ids.get(t) {
                            Some(&id) => id,
                            None if num_oov > 0 => size + hash_bucket(t, num_oov as u64) as i64,
                            None => default,
                        }
                    })
                })
                .collect())
        };
        let x = args.args[0].to_array(args.number_rows)?;
        // A list of tokens maps element by element (a list of ids).
        let out: ArrayRef = match x.data_type() {
            DataType::List(_) | DataType::LargeList(_) => {
                let x = cast(&x, &list_of_binary())?;
                let list = x.as_list::<i32>();
                Arc::new(ListArray::try_new(
                    Arc::new(Field::new_list_field(DataType::Int64, true)),
                    list.offsets().clone(),
                    Arc::new(lookup(list.values().as_ref())?),
                    list.nulls().cloned(),
                )?)
            }
            _ => Arc::new(lookup(x.as_ref())?),
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}
