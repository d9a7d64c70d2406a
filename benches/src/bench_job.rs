//! The jobs `benches/anchors.sh` times, each as a process of its own:
//!
//! - `bench_job stats INPUT OUTPUT_DIR [--approx]`: weir's statistics, as
//!   `weir stats` runs them (`StatsBuilder`, default options);
//! - `bench_job examplegen INPUT OUTPUT_DIR`: weir's ExampleGen, as `weir
//!   examplegen` runs it (TFRecord, gzip level 6);
//! - `bench_job read INPUT`: weir's read of the input as a cluster's
//!   executors read it (no batches held from type inference), its parts
//!   read on one thread per core, and prints the rows;
//! - `bench_job csv-to-parquet INPUT.csv OUTPUT_DIR CODEC` writes the CSV as
//!   Parquet with DataFusion's own reader and writer, `CODEC` as DataFusion
//!   spells it (`gzip(6)`: TFX's default deflate level, what ExampleGen's
//!   TFRecord.gz is compared with; `zstd(3)`, `snappy`).
//!
//! (A binary of the benchmark crate rather than the `weir` CLI, so the
//! benchmarks build with the release artifacts they already share.)

use anyhow::{bail, Context, Result};
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, SessionContext};

const USAGE: &str = "usage: bench_job stats INPUT OUTPUT [--approx] | examplegen INPUT OUTPUT | read INPUT | csv-to-parquet INPUT.csv OUTPUT CODEC";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (job, input, output, codec) = match args.as_slice() {
        [job, input, output, rest @ ..] if job == "stats" => {
            rt.block_on(
                weir_engine::StatsBuilder::new(input.as_str(), output)
                    .with_approx(rest.iter().any(|a| a == "--approx"))
                    .execute(),
            )?;
            return Ok(());
        }
        [job, input, output] if job == "examplegen" => {
            drop(rt);
            weir_engine::ExampleGenBuilder::new(input.as_str(), output).execute()?;
            return Ok(());
        }
        [job, input] if job == "read" => {
            println!("{} rows", read(input)?);
            return Ok(());
        }
        [job, input, output, codec] if job == "csv-to-parquet" => (job, input, output, codec),
        _ => bail!("{USAGE}"),
    };
    let _ = job;
    rt.block_on(async {
        let ctx = SessionContext::new();
        let df = ctx.read_csv(input.as_str(), CsvReadOptions::new()).await?;
        let mut options = TableParquetOptions::default();
        options.global.compression = Some(codec.clone());
        df.write_parquet(output, DataFrameWriteOptions::new(), Some(options))
            .await?;
        Ok::<_, datafusion::error::DataFusionError>(())
    })
    .with_context(|| format!("{input} -> {output} ({codec})"))
}

/// Reads every row of `input` in parts, one thread per core, as executors
/// do; gives the rows.
fn read(input: &str) -> Result<u64> {
    use weir_datasets::formats::{ReadOptions, Source};
    let files = weir_datasets::input::resolve_input(input)?;
    let format = weir_datasets::input::detect_format(&files, None)?;
    let source = Source::open(files, format, &ReadOptions::default())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = source.split(cores);
    std::thread::scope(|scope| {
        let readers: Vec<_> = parts
            .iter()
            .map(|part| {
                scope.spawn(move || -> Result<u64> {
                    let mut rows = 0;
                    for batch in part.batches() {
                        rows += batch?.batch.num_rows() as u64;
                    }
                    Ok(rows)
                })
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().map_err(|_| anyhow::anyhow!("a reader panicked"))?)
            .sum()
    })
}
