//! Which features of an input have statistics: every column, and each
//! child of a struct column (a SequenceExample's `##SEQUENCE##.<feature>`),
//! with the kind of their values. Shared by every way statistics are
//! computed (the aggregate pass, the fused ExampleGen map, the driver).

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{col, Expr};
use weir_datasets::example::{ArrowFeatureType, FeatureType};
use weir_udfs::stats::{is_nested_list, nesting_depth};

use crate::error::{PlanError, Result};

/// One feature whose statistics are computed: a column, or a child of a
/// struct column (a SequenceExample's `##SEQUENCE##.<feature>`).
#[derive(Debug, Clone, PartialEq)]
pub struct StatsColumn {
    /// TFDV's path: the column, then the child.
    pub path: Vec<String>,
    /// The kind of its values (`Struct` for the struct itself).
    pub kind: FeatureType,
    /// Nesting levels of a list of lists, counted by `valency_stats`
    /// (0: not nested).
    pub levels: usize,
}

impl StatsColumn {
    /// The path as one name (`a.b`), TFDV's serialized path.
    pub fn name(&self) -> String {
        self.path.join(".")
    }

    /// The column as an expression.
    pub fn expr(&self) -> Expr {
        let c = col(format!("\"{}\"", self.path[0].replace('"', "\"\"")));
        self.path[1..]
            .iter()
            .fold(c, |e, child| get_field(e, child.as_str()))
    }

    /// The column's values in `batch`.
    pub fn array(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        column_at(batch, &self.path)
    }
}

/// The column at `path` in `batch`.
pub fn column_at(batch: &RecordBatch, path: &[String]) -> Result<ArrayRef> {
    let missing = || {
        PlanError::Invalid(format!(
            "feature '{}' is not a column of the input",
            path.join(".")
        ))
    };
    let (first, rest) = path.split_first().ok_or_else(missing)?;
    let mut array = batch.column_by_name(first).ok_or_else(missing)?.clone();
    for name in rest {
        let child = array
            .as_struct_opt()
            .and_then(|s| s.column_by_name(name))
            .ok_or_else(missing)?
            .clone();
        array = child;
    }
    Ok(array)
}

/// The nesting levels of a list of lists (0 for any other column).
fn nested_levels(dt: &DataType) -> usize {
    if is_nested_list(dt) {
        nesting_depth(dt)
    } else {
        0
    }
}

/// The features of every column of `schema`, in schema order; a struct
/// column is a feature and so is each of its children.
pub fn stats_columns(schema: &SchemaRef) -> Result<Vec<StatsColumn>> {
    let mut out = Vec::new();
    for field in schema.fields() {
        let kind_of = |path: &[String], dt: &DataType| -> Result<FeatureType> {
            let (kind, _) = FeatureType::of_column(dt).ok_or_else(|| {
                PlanError::Invalid(format!(
                    "column '{}' of type {dt} has no statistics",
                    path.join(".")
                ))
            })?;
            Ok(kind)
        };
        let path = vec![field.name().clone()];
        let kind = kind_of(&path, field.data_type())?;
        out.push(StatsColumn {
            path: path.clone(),
            kind,
            levels: nested_levels(field.data_type()),
        });
        if let DataType::Struct(children) = field.data_type() {
            for child in children {
                let path = vec![field.name().clone(), child.name().clone()];
                let kind = kind_of(&path, child.data_type())?;
                if kind == FeatureType::Struct {
                    return Err(PlanError::Invalid(format!(
                        "column '{}' nests a struct in a struct, which statistics do not read",
                        path.join(".")
                    )));
                }
                out.push(StatsColumn {
                    path,
                    kind,
                    levels: nested_levels(child.data_type()),
                });
            }
        }
    }
    Ok(out)
}
