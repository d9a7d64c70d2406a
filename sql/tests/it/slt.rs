//! The sqllogictest runner: `statement` lines run as plain DataFusion SQL
//! (CREATE TABLE ...); every `query` is a transform query, analyzed over
//! its own FROM and then applied to it, so analyzers and mappers are
//! checked end to end.

use std::path::{Path, PathBuf};

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType, Runner, DB};
use weir_sql::{analyze, register_analyzers, TransformError};

struct TransformDb {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
}

impl TransformDb {
    fn new() -> Self {
        let ctx = SessionContext::new();
        register_analyzers(&ctx);
        Self {
            ctx,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }
}

impl DB for TransformDb {
    type Error = TransformError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, TransformError> {
        let ctx = &self.ctx;
        let is_query = sql.trim_start().to_ascii_lowercase().starts_with("select");
        let batches = self.rt.block_on(async {
            if is_query {
                let frozen = analyze(ctx, sql).await?;
                Ok::<_, TransformError>(frozen.apply(ctx).await?.collect().await?)
            } else {
                Ok(ctx.sql(sql).await?.collect().await?)
            }
        })?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        let mut width = 0;
        for b in &batches {
            width = b.num_columns();
            let formatters = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(datafusion::error::DataFusionError::from)?;
            for r in 0..b.num_rows() {
                // sqllogictest's convention: an empty string is "(empty)".
                rows.push(
                    formatters
                        .iter()
                        .map(|f| match f.value(r).to_string() {
                            s if s.is_empty() => "(empty)".to_string(),
                            s => s,
                        })
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows,
        })
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[test]
fn slt() {
    let files = slt_files();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for f in &files {
        let mut runner = Runner::new(|| async { Ok(TransformDb::new()) });
        if let Err(e) = runner.run_file(f) {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
