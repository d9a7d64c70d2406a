//! Object stores that fail (issue 27): the fault-injecting proxy
//! ([`weir_tests::s3_proxy`]) in front of the S3 test server (moto) answers
//! 503, resets the connection, stalls, or truncates the response body, on
//! the requests of one phase of a run (the listing, an object read, a
//! multipart part, the copy into place, the manifest PUT). A fault that
//! passes (once) is retried and the output equals a clean run's; a fault
//! that lasts ends the run with a clear error naming the URL, with no
//! manifest visible, and `weir gc` clears what is left.

use weir_tests::s3_proxy::{Fault, FaultProxy, Phase};

use crate::cli::testdata;
use crate::object_store::{
    manifest_without_paths, run_ok, s3_bucket, s3_get, s3_keys, s3_put, server, unique, weir_s3,
};

/// The output's objects as (relative key, bytes), the manifest without
/// its input paths.
fn output(s3: &str, bucket: &str) -> Vec<(String, Vec<u8>)> {
    s3_keys(s3, bucket, "out")
        .into_iter()
        .map(|k| {
            let bytes = s3_get(s3, bucket, &k);
            let rel = k.trim_start_matches("out/").to_string();
            let bytes = if rel == "manifest.json" {
                serde_json::to_vec(&manifest_without_paths(&bytes)).unwrap()
            } else {
                bytes
            };
            (rel, bytes)
        })
        .collect()
}

/// ExampleGen from an S3 input to an S3 output through `proxy`; exit code
/// and output.
fn examplegen(proxy: &FaultProxy, bucket: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = weir_s3(&proxy.endpoint)
        .env("WEIR_STORE_RETRY_TIMEOUT", "8")
        .env("WEIR_STORE_MAX_RETRIES", "3")
        .args([
            "examplegen",
            "--input",
            &format!("s3://{bucket}/raw/data.csv"),
            "--output",
            &format!("s3://{bucket}/out"),
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every fault once and 503 always on each of `phases`, for ExampleGen of
/// `csv` with `extra` flags; the report lines.
fn faults_on(
    s3: &str,
    proxy: &FaultProxy,
    csv: &[u8],
    extra: &[&str],
    phases: &[Phase],
) -> Vec<String> {
    let fresh = |tag: &str| {
        let bucket = unique(&format!("weir-fault-{tag}"));
        s3_bucket(s3, &bucket);
        s3_put(s3, &bucket, "raw/data.csv", csv);
        bucket
    };
    // A clean run through the proxy: the reference, and every phase occurs.
    let clean_bucket = fresh("clean");
    proxy.set(Phase::List, Fault::Stall, 0);
    let (code, text) = examplegen(proxy, &clean_bucket, extra);
    assert_eq!(code, Some(0), "{text}");
    let clean = output(s3, &clean_bucket);
    let seen = proxy.phases_seen();
    for p in phases {
        assert!(
            seen.contains(p),
            "a clean run makes no {p:?} request: {seen:?}"
        );
    }
    let mut report = Vec::new();
    for &phase in phases {
        for fault in [
            Fault::Unavailable,
            Fault::Reset,
            Fault::Stall,
            Fault::Truncate,
            Fault::Lost,
        ] {
            // Once: retried, and the output is the clean run's.
            let bucket = fresh("once");
            proxy.set(phase, fault, 1);
            let (code, text) = examplegen(proxy, &bucket, extra);
            assert_eq!(proxy.injected(), 1, "{phase:?} {fault:?}");
            assert_eq!(code, Some(0), "{phase:?} {fault:?} once: {text}");
            assert!(
                output(s3, &bucket) == clean,
                "{phase:?} {fault:?} once: output differs"
            );
            report.push(format!("{phase:?} {fault:?} once: retried, output equal"));
        }
        // Always: a clear error naming the URL, no manifest, gc clears it.
        let bucket = fresh("always");
        proxy.set(phase, Fault::Unavailable, usize::MAX);
        let (code, text) = examplegen(proxy, &bucket, extra);
        proxy.clear();
        assert_eq!(code, Some(1), "{phase:?} always: {text}");
        assert!(
            text.contains(&format!("s3://{bucket}")),
            "{phase:?}: {text}"
        );
        let keys = s3_keys(s3, &bucket, "out");
        assert!(
            !keys.iter().any(|k| k == "out/manifest.json"),
            "{phase:?}: {keys:?}"
        );
        run_ok(weir_s3(s3).args(["gc", &format!("s3://{bucket}/out")]));
        let left = s3_keys(s3, &bucket, "out");
        assert!(
            left.iter()
                .all(|k| !k.contains(".weir-") && !k.contains("_lock")),
            "{phase:?}: gc left {left:?}"
        );
        report.push(format!(
            "{phase:?} 503 always: exit 1, {}",
            text.lines().last().unwrap_or("")
        ));
    }
    report
}

#[test]
fn s3_faults_are_retried_or_fail_cleanly_and_never_half_commit() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let proxy = FaultProxy::start(&s3);
    let csv = std::fs::read(testdata().join("taxi/examplegen_input/data.csv")).unwrap();
    let mut report = faults_on(
        &s3,
        &proxy,
        &csv,
        &["--shards", "2"],
        &[
            Phase::List,
            Phase::Read,
            Phase::Upload,
            Phase::Copy,
            Phase::Manifest,
        ],
    );
    // Multipart parts: one uncompressed shard of 40,000 rows (over 8 MiB).
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.csv");
    run_ok(
        crate::cli::weir()
            .args(["sample", "--rows", "40000", "--seed", "5", "--output"])
            .arg(&big),
    );
    report.extend(faults_on(
        &s3,
        &proxy,
        &std::fs::read(&big).unwrap(),
        &["--shards", "1", "--compression", "none"],
        &[Phase::Part],
    ));
    println!("{}", report.join("\n"));
}
