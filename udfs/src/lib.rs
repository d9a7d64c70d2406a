//! weir's DataFusion functions. Each function is one file implementing
//! `AggregateUDFImpl` (or `ScalarUDFImpl`), and every function is listed in
//! [`all_udafs`], the one registry the engine, scheduler and executor use.
//! Every function documents itself (`documentation()`, see `docs`).

mod docs;
pub mod stats;
pub mod transform;

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

/// Every aggregate function weir defines.
pub fn all_udafs() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::from(stats::CommonStatsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::NumericStatsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::StringStatsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::ApproxStringStatsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::ValencyStatsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::StringTotalsUdaf::new())),
        Arc::new(AggregateUDF::from(stats::TopByCountUdaf::new())),
        Arc::new(AggregateUDF::from(transform::VocabularyUdaf::new())),
        Arc::new(AggregateUDF::from(transform::DocumentFrequencyUdaf::new())),
    ]
}

/// Every scalar function weir defines.
pub fn all_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(transform::ApplyVocabularyUdf::new())),
        Arc::new(ScalarUDF::from(transform::ApplyBucketsUdf::new())),
        Arc::new(ScalarUDF::from(transform::HashStringsUdf::new())),
        Arc::new(ScalarUDF::from(transform::NgramsUdf::ngrams())),
        Arc::new(ScalarUDF::from(transform::NgramsUdf::bag_of_words())),
        Arc::new(ScalarUDF::from(transform::ApplyTfidfUdf::new())),
    ]
}

/// Registers every weir function with a session.
pub fn register_all(ctx: &SessionContext) {
    for f in all_udafs() {
        ctx.register_udaf(f.as_ref().clone());
    }
    for f in all_udfs() {
        ctx.register_udf(f.as_ref().clone());
    }
}

#[cfg(test)]
mod tests {
    /// Every registered function documents itself, naming its own call.
    #[test]
    fn every_function_has_documentation_of_its_own_call() {
        let docs: Vec<(String, Option<String>)> = super::all_udafs()
            .iter()
            .map(|f| {
                (
                    f.name().to_string(),
                    f.documentation().map(|d| d.syntax_example.clone()),
                )
            })
            .chain(super::all_udfs().iter().map(|f| {
                (
                    f.name().to_string(),
                    f.documentation().map(|d| d.syntax_example.clone()),
                )
            }))
            .collect();
        for (name, syntax) in docs {
            let syntax = syntax.unwrap_or_else(|| panic!("{name} has no documentation"));
            assert!(syntax.starts_with(&format!("{name}(")), "{name}: {syntax}");
        }
    }
}
