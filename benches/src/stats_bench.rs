//! Statistics benchmark: TFDV's statistics of a Parquet table shaped like
//! TPC-H `lineitem` (default 6M rows × 16 columns), exact and `--approx`,
//! against a bare DataFusion scan that decodes every column of the same file,
//! and weir's own read of it without aggregation (where the time goes).
//! Each run is a child process of this program (own peak RSS). When
//! `duckdb` is importable by `python3` (or `$WEIR_BENCH_PYTHON`), DuckDB's
//! `SUMMARIZE` of the same file runs in the same benchmark as an anchor.
//!
//! Usage: `stats_bench [--rows N] [--dir DIR] [--memory-limit SIZE]` (`--rows 60000000` is TPC-H
//! scale factor 10)

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::StreamExt;
use weir_benches::{arg, report, run_phase};
use weir_engine::StatsBuilder;

async fn phase(which: &str, parquet: &Path, dir: &Path) -> Result<()> {
    let start = Instant::now();
    match which {
        "scan" => {
            let ctx = SessionContext::new();
            let df = ctx
                .read_parquet(
                    parquet.to_string_lossy().as_ref(),
                    ParquetReadOptions::default(),
                )
                .await?;
            let mut stream = df.execute_stream().await?;
            let mut rows = 0usize;
            while let Some(b) = stream.next().await {
                rows += b?.num_rows();
            }
            anyhow::ensure!(rows > 0, "no rows scanned");
        }
        "read" => {
            // weir's own read of the file, as statistics read it (Parquet
            // strings as stored), with no aggregation.
            use weir_datasets::formats::{ReadOptions, SourceSpec, StringDecoding};
            let files = weir_datasets::input::resolve_input(&parquet.to_string_lossy())?;
            let options = ReadOptions {
                parquet_strings: StringDecoding::AsStored,
                ..Default::default()
            };
            let spec = SourceSpec::new(files, weir_datasets::Format::Parquet, options);
            let table = weir_plan::scan::SourceTable::open(spec)?;
            let df = SessionContext::new().read_table(std::sync::Arc::new(table))?;
            let mut stream = df.execute_stream().await?;
            let mut rows = 0usize;
            while let Some(b) = stream.next().await {
                rows += b?.num_rows();
            }
            anyhow::ensure!(rows > 0, "no rows read");
        }
        "stats" | "stats-approx" => {
            let out = dir.join(format!("out-{which}"));
            StatsBuilder::new(parquet.to_string_lossy(), &out)
                .with_approx(which == "stats-approx")
                .execute()
                .await?;
        }
        other => bail!("unknown phase {other}"),
    }
    report(which, start.elapsed().as_secs_f64(), serde_json::json!({}));
    Ok(())
}

/// DuckDB's `SUMMARIZE` of `parquet` in a Python child process: seconds
/// and peak RSS in bytes, or `None` when duckdb is not importable.
fn duckdb_summarize(parquet: &Path) -> Option<(f64, f64)> {
    let python = std::env::var("WEIR_BENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"import sys, time, resource
try:
    import duckdb
except ImportError:
    sys.exit(3)
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
con.sql("SUMMARIZE SELECT * FROM read_parquet('" + sys.argv[1] + "')").fetchall()
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(parquet)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last()?;
    let mut it = last.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some((it.next()??, it.next()??))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let weir_benches::LineitemBench {
        rows,
        dir,
        rt,
        parquet,
    } = weir_benches::LineitemBench::from_args(&args)?;
    let limit = weir_benches::memory_limit(&args)?;
    if let Some(p) = arg(&args, "--phase") {
        return rt.block_on(phase(&p, &parquet, &dir));
    }
    drop(rt);
    let mut pass = vec!["--rows".to_string(), rows.to_string()];
    if let Some(l) = &limit {
        pass.extend(["--memory-limit".to_string(), l.clone()]);
    }
    let mut results = Vec::new();
    for which in ["scan", "read", "stats", "stats-approx"] {
        results.push(run_phase(which, &pass, &dir)?);
    }
    let secs = |i: usize| results[i]["seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "statistics benchmark: {rows} rows x 16 columns ({}), memory limit {}",
        parquet.display(),
        limit.as_deref().unwrap_or("default (half of RAM)")
    );
    println!(
        "{:<36} {:>9} {:>12} {:>10}",
        "run", "seconds", "rows/s", "peak RSS"
    );
    for (i, label) in [
        "datafusion scan (decode every column)",
        "weir read (no aggregation)",
        "weir stats (exact)",
        "weir stats --approx",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{:<36} {:>9.2} {:>12.0} {:>8.0}MB",
            label,
            secs(i),
            rows as f64 / secs(i),
            results[i]["peak_rss"].as_f64().unwrap_or(0.0) / 1e6
        );
    }
    match duckdb_summarize(&parquet) {
        Some((seconds, rss)) => println!(
            "{:<36} {:>9.2} {:>12.0} {:>8.0}MB\nratio weir exact / duckdb = {:.2}, approx / duckdb = {:.2}",
            "duckdb SUMMARIZE",
            seconds,
            rows as f64 / seconds,
            rss / 1e6,
            secs(2) / seconds,
            secs(3) / seconds
        ),
        None => println!("duckdb SUMMARIZE: skipped (python3 cannot import duckdb)"),
    }
    println!(
        "ratio stats / scan = {:.2} exact, {:.2} approx (target <= 1.5); weir read / scan = {:.2}; peak RSS {:.0} / {:.0} MB (target <= 1024)",
        secs(2) / secs(0),
        secs(3) / secs(0),
        secs(1) / secs(0),
        results[2]["peak_rss"].as_f64().unwrap_or(0.0) / 1e6,
        results[3]["peak_rss"].as_f64().unwrap_or(0.0) / 1e6
    );
    Ok(())
}
