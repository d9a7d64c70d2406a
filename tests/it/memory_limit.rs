//! Exact statistics under a memory limit (issue 24): a generated input with
//! a string feature whose every value is distinct, run through the `weir`
//! binary with a small `--memory-limit` and with a large one. The
//! value-count aggregation spills, so the limited run's peak RSS stays
//! under a bound while the figures are exact (checked against a naive
//! count) and the two outputs are the same bytes.
//!
//! `WEIR_SPILL_ROWS` sets the input's size (default 2,000,000 rows, all of
//! them distinct `id`s); the 20M-distinct figures are this test
//! with `WEIR_SPILL_ROWS=20000000 WEIR_SPILL_LIMIT=256MB`.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use weir_tests::cluster::workspace_binary;
use weir_tfmd::statistics::Stats;

use crate::stats::load;

/// Row `i` of the generated input: a distinct id, a word of 97, a tag of
/// a skewed distribution.
fn row(i: u64) -> (String, String, String) {
    let mixed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (
        format!("k{mixed:016x}{i}"),
        format!("w{}", i % 97),
        format!("t{}", (i * i) % 1013 % (1 + i % 31)),
    )
}

/// Runs `weir` to its end; its peak RSS in bytes (`VmHWM`, read while it
/// runs).
fn run_measured(args: &[&str]) -> u64 {
    let mut child = Command::new(workspace_binary("weir"))
        .args(args)
        .env("WEIR_LOG", "warn")
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak = peak.max(kb * 1024);
            }
        }
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "weir {args:?} failed: {s}");
            return peak;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stats(input: &Path, out: &Path, limit: &str) -> u64 {
    run_measured(&[
        "stats",
        "--input",
        &input.to_string_lossy(),
        "--output",
        &out.to_string_lossy(),
        "--memory-limit",
        limit,
        "--quiet",
    ])
}

#[test]
fn exact_statistics_spill_under_a_memory_limit_and_stay_exact() {
    let rows: u64 = std::env::var("WEIR_SPILL_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let limit = std::env::var("WEIR_SPILL_LIMIT").unwrap_or_else(|_| "64MB".into());
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("data.csv");
    let mut naive: HashMap<String, u64> = HashMap::new();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        writeln!(w, "id,word,tag").unwrap();
        for i in 0..rows {
            let (id, word, tag) = row(i);
            writeln!(w, "{id},{word},{tag}").unwrap();
            *naive.entry(tag).or_default() += 1;
        }
    }
    let (limited, large) = (d.path().join("limited"), d.path().join("large"));
    let limited_peak = stats(&input, &limited, &limit);
    let large_peak = stats(&input, &large, "64GB");
    println!(
        "{rows} rows, {rows} distinct ids: peak RSS {} MB under --memory-limit {limit}, {} MB without a limit",
        limited_peak >> 20,
        large_peak >> 20
    );

    let a = std::fs::read(limited.join("Split-all/FeatureStats.pb")).unwrap();
    let b = std::fs::read(large.join("Split-all/FeatureStats.pb")).unwrap();
    assert!(a == b, "the limited run's statistics differ");
    let d = load(&limited.join("Split-all/FeatureStats.pb"));
    let strings = |name: &str| {
        let f = d
            .features
            .iter()
            .find(|f| f.feature_name() == name)
            .unwrap();
        match &f.stats {
            Some(Stats::StringStats(s)) => s.clone(),
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(strings("id").unique, rows);
    assert_eq!(strings("word").unique, 97.min(rows));
    // The tag's top values are the naive count's, in TFDV's order.
    let tag = strings("tag");
    assert_eq!(tag.unique, naive.len() as u64);
    let mut expected: Vec<(String, u64)> = naive.into_iter().collect();
    expected.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| y.0.cmp(&x.0)));
    let got: Vec<(String, u64)> = tag
        .top_values
        .iter()
        .map(|v| (v.value.clone(), v.frequency as u64))
        .collect();
    assert_eq!(got, expected[..got.len()].to_vec());
    assert!(!got.is_empty());
    // The bound: the limit, plus the process's fixed cost and buffers.
    let bound = 200u64 << 20;
    if rows <= 2_000_000 {
        assert!(
            limited_peak < bound,
            "peak RSS {} MB under {limit} (bound {} MB)",
            limited_peak >> 20,
            bound >> 20
        );
    }
}
