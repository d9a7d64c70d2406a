//! Anchor jobs for `benches/anchors.sh` that need DataFusion itself (the
//! script times each job as a process of its own):
//!
//! `bench_job csv-to-parquet INPUT.csv OUTPUT_DIR CODEC` writes the CSV as
//! Parquet with DataFusion's own reader and writer, `CODEC` as DataFusion
//! spells it (`gzip(6)`: TFX's default deflate level, what ExampleGen's
//! TFRecord.gz is compared with; `zstd(3)`, `snappy`).

use anyhow::{bail, Context, Result};
use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{CsvReadOptions, SessionContext};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [job, input, output, codec] = args.as_slice() else {
        bail!("usage: bench_job csv-to-parquet INPUT.csv OUTPUT_DIR CODEC");
    };
    if job != "csv-to-parquet" {
        bail!("unknown job {job} (known: csv-to-parquet)");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
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
