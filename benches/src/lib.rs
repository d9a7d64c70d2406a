//! Helpers shared by weir's benchmark programs: argument lookup, peak RSS,
//! and running a phase of the program in a child process.

use std::path::{Path, PathBuf};
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
    peak_rss_of("self")
}

/// Peak RSS in bytes of process `pid` (`self`, or a number), 0 where unknown.
pub fn peak_rss_of(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
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

/// `--rows` (default `default_rows`) and the output folder `--dir`
/// (default `bench-out`), which is created.
pub fn rows_and_dir(args: &[String], default_rows: usize) -> Result<(usize, PathBuf)> {
    let rows = match arg(args, "--rows") {
        Some(v) => v.parse().with_context(|| format!("--rows {v}"))?,
        None => default_rows,
    };
    let dir = PathBuf::from(arg(args, "--dir").unwrap_or_else(|| "bench-out".into()));
    std::fs::create_dir_all(&dir)?;
    Ok((rows, dir))
}

/// What the lineitem benchmarks share: `--rows` (default 6M), the output
/// folder, a multi-threaded runtime, and the lineitem Parquet file of that
/// many rows in the folder (generated if missing).
pub struct LineitemBench {
    /// Rows of the table.
    pub rows: usize,
    /// The output folder.
    pub dir: PathBuf,
    /// The runtime that generated the file.
    pub rt: tokio::runtime::Runtime,
    /// The Parquet file.
    pub parquet: PathBuf,
}

impl LineitemBench {
    /// The set-up for the program's arguments.
    pub fn from_args(args: &[String]) -> Result<Self> {
        let (rows, dir) = rows_and_dir(args, 6_000_000)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let parquet = rt.block_on(lineitem_parquet(rows, &dir))?;
        Ok(Self {
            rows,
            dir,
            rt,
            parquet,
        })
    }
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
/// if missing or if it does not hold `rows` rows (an older benchmark wrote
/// only one of the several files DataFusion split its output into).
pub async fn lineitem_parquet(rows: usize, dir: &Path) -> Result<std::path::PathBuf> {
    let parquet = dir.join(format!("lineitem-{rows}.parquet"));
    if !parquet.exists() || parquet_rows(&parquet)? != rows as u64 {
        let csv = lineitem_csv(rows, dir)?;
        csv_to_parquet(&csv, &parquet).await?;
    }
    anyhow::ensure!(
        parquet_rows(&parquet)? == rows as u64,
        "{} does not hold {rows} rows",
        parquet.display()
    );
    Ok(parquet)
}

/// Rows of a Parquet file, from its footer.
pub fn parquet_rows(path: &Path) -> Result<u64> {
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path)?)
        .with_context(|| format!("reading the footer of {}", path.display()))?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
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

/// Converts `csv` into the single Parquet file `parquet` with DataFusion
/// (row groups of DataFusion's default size).
pub async fn csv_to_parquet(csv: &Path, parquet: &Path) -> Result<()> {
    use datafusion::dataframe::DataFrameWriteOptions;
    use datafusion::prelude::{CsvReadOptions, SessionContext};
    eprintln!("converting to {}", parquet.display());
    let ctx = SessionContext::new();
    let df = ctx
        .read_csv(csv.to_string_lossy().as_ref(), CsvReadOptions::new())
        .await?;
    if let Some(parent) = parquet.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = parquet.with_extension("tmp.parquet");
    let _ = std::fs::remove_file(&tmp);
    df.write_parquet(
        &tmp.to_string_lossy(),
        DataFrameWriteOptions::new().with_single_file_output(true),
        None,
    )
    .await?;
    anyhow::ensure!(tmp.is_file(), "DataFusion did not write {}", tmp.display());
    std::fs::rename(&tmp, parquet)?;
    Ok(())
}

/// `--memory-limit SIZE` (256MB, 2G, …), applied to this process's plans;
/// its text, to pass on to child processes.
pub fn memory_limit(args: &[String]) -> Result<Option<String>> {
    let Some(text) = arg(args, "--memory-limit") else {
        return Ok(None);
    };
    let bytes = weir_process::parse_size(&text).map_err(anyhow::Error::msg)?;
    weir_plan::execution::session::set_memory_limit(bytes);
    Ok(Some(text))
}
