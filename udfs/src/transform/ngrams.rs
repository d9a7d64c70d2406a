//! `ngrams(tokens, min_n, max_n [, separator])` and
//! `bag_of_words(tokens, min_n, max_n [, separator])`: TF-Transform's
//! `tft.ngrams` and `tft.bag_of_words` over a list of tokens (for example
//! `string_to_array(text, ' ')`). `ngrams` lists, for each start position
//! in order, the n-grams of increasing length from `min_n` to `max_n`
//! joined by `separator` (default a space); `bag_of_words` keeps the first
//! occurrence of each. NULL tokens in, NULL out.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{exec_err, HashSet, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// See the module docs; `unique` makes it `bag_of_words`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NgramsUdf {
    signature: Signature,
    unique: bool,
}

impl NgramsUdf {
    /// `ngrams`.
    pub fn ngrams() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
            unique: false,
        }
    }

    /// `bag_of_words`.
    pub fn bag_of_words() -> Self {
        Self {
            unique: true,
            ..Self::ngrams()
        }
    }
}

fn constant(v: &ColumnarValue, what: &str, to: &DataType) -> Result<ScalarValue> {
    match v {
        ColumnarValue::Scalar(s) if !s.is_null() => Ok(s.cast_to(to)?),
        _ => exec_err!("ngrams: {what} must be a non-NULL constant"),
    }
}

static NGRAMS_DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::scalar(
            "TF-Transform's tft.ngrams over a list of tokens: for each start position in order, the n-grams of length min_n to max_n joined by separator.",
            "ngrams(tokens, min_n, max_n [, separator])",
            &NGRAM_ARGUMENTS,
        )
    });

static BAG_OF_WORDS_DOCUMENTATION: std::sync::LazyLock<datafusion::logical_expr::Documentation> =
    std::sync::LazyLock::new(|| {
        crate::docs::scalar(
            "TF-Transform's tft.bag_of_words: the n-grams of ngrams(...), each kept at its first occurrence.",
            "bag_of_words(tokens, min_n, max_n [, separator])",
            &NGRAM_ARGUMENTS,
        )
    });

const NGRAM_ARGUMENTS: [(&str, &str); 4] = [
    (
        "tokens",
        "A list of strings (e.g. string_to_array(text, ' ')).",
    ),
    ("min_n", "The shortest n-gram, a constant."),
    ("max_n", "The longest n-gram, a constant."),
    (
        "separator",
        "What joins the tokens of an n-gram (default a space).",
    ),
];

impl ScalarUDFImpl for NgramsUdf {
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        Some(if self.unique {
            &BAG_OF_WORDS_DOCUMENTATION
        } else {
            &NGRAMS_DOCUMENTATION
        })
    }

    fn name(&self) -> &str {
        if self.unique {
            "bag_of_words"
        } else {
            "ngrams"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if !(3..=4).contains(&arg_types.len()) {
            return exec_err!(
                "{}(tokens, min_n, max_n [, separator]) takes 3 or 4 arguments",
                self.name()
            );
        }
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ScalarValue::Int64(Some(min_n)) = constant(&args.args[1], "min_n", &DataType::Int64)?
        else {
            unreachable!("cast to Int64")
        };
        let ScalarValue::Int64(Some(max_n)) = constant(&args.args[2], "max_n", &DataType::Int64)?
        else {
            unreachable!("cast to Int64")
        };
        if min_n < 1 || max_n < min_n {
            return exec_err!(
                "{}: need 1 <= min_n <= max_n, got {min_n}, {max_n}",
                self.name()
            );
        }
        let separator = match args.args.get(3) {
            Some(v) => match constant(v, "separator", &DataType::Utf8)? {
                ScalarValue::Utf8(Some(s)) => s,
                _ => unreachable!("cast to Utf8"),
            },
            None => " ".to_string(),
        };
        let tokens = args.args[0].to_array(args.number_rows)?;
        let item = DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)));
        let tokens = match tokens.data_type() {
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) => {
                cast(&tokens, &item)?
            }
            other => return exec_err!("{}: tokens must be a list, got {other}", self.name()),
        };
        let tokens = tokens.as_list::<i32>();
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut gram = String::new();
        let mut seen: HashSet<String> = HashSet::default();
        for row in 0..tokens.len() {
            if tokens.is_null(row) {
                out.append(false);
                continue;
            }
            let list = tokens.value(row);
            let words = list.as_string::<i32>();
            let n = words.len();
            seen.clear();
            for start in 0..n {
                for len in min_n as usize..=max_n as usize {
                    if start + len > n {
                        break;
                    }
                    gram.clear();
                    for k in start..start + len {
                        if k > start {
                            gram.push_str(&separator);
                        }
                        gram.push_str(words.value(k));
                    }
                    if !self.unique || seen.insert(gram.clone()) {
                        out.values().append_value(&gram);
                    }
                }
            }
            out.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
