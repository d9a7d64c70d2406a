//! How Arrow types map onto tf.Example value lists, the way TFX's ExampleGens
//! (`dict_to_example`, the CSV decoder) map them.
//!
//! | Arrow | tf.Example |
//! |---|---|
//! | Int8..Int64, UInt8..UInt64, Boolean (0/1) | `int64_list` |
//! | Date32 (days), Date64 (ms), Timestamp (its unit), Time, Duration | `int64_list` |
//! | Float16/32/64, Decimal128/256 | `float_list` (f32, round to nearest) |
//! | Utf8, LargeUtf8, Utf8View, Binary, LargeBinary, BinaryView, FixedSizeBinary | `bytes_list` |
//! | List / LargeList / FixedSizeList of the above | a list of the element's kind |
//! | Null | empty `Feature` |
//!
//! A null value and an empty list both give an empty `Feature` (TFX's
//! `dict_to_example`). Structs, maps and unions have no tf.Example form.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, ListArray};
use datafusion::arrow::compute::{cast_with_options, CastOptions};
use datafusion::arrow::datatypes::{DataType, Field};

pub use weir_tfmd::FeatureType;

/// How Arrow types map onto TFMD's [`FeatureType`] (the table above).
pub trait ArrowFeatureType: Sized {
    /// The tf.Example kind of an Arrow element type, or `None` if it has none.
    fn of_scalar(dt: &DataType) -> Option<Self>;
    /// The kind of a column (scalar or list) and whether it is a list.
    fn of_column(dt: &DataType) -> Option<(Self, bool)>;
    /// The canonical Arrow element type of this kind (`Null` for a kind
    /// with no values).
    fn arrow_type(self) -> DataType;
}

impl ArrowFeatureType for FeatureType {
    fn of_scalar(dt: &DataType) -> Option<FeatureType> {
        use DataType::*;
        Some(match dt {
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Boolean => {
                FeatureType::Int
            }
            Date32 | Date64 | Timestamp(..) | Time32(_) | Time64(_) | Duration(_) => {
                FeatureType::Int
            }
            Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
            | Decimal256(..) => FeatureType::Float,
            Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
            | FixedSizeBinary(_) => FeatureType::Bytes,
            Null => FeatureType::Unknown,
            Dictionary(_, v) => return FeatureType::of_scalar(v),
            _ => return None,
        })
    }

    fn of_column(dt: &DataType) -> Option<(FeatureType, bool)> {
        match dt {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                match f.data_type() {
                    // A list of lists (a SequenceExample's sequence feature):
                    // the kind of its innermost values.
                    DataType::List(g) | DataType::LargeList(g) => {
                        FeatureType::of_scalar(g.data_type()).map(|k| (k, true))
                    }
                    item => FeatureType::of_scalar(item).map(|k| (k, true)),
                }
            }
            // A struct of features (SequenceExample's `##SEQUENCE##`).
            DataType::Struct(_) => Some((FeatureType::Struct, false)),
            other => FeatureType::of_scalar(other).map(|k| (k, false)),
        }
    }

    fn arrow_type(self) -> DataType {
        match self {
            FeatureType::Int => DataType::Int64,
            FeatureType::Float => DataType::Float32,
            FeatureType::Bytes => DataType::Binary,
            FeatureType::Unknown | FeatureType::Struct => DataType::Null,
        }
    }
}

/// Casts a column to its canonical form: Int64, Float32, Binary or Null, or a
/// `List` of one of those. Errors name the column and its type.
pub fn canonical_column(name: &str, array: &ArrayRef) -> Result<(FeatureType, ArrayRef), String> {
    if is_nested(array.data_type()) {
        return Err(format!(
            "column '{name}' of type {} holds lists of lists or a struct (a SequenceExample's \
             sequence features), which a tf.Example cannot hold; write --output-format parquet",
            array.data_type()
        ));
    }
    let Some((kind, is_list)) = FeatureType::of_column(array.data_type()) else {
        return Err(format!(
            "column '{name}' has type {} which has no tf.Example form (only numbers, strings, bytes, dates, times and lists of them)",
            array.data_type()
        ));
    };
    let target = if is_list {
        DataType::List(Arc::new(Field::new("item", kind.arrow_type(), true)))
    } else {
        kind.arrow_type()
    };
    if array.data_type() == &target {
        return Ok((kind, array.clone()));
    }
    // Temporal types cast to Int64 only via their physical integer width.
    let source = array.data_type();
    let pre = match (source, is_list) {
        (DataType::Date32 | DataType::Time32(_), false) => {
            Some(cast_with_options(array, &DataType::Int32, &strict()).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let input = pre.as_ref().unwrap_or(array);
    let out = cast_with_options(input, &target, &strict())
        .or_else(|_| {
            // Decimals and some temporal lists go through Float64 / Int64 first.
            let mid = if kind == FeatureType::Float {
                DataType::Float64
            } else {
                DataType::Int64
            };
            let mid = if is_list {
                DataType::List(Arc::new(Field::new("item", mid, true)))
            } else {
                mid
            };
            let tmp = cast_with_options(input, &mid, &strict())?;
            cast_with_options(&tmp, &target, &strict())
        })
        .map_err(|e| format!("column '{name}' of type {source}: {e}"))?;
    if is_list {
        let list = out
            .as_any()
            .downcast_ref::<ListArray>()
            .expect("cast to List gives a ListArray");
        if list.values().null_count() > 0 {
            return Err(format!(
                "column '{name}' has a null element inside a list; tf.Example lists cannot hold nulls"
            ));
        }
    }
    Ok((kind, out))
}

/// True for a struct or a list of lists or structs: types with no
/// tf.Example form (a SequenceExample's sequence features).
pub fn is_nested(dt: &DataType) -> bool {
    match dt {
        DataType::Struct(_) => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => matches!(
            f.data_type(),
            DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(..)
                | DataType::Struct(_)
        ),
        _ => false,
    }
}

fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}
