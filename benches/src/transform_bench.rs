//! Transform benchmark: the TFX taxi preprocessing (`examples/taxi_transform.sql`)
//! analyzed and applied by `weir transform` over a generated taxi-like
//! Parquet table (default 10M rows), against DataFusion running the same
//! work as plain SQL on the same file: one aggregate pass computing the
//! analyzers' figures (mean, population std, approximate percentiles,
//! distinct counts) and a projection with the same shape written to
//! Parquet. Each run is a child process of this program (own peak RSS);
//! prints rows/s per phase, peak RSS and the ratios.
//!
//! Usage: `transform_bench [--rows N] [--dir DIR]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Result};
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use weir_benches::{arg, report, run_phase};
use weir_engine::{OutputFormat, TransformBuilder};

const BASELINE_ANALYZE: &str = "SELECT
  avg(coalesce(fare, 0)), stddev_pop(coalesce(fare, 0)),
  avg(coalesce(trip_miles, 0)), stddev_pop(coalesce(trip_miles, 0)),
  avg(coalesce(trip_seconds, 0)), stddev_pop(coalesce(trip_seconds, 0)),
  count(DISTINCT coalesce(payment_type, '')), count(DISTINCT coalesce(company, '')),
  approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(pickup_latitude, 0)),
  approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(pickup_longitude, 0)),
  approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(dropoff_latitude, 0)),
  approx_percentile_cont(0.5) WITHIN GROUP (ORDER BY coalesce(dropoff_longitude, 0))
FROM taxi";

const BASELINE_APPLY: &str = "SELECT
  CAST((coalesce(fare, 0) - 11.0) / 10.0 AS FLOAT) AS fare_xf,
  CAST((coalesce(trip_miles, 0) - 2.0) / 6.0 AS FLOAT) AS trip_miles_xf,
  CAST((coalesce(trip_seconds, 0) - 700.0) / 800.0 AS FLOAT) AS trip_seconds_xf,
  CASE coalesce(payment_type, '') WHEN 'Cash' THEN 0 WHEN 'Credit Card' THEN 1 ELSE 2 END AS payment_type_xf,
  CASE coalesce(company, '') WHEN 'Flash Cab' THEN 0 WHEN 'Yellow Cab' THEN 1 ELSE 2 END AS company_xf,
  CAST(coalesce(pickup_latitude, 0) > 41.9 AS BIGINT) AS pickup_latitude_xf,
  CAST(coalesce(pickup_longitude, 0) > -87.7 AS BIGINT) AS pickup_longitude_xf,
  CAST(coalesce(dropoff_latitude, 0) > 41.9 AS BIGINT) AS dropoff_latitude_xf,
  CAST(coalesce(dropoff_longitude, 0) > -87.7 AS BIGINT) AS dropoff_longitude_xf,
  coalesce(trip_start_hour, 0) AS trip_start_hour_xf,
  coalesce(trip_start_day, 0) AS trip_start_day_xf,
  coalesce(trip_start_month, 0) AS trip_start_month_xf,
  coalesce(pickup_census_tract, 0) AS pickup_census_tract_xf,
  coalesce(dropoff_census_tract, 0) AS dropoff_census_tract_xf,
  coalesce(pickup_community_area, 0) AS pickup_community_area_xf,
  coalesce(dropoff_community_area, 0) AS dropoff_community_area_xf,
  CASE WHEN fare IS NULL THEN 0 WHEN tips > fare * 0.2 THEN 1 ELSE 0 END AS tips_xf
FROM taxi";

fn sql_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/taxi_transform.sql")
}

async fn phase(which: &str, input: &Path, dir: &Path) -> Result<()> {
    let parquet = input.join("Split-train/data.parquet");
    let start = Instant::now();
    let mut extra = serde_json::json!({});
    match which {
        "baseline" => {
            let ctx = SessionContext::new();
            ctx.register_parquet(
                "taxi",
                parquet.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await?;
            let t = Instant::now();
            ctx.sql(BASELINE_ANALYZE).await?.collect().await?;
            let analyze = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let out = dir.join("out-baseline");
            let _ = std::fs::remove_dir_all(&out);
            ctx.sql(BASELINE_APPLY)
                .await?
                .write_parquet(&out.to_string_lossy(), DataFrameWriteOptions::new(), None)
                .await?;
            extra = serde_json::json!({"analyze": analyze, "apply": t.elapsed().as_secs_f64()});
        }
        "weir-parquet" | "weir-tfrecord" => {
            let sql = std::fs::read_to_string(sql_file())?;
            let format = if which == "weir-parquet" {
                OutputFormat::Parquet
            } else {
                OutputFormat::Tfrecord
            };
            let s = TransformBuilder::new(sql, input, dir.join(format!("out-{which}")))
                .with_output_format(format)
                .execute()
                .await?;
            extra = serde_json::json!({"analyze": s.analyze_seconds, "apply": s.apply_seconds});
        }
        other => bail!("unknown phase {other}"),
    }
    report(which, start.elapsed().as_secs_f64(), extra);
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (rows, dir) = weir_benches::rows_and_dir(&args, 10_000_000)?;
    let input = dir.join(format!("taxi-{rows}"));
    let parquet = input.join("Split-train/data.parquet");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if !parquet.exists() || weir_benches::parquet_rows(&parquet)? != rows as u64 {
        let csv = weir_benches::taxi_csv(rows, &dir)?;
        rt.block_on(weir_benches::csv_to_parquet(&csv, &parquet))?;
    }
    if let Some(p) = arg(&args, "--phase") {
        return rt.block_on(phase(&p, &input, &dir));
    }
    drop(rt);
    let pass = ["--rows".to_string(), rows.to_string()];
    let runs = ["baseline", "weir-parquet", "weir-tfrecord"];
    let mut results = Vec::new();
    for which in runs {
        results.push(run_phase(which, &pass, &dir)?);
    }
    let get = |i: usize, k: &str| results[i][k].as_f64().unwrap_or(f64::NAN);
    println!(
        "transform benchmark: taxi query over {rows} rows ({})",
        parquet.display()
    );
    println!(
        "{:<44} {:>12} {:>12} {:>10}",
        "run", "analyze r/s", "apply r/s", "peak RSS"
    );
    for (i, label) in [
        "datafusion SQL (same aggregates, projection)",
        "weir transform -> parquet",
        "weir transform -> tfrecord.gz",
    ]
    .iter()
    .enumerate()
    {
        println!(
            "{:<44} {:>12.0} {:>12.0} {:>8.0}MB",
            label,
            rows as f64 / get(i, "analyze"),
            rows as f64 / get(i, "apply"),
            get(i, "peak_rss") / 1e6
        );
    }
    println!(
        "ratio weir / datafusion: analyze {:.2}, apply (parquet) {:.2}, apply (tfrecord.gz) {:.2}",
        get(1, "analyze") / get(0, "analyze"),
        get(1, "apply") / get(0, "apply"),
        get(2, "apply") / get(0, "apply")
    );
    Ok(())
}
