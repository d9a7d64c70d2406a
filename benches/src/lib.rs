//! Helpers shared by weir's benchmark programs: argument lookup, peak RSS,
//! and running a phase of the program in a child process.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The value after `name` in `args`.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Peak resident set size of this process in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Prints a phase's result line for the parent to read.
pub fn report(phase: &str, seconds: f64, extra: serde_json::Value) {
    let mut v = serde_json::json!({"phase": phase, "seconds": seconds, "peak_rss": peak_rss()});
    if let (Some(m), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    println!("RESULT {v}");
}

/// Runs this program again with `--phase which` plus `args`, in its own
/// process (so its peak RSS is its own), and returns its result line.
pub fn run_phase(which: &str, args: &[String], dir: &Path) -> Result<serde_json::Value> {
    let me = std::env::current_exe()?;
    let out = Command::new(&me)
        .args(["--phase", which])
        .args(args)
        .arg("--dir")
        .arg(dir)
        .output()
        .with_context(|| format!("running phase {which}"))?;
    if !out.status.success() {
        bail!(
            "phase {which} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .context("no RESULT line")?;
    Ok(serde_json::from_str(line)?)
}

/// `dir/lineitem-<rows>.csv`, generated (deterministically) if missing.
pub fn lineitem_csv(rows: usize, dir: &Path) -> Result<std::path::PathBuf> {
    let csv = dir.join(format!("lineitem-{rows}.csv"));
    if !csv.exists() {
        eprintln!("generating {rows} rows into {}", csv.display());
        let tmp = csv.with_extension("tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        weir_datasets::synth::write_lineitem_csv(&mut w, rows, 7)?;
        std::io::Write::flush(&mut w)?;
        drop(w);
        std::fs::rename(&tmp, &csv)?;
    }
    Ok(csv)
}

/// `dir/lineitem-<rows>.parquet` (TPC-H lineitem's 16 columns), generated
/// if missing.
pub async fn lineitem_parquet(rows: usize, dir: &Path) -> Result<std::path::PathBuf> {
    let parquet = dir.join(format!("lineitem-{rows}.parquet"));
    if !parquet.exists() {
        let csv = lineitem_csv(rows, dir)?;
        csv_to_parquet(&csv, &parquet).await?;
    }
    Ok(parquet)
}

/// `dir/taxi-<rows>.csv`, generated (deterministically) if missing.
pub fn taxi_csv(rows: usize, dir: &Path) -> Result<std::path::PathBuf> {
    let csv = dir.join(format!("taxi-{rows}.csv"));
    if !csv.exists() {
        eprintln!("generating {rows} rows into {}", csv.display());
        let tmp = csv.with_extension("tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        weir_datasets::synth::write_taxi_csv(&mut w, rows, 11)?;
        std::io::Write::flush(&mut w)?;
        drop(w);
        std::fs::rename(&tmp, &csv)?;
    }
    Ok(csv)
}

/// Converts `csv` into the single Parquet file `parquet` with DataFusion.
pub async fn csv_to_parquet(csv: &Path, parquet: &Path) -> Result<()> {
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::prelude::{CsvReadOptions, SessionContext};
    eprintln!("converting to {}", parquet.display());
    let ctx = SessionContext::new();
    ctx.sql("SET datafusion.execution.target_partitions = 1")
        .await?;
    let df = ctx
        .read_csv(csv.to_string_lossy().as_ref(), CsvReadOptions::new())
        .await?;
    let tmp = parquet.with_extension("parquet-tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    df.write_parquet(
        &tmp.to_string_lossy(),
        DataFrameWriteOptions::new().with_single_file_output(false),
        None,
    )
    .await?;
    let file = std::fs::read_dir(&tmp)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .context("no parquet written")?;
    if let Some(parent) = parquet.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(file, parquet)?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
