//! The SQL-text step before planning: in transform SQL, `mean`, `var`,
//! `min`, `max`, `sum` and `size` called without `OVER`, `FILTER` or
//! `DISTINCT` are TF-Transform's full-pass analyzers (`tft.mean` …), whose
//! value every row sees, not SQL aggregates that collapse rows. They are
//! renamed to the `tft_*` placeholders before DataFusion plans the query.
//! (`avg(x) OVER ()` and friends stay ordinary window functions.)

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArguments, Ident, ObjectName, ObjectNamePart,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::{Result, TransformError};

const RENAMED: [&str; 6] = ["mean", "var", "min", "max", "sum", "size"];

/// `sql` with the analyzer calls renamed; exactly one statement.
pub fn rewrite_analyzer_names(sql: &str) -> Result<String> {
    let mut statements = Parser::parse_sql(&GenericDialect {}, sql)
        .map_err(|e| TransformError::Plan(format!("cannot parse the transform SQL: {e}")))?;
    if statements.len() != 1 {
        return Err(TransformError::Plan(format!(
            "the transform SQL must be one SELECT statement, got {}",
            statements.len()
        )));
    }
    let _ = visit_expressions_mut(&mut statements, |e| {
        if let Expr::Function(f) = e {
            let plain = f.over.is_none()
                && f.filter.is_none()
                && match &f.args {
                    FunctionArguments::List(l) => l.duplicate_treatment.is_none(),
                    _ => true,
                };
            if let [ObjectNamePart::Identifier(id)] = f.name.0.as_slice() {
                let lower = id.value.to_ascii_lowercase();
                if plain && id.quote_style.is_none() && RENAMED.contains(&lower.as_str()) {
                    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(format!(
                        "tft_{lower}"
                    )))]);
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(statements[0].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_plain_calls_only() {
        let sql = "SELECT x - mean(x) AS a, MAX(y) AS b, avg(x) OVER () AS c, \
                   sum(DISTINCT x) AS d, size(x) AS e FROM input";
        let out = rewrite_analyzer_names(sql).unwrap();
        assert!(out.contains("x - tft_mean(x) AS a"), "{out}");
        assert!(out.contains("tft_max(y) AS b"), "{out}");
        assert!(out.contains("avg(x) OVER () AS c"), "{out}");
        assert!(out.contains("sum(DISTINCT x) AS d"), "{out}");
        assert!(out.contains("tft_size(x) AS e"), "{out}");
    }

    #[test]
    fn two_statements_are_an_error() {
        let err = rewrite_analyzer_names("SELECT 1; SELECT 2").unwrap_err();
        assert!(err.to_string().contains("one SELECT"), "{err}");
    }
}
