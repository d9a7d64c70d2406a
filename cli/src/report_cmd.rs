//! `weir report`: statistics as one offline HTML page.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use weir_engine::report::ReportBuilder;

/// `weir report` arguments.
#[derive(Args)]
pub struct ReportArgs {
    /// Statistics: a FeatureStats.pb, a Split-<name>/ folder, or a
    /// statistics output with several splits (weir's or TFDV's).
    #[arg(long)]
    stats: PathBuf,
    /// Statistics to compare with (overlaid charts and a drift column).
    #[arg(long)]
    compare: Option<PathBuf>,
    /// A schema (schema.pbtxt): drift thresholds; anomalies are computed
    /// from it when --anomalies is not given.
    #[arg(long)]
    schema: Option<PathBuf>,
    /// An anomalies text file to list (weir's or TFDV's).
    #[arg(long)]
    anomalies: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long, short)]
    output: PathBuf,
    /// The page's title.
    #[arg(long)]
    title: Option<String>,
}

/// Writes the report and prints a line about it.
pub fn report(a: ReportArgs) -> Result<()> {
    let mut b = ReportBuilder::new(&a.stats, &a.output);
    if let Some(c) = &a.compare {
        b = b.with_compare(c);
    }
    if let Some(s) = &a.schema {
        b = b.with_schema(s);
    }
    if let Some(x) = &a.anomalies {
        b = b.with_anomalies(x);
    }
    if let Some(t) = &a.title {
        b = b.with_title(t);
    }
    let s = b
        .execute()
        .with_context(|| format!("report of {} failed", a.stats.display()))?;
    println!(
        "report: {} splits, {} features, {} anomalies, {} drifted -> {} ({} KB)",
        s.splits,
        s.features,
        s.anomalies,
        s.drifted,
        s.output.display(),
        s.bytes.div_ceil(1024)
    );
    Ok(())
}
