//! Object stores through the CLI, against real-protocol servers on
//! 127.0.0.1 that `scripts/test` starts (and stops by PID): moto_server for
//! S3 (path-style) and fake-gcs-server for GCS reads. Without a server a
//! test prints why it skips; under `CI=true` it fails instead.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use weir_datasets::store;

pub(crate) use weir_tests::servers::{http, server};

use crate::cli::{testdata, weir};

pub(crate) fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// `weir` with the S3 test server's settings, as a user would pass them.
pub(crate) fn weir_s3(endpoint: &str) -> Command {
    let mut c = weir();
    c.env("WEIR_S3_ENDPOINT", endpoint)
        .env("WEIR_ALLOW_HTTP", "true")
        .env("WEIR_S3_PATH_STYLE", "true")
        .env("AWS_ACCESS_KEY_ID", "weir-test-key")
        .env("AWS_SECRET_ACCESS_KEY", "weir-test-secret")
        .env("AWS_REGION", "us-east-1");
    c
}

pub(crate) fn s3_bucket(endpoint: &str, name: &str) {
    let (status, body) = http(endpoint, "PUT", &format!("/{name}"), &[], b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

pub(crate) fn s3_put(endpoint: &str, bucket: &str, key: &str, body: &[u8]) {
    let (status, b) = http(endpoint, "PUT", &format!("/{bucket}/{key}"), &[], body);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
}

/// weir's own (signed) client for the S3 test server: objects written by a
/// signed client are private, so reads must be signed too.
fn s3_client(endpoint: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "weir-test-key");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "weir-test-secret");
        std::env::set_var("AWS_REGION", "us-east-1");
        store::configure(store::StoreOptions {
            s3_endpoint: Some(endpoint.to_string()),
            s3_path_style: Some(true),
            allow_http: true,
            ..Default::default()
        });
    });
}

/// Keys under `prefix/`, sorted.
pub(crate) fn s3_keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    s3_client(endpoint);
    let obj = store::parse(&format!("s3://{bucket}/{prefix}")).unwrap();
    let mut keys: Vec<String> = store::block_on(async move {
        obj.store
            .list(Some(&obj.key))
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<_>>()
            .await
    })
    .unwrap();
    keys.sort();
    keys
}

pub(crate) fn s3_get(endpoint: &str, bucket: &str, key: &str) -> Vec<u8> {
    s3_client(endpoint);
    let obj = store::parse(&format!("s3://{bucket}/{key}")).unwrap();
    store::block_on(async move {
        let r = obj.store.get(&obj.key).await?;
        r.bytes().await
    })
    .unwrap()
    .to_vec()
}

/// Every file under `dir` as (relative path, bytes), sorted.
pub(crate) fn local_tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The manifest without its input paths and fingerprints (a URL and the
/// store's ETag in one run, a path and a CRC32C of the content in the
/// other): everything else must be equal. Object inputs must be
/// fingerprinted by ETag (not read a second time), local ones by CRC32C.
pub(crate) fn manifest_without_paths(bytes: &[u8]) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    if let Some(inputs) = m.get_mut("inputs").and_then(|i| i.as_array_mut()) {
        for i in inputs {
            let remote = i["path"].as_str().is_some_and(|p| p.contains("://"));
            let o = i.as_object_mut().unwrap();
            let (etag, crc) = (o.remove("etag"), o.remove("crc32c"));
            if remote {
                assert!(etag.is_some() && crc.is_none(), "{o:?}");
            } else {
                assert!(crc.is_some() && etag.is_none(), "{o:?}");
            }
            i["path"] = serde_json::Value::Null;
        }
    }
    m
}

pub(crate) fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn s3_examplegen_with_stats_is_byte_identical_to_the_local_run() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let csv = testdata().join("taxi/examplegen_input/data.csv");
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    run_ok(
        weir()
            .args(["examplegen", "--stats", "--input"])
            .arg(&csv)
            .arg("--output")
            .arg(&local),
    );

    let bucket = unique("weir-rt");
    s3_bucket(&s3, &bucket);
    s3_put(&s3, &bucket, "raw/data.csv", &std::fs::read(&csv).unwrap());
    let out = run_ok(weir_s3(&s3).args([
        "examplegen",
        "--stats",
        "--input",
        &format!("s3://{bucket}/raw/"),
        "--output",
        &format!("s3://{bucket}/out"),
    ]));
    assert!(
        !out.contains("weir-test-secret"),
        "credentials printed: {out}"
    );

    let keys = s3_keys(&s3, &bucket, "out");
    let remote: Vec<(String, Vec<u8>)> = keys
        .iter()
        .map(|k| {
            (
                k.trim_start_matches("out/").to_string(),
                s3_get(&s3, &bucket, k),
            )
        })
        .collect();
    let local = local_tree(&local);
    assert_eq!(
        remote.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        local.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        "the same files, and no staging objects or lock left"
    );
    for ((name, r), (_, l)) in remote.iter().zip(&local) {
        if name == "manifest.json" {
            assert_eq!(manifest_without_paths(r), manifest_without_paths(l));
            assert!(String::from_utf8_lossy(r).contains(&format!("s3://{bucket}/raw/data.csv")));
        } else {
            assert!(r == l, "{name} differs between the S3 and the local run");
        }
    }

    // The committed S3 output is an input like a local one: statistics of
    // its splits, read back from S3 by listing the split folders.
    let stats = tmp.path().join("stats");
    run_ok(
        weir_s3(&s3)
            .args([
                "stats",
                "--splits-from-input",
                "--input",
                &format!("s3://{bucket}/out"),
            ])
            .arg("--output")
            .arg(&stats),
    );
    let local_stats = tmp.path().join("local_stats");
    run_ok(
        weir()
            .args(["stats", "--splits-from-input", "--input"])
            .arg(tmp.path().join("local"))
            .arg("--output")
            .arg(&local_stats),
    );
    for file in [
        "Split-train/FeatureStats.pb",
        "Split-eval/FeatureStats.pb",
        "statistics.parquet",
    ] {
        let (r, l) = (
            std::fs::read(stats.join(file)).unwrap(),
            std::fs::read(local_stats.join(file)).unwrap(),
        );
        assert!(
            r == l,
            "{file}: statistics of the S3 output differ from the local ones"
        );
    }
}

#[test]
fn killed_s3_write_leaves_no_committed_output_and_a_rerun_succeeds() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let csv = testdata().join("taxi/examplegen_input/data.csv");
    let bucket = unique("weir-kill");
    s3_bucket(&s3, &bucket);
    let target = format!("s3://{bucket}/out");
    // Fault injection: the run pauses after uploading its staging objects
    // and before committing, and is killed there.
    let mut child = weir_s3(&s3)
        .env("WEIR_FAULT_PAUSE_BEFORE_COMMIT_MS", "60000")
        .args(["examplegen", "--input"])
        .arg(&csv)
        .args(["--output", &target])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let keys = s3_keys(&s3, &bucket, "out");
        if keys
            .iter()
            .any(|k| k.contains("/.weir-staging/") && k.ends_with(".gz"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no staging objects appeared: {keys:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let keys = s3_keys(&s3, &bucket, "out");
    assert!(!keys.contains(&"out/manifest.json".to_string()), "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("out/.weir-staging/")),
        "only staging objects are left: {keys:?}"
    );

    // weir gc removes the garbage; a rerun commits.
    let gc = run_ok(weir_s3(&s3).args(["gc", &target]));
    assert!(gc.contains("removed"), "{gc}");
    assert!(s3_keys(&s3, &bucket, "out").is_empty());
    run_ok(
        weir_s3(&s3)
            .args(["examplegen", "--input"])
            .arg(&csv)
            .args(["--output", &target]),
    );
    let keys = s3_keys(&s3, &bucket, "out");
    assert!(keys.contains(&"out/manifest.json".to_string()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.contains(".weir-")), "{keys:?}");
}

#[test]
fn s3_output_prefix_with_foreign_objects_is_refused() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let bucket = unique("weir-foreign");
    s3_bucket(&s3, &bucket);
    s3_put(&s3, &bucket, "out/precious.txt", b"keep me");
    let out = weir_s3(&s3)
        .args(["examplegen", "--input"])
        .arg(testdata().join("taxi/examplegen_input/data.csv"))
        .args(["--output", &format!("s3://{bucket}/out")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(
        s3_keys(&s3, &bucket, "out"),
        vec!["out/precious.txt".to_string()]
    );
}

fn gcs_upload(endpoint: &str, bucket: &str, name: &str, body: &[u8]) {
    let (status, b) = http(
        endpoint,
        "POST",
        &format!("/upload/storage/v1/b/{bucket}/o?uploadType=media&name={name}"),
        &[("Content-Type", "application/octet-stream")],
        body,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
}

#[test]
fn gcs_sharded_glob_reads_like_the_local_files() {
    let Some(gcs) = server("WEIR_TEST_GCS_ENDPOINT", "GCS") else {
        return;
    };
    let bucket = unique("weir-gcs");
    let (status, b) = http(
        &gcs,
        "POST",
        "/storage/v1/b",
        &[("Content-Type", "application/json")],
        format!("{{\"name\":\"{bucket}\"}}").as_bytes(),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
    // The TFX taxi CSV split into BigQuery-style shards, plus a _SUCCESS
    // marker and a file the glob must not match.
    let csv = std::fs::read_to_string(testdata().join("taxi/examplegen_input/data.csv")).unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let tmp = tempfile::tempdir().unwrap();
    let local_dir = tmp.path().join("shards");
    std::fs::create_dir(&local_dir).unwrap();
    for (i, chunk) in rows.chunks(rows.len() / 3 + 1).enumerate() {
        let body = format!("{header}\n{}\n", chunk.join("\n"));
        let name = format!("data-{i:012}.csv");
        gcs_upload(&gcs, &bucket, &format!("export/{name}"), body.as_bytes());
        std::fs::write(local_dir.join(&name), &body).unwrap();
    }
    gcs_upload(&gcs, &bucket, "export/_SUCCESS", b"");
    gcs_upload(&gcs, &bucket, "export/other.csv", b"x,y\n1,2\n");

    let remote = tmp.path().join("remote");
    run_ok(
        weir()
            .env("WEIR_GCS_ENDPOINT", &gcs)
            .env("WEIR_GCS_ANONYMOUS", "true")
            .env("WEIR_ALLOW_HTTP", "true")
            .args([
                "examplegen",
                "--input",
                &format!("gs://{bucket}/export/data-*.csv"),
            ])
            .arg("--output")
            .arg(&remote),
    );
    let local = tmp.path().join("local");
    run_ok(
        weir()
            .args(["examplegen", "--input"])
            .arg(local_dir.join("data-*.csv"))
            .arg("--output")
            .arg(&local),
    );
    let (r, l): (Vec<_>, Vec<_>) = (local_tree(&remote), local_tree(&local));
    assert_eq!(r.len(), l.len());
    for ((name, a), (_, b)) in r.iter().zip(&l) {
        if name == "manifest.json" {
            assert_eq!(manifest_without_paths(a), manifest_without_paths(b));
        } else {
            assert!(a == b, "{name} differs between the GCS and the local read");
        }
    }
}

/// A pipeline whose input spans and root are on S3: outputs, run manifests
/// and the lock live in the bucket; the second run finds the span unchanged
/// (by the objects' ETags), and `weir sql` reads the root back.
#[test]
fn a_pipeline_with_its_root_on_s3_runs_caches_and_answers_sql() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bucket = unique("weir-pipeline");
    s3_bucket(&s3, &bucket);
    // The input's daily spans are objects too.
    let csv = std::fs::read(testdata().join("taxi/examplegen_input/data.csv")).unwrap();
    s3_put(&s3, &bucket, "data/20240102/data.csv", &csv);
    let cfg = dir.path().join("pipeline.toml");
    std::fs::write(
        &cfg,
        format!(
            "name = \"taxi\"\nroot = \"s3://{bucket}/root\"\n[input]\n\
             pattern = \"s3://{bucket}/data/{{YYYY}}{{MM}}{{DD}}/*.csv\"\n[validation]\ndrift = true\n\
             warn = [\"ENUM_TYPE_UNEXPECTED_STRING_VALUES\", \"FEATURE_TYPE_NOT_PRESENT\"]\n"
        ),
    )
    .unwrap();
    let span = "19724";
    let first = run_ok(weir_s3(&s3).arg("run").arg(&cfg));
    assert!(first.contains("(1 processed, 0 unchanged)"), "{first}");
    let second = run_ok(weir_s3(&s3).arg("run").arg(&cfg));
    assert!(second.contains("(0 processed, 1 unchanged)"), "{second}");
    let keys = s3_keys(&s3, &bucket, "root");
    for component in ["examplegen", "statistics", "schema", "anomalies"] {
        let manifest = format!("root/{component}/span={span}/version=0/manifest.json");
        assert!(keys.contains(&manifest), "{manifest} in {keys:?}");
    }
    assert_eq!(
        keys.iter()
            .filter(|k| k.starts_with("root/_runs/") && k.ends_with(".json"))
            .count(),
        2,
        "{keys:?}"
    );
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("_lock") || k.contains(".weir-")),
        "{keys:?}"
    );
    let sql = |query: &str| {
        run_ok(weir_s3(&s3).args([
            "sql",
            "--root",
            &format!("s3://{bucket}/root"),
            "--format",
            "csv",
            query,
        ]))
    };
    let out = sql("SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status");
    assert!(out.contains("cached,1") && out.contains("ok,1"), "{out}");
    // The eval split has values the train split's schema does not list:
    // recorded, as warnings.
    let out = sql("SELECT DISTINCT severity FROM anomalies");
    assert_eq!(out.trim(), "severity\nWARNING", "{out}");
}
