//! Documentation of weir's functions in DataFusion's form: each function's
//! `documentation()` returns one of these (what `SHOW FUNCTIONS`-style
//! tooling and generated docs read), built by [`aggregate`] or [`scalar`]
//! from a description, the call's syntax and its arguments.

use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_OTHER;
use datafusion::logical_expr::{DocSection, Documentation};

fn build(
    section: DocSection,
    description: &str,
    syntax: &str,
    arguments: &[(&str, &str)],
) -> Documentation {
    arguments
        .iter()
        .fold(
            Documentation::builder(section, description, syntax),
            |b, (name, text)| b.with_argument(*name, *text),
        )
        .build()
}

/// An aggregate function's documentation.
pub(crate) fn aggregate(
    description: &str,
    syntax: &str,
    arguments: &[(&str, &str)],
) -> Documentation {
    build(DOC_SECTION_GENERAL, description, syntax, arguments)
}

/// A scalar function's documentation.
pub(crate) fn scalar(description: &str, syntax: &str, arguments: &[(&str, &str)]) -> Documentation {
    build(DOC_SECTION_OTHER, description, syntax, arguments)
}
