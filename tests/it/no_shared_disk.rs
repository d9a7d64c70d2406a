//! A cluster whose processes share nothing but an object store (issue 24):
//! moto_server is the only shared storage; one `weir-scheduler` and three
//! `weir-executor`s each have a private work directory and `TMPDIR`, and
//! the client (`weir`) runs in a directory of its own. ExampleGen, stats
//! and transform from `s3://` to `s3://` on that cluster write the bytes of
//! an in-process run, and the client's requests (logged by a proxy in
//! front of moto) never read or upload a shard: executors upload their
//! attempts, and the client commits them with server-side copies.
//!
//! Needs `WEIR_TEST_S3_ENDPOINT` (`scripts/test` starts moto_server); the
//! test says why it skips without it, and fails under `CI=true`.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use weir_tests::cluster::{workspace_binary, LocalCluster, LocalClusterOptions};
use weir_tests::s3_proxy::{FaultProxy, Phase, SeenRequest};
use weir_tests::servers::{http, server};
use weir_tests::{runtime, testdata};

const KEY: &str = "weir-test-key";
const SECRET: &str = "weir-test-secret";

/// The S3 test server, or why the test skips.
pub(crate) fn s3_endpoint() -> Option<String> {
    server("WEIR_TEST_S3_ENDPOINT", "S3")
}

/// The settings a user gives every weir process to reach `endpoint`.
pub(crate) fn s3_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("WEIR_S3_ENDPOINT", endpoint),
        ("WEIR_ALLOW_HTTP", "true"),
        ("WEIR_S3_PATH_STYLE", "true"),
        ("AWS_ACCESS_KEY_ID", KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A fresh bucket on `endpoint` and the test's own client for it.
pub(crate) fn bucket(endpoint: &str) -> (String, Arc<AmazonS3>) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("weir-nsd-{}-{nanos}", std::process::id());
    let (status, body) = http(endpoint, "PUT", &format!("/{name}"), &[], b"");
    assert_eq!(
        status,
        200,
        "create bucket: {}",
        String::from_utf8_lossy(&body)
    );
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(&name)
        .with_allow_http(true)
        .with_access_key_id(KEY)
        .with_secret_access_key(SECRET)
        .with_region("us-east-1")
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap();
    (name, Arc::new(store))
}

/// Every object under `prefix/` as (relative key, bytes), sorted.
pub(crate) fn objects(store: &AmazonS3, prefix: &str) -> Vec<(String, Vec<u8>)> {
    runtime().block_on(async {
        let p = ObjectPath::from(prefix);
        let metas: Vec<_> = store.list(Some(&p)).try_collect().await.unwrap();
        let mut out = Vec::new();
        for m in metas {
            let bytes = store.get(&m.location).await.unwrap().bytes().await.unwrap();
            let rel = m.location.as_ref()[prefix.len() + 1..].to_string();
            let bytes = if rel == "manifest.json" {
                comparable_manifest(&bytes)
            } else {
                bytes.to_vec()
            };
            out.push((rel, bytes));
        }
        out.sort();
        out
    })
}

/// A manifest without what differs by design between two runs: the
/// output's own URL and the timings.
fn comparable_manifest(bytes: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| k != "output" && !k.ends_with("_seconds"));
    }
    serde_json::to_vec(&v).unwrap()
}

fn assert_same_objects(store: &AmazonS3, local: &str, cluster: &str) {
    let (a, b) = (objects(store, local), objects(store, cluster));
    assert!(!a.is_empty(), "{local}: no output");
    assert_eq!(
        a.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        b.iter().map(|(k, _)| k).collect::<Vec<_>>(),
        "{cluster}: different objects"
    );
    for ((k, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{cluster}/{k} differs from the in-process run's");
    }
}

/// Runs `weir` in `dir` with a private `TMPDIR`, reaching S3 at `endpoint`
/// (`cluster`'s logs in the message when it fails).
fn weir(dir: &Path, endpoint: &str, args: &[&str], cluster: &LocalCluster) {
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = Command::new(workspace_binary("weir"))
        .current_dir(dir)
        .env("TMPDIR", &tmp)
        .env_remove("WEIR_STAGING_DIR")
        .envs(s3_env(endpoint))
        .env("WEIR_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weir {args:?}: {}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
}

/// Whether a client request moved a shard's bytes: a read of an output
/// object other than a manifest, or an upload (not a server-side copy)
/// of anything but weir's small bookkeeping files.
fn moves_shard_bytes(r: &SeenRequest, bucket: &str) -> bool {
    let path = r.target.split('?').next().unwrap_or("");
    let Some(key) = path.strip_prefix(&format!("/{bucket}/cluster/")) else {
        return false;
    };
    let file = key.rsplit('/').next().unwrap_or("");
    let small = matches!(
        file,
        "manifest.json" | ".weir-lock" | ".open" | "FeatureStats.pb" | "statistics.parquet"
    ) || key.contains("/transform_graph/");
    match r.method.as_str() {
        "GET" => r.phase != Some(Phase::List) && !small,
        "PUT" | "POST" => r.phase != Some(Phase::Copy) && !small,
        _ => false,
    }
}

/// Files left under `dir` (recursively).
pub(crate) fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.display().to_string());
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

/// The arguments of step `name` writing to `out` in `bucket`: ExampleGen
/// of the taxi CSV with its statistics (fused into its read; one input
/// file is one part, so the threaded splitter's statistics are the
/// plan's bytes), then stats and transform of the in-process ExampleGen
/// output (the same input in both modes).
fn step(name: &str, bucket: &str, out: &str) -> Vec<String> {
    let url = |rel: &str| format!("s3://{bucket}/{rel}");
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/taxi_transform.sql");
    let mut args: Vec<String> = match name {
        "eg" => vec!["examplegen", "--stats", "--shards", "3", "--input"]
            .into_iter()
            .map(String::from)
            .chain([url("in/data.csv")])
            .collect(),
        "stats" => vec!["stats", "--splits-from-input", "--input"]
            .into_iter()
            .map(String::from)
            .chain([url("inproc/eg")])
            .collect(),
        _ => vec![
            "transform".to_string(),
            "--sql".into(),
            sql.to_string_lossy().into_owned(),
            "--input".into(),
            url("inproc/eg"),
        ],
    };
    args.extend(["--output".to_string(), url(out)]);
    args
}

#[test]
fn a_cluster_sharing_only_an_object_store_writes_the_bytes_of_in_process() {
    let Some(s3) = s3_endpoint() else {
        return;
    };
    let (bucket, store) = bucket(&s3);
    let csv = std::fs::read(testdata().join("taxi/examplegen_input/data.csv")).unwrap();
    runtime()
        .block_on(store.put(&ObjectPath::from("in/data.csv"), PutPayload::from(csv)))
        .unwrap();
    let cluster = LocalCluster::start(LocalClusterOptions {
        executors: 3,
        env: s3_env(&s3),
        ..Default::default()
    });
    let proxy = FaultProxy::start(&s3);
    let client = tempfile::tempdir().unwrap();
    let mut shard_copies = 0;
    for name in ["eg", "stats", "tf"] {
        let a = step(name, &bucket, &format!("inproc/{name}"));
        weir(
            client.path(),
            &s3,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &cluster,
        );
        let mut a = step(name, &bucket, &format!("cluster/{name}"));
        a.extend(["--cluster".to_string(), cluster.url.clone()]);
        proxy.reset();
        weir(
            client.path(),
            &proxy.endpoint,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &cluster,
        );
        let requests = proxy.requests();
        let moved: Vec<&SeenRequest> = requests
            .iter()
            .filter(|r| moves_shard_bytes(r, &bucket))
            .collect();
        assert!(
            moved.is_empty(),
            "{name}: the client moved shard bytes: {moved:#?}"
        );
        shard_copies += requests
            .iter()
            .filter(|r| r.phase == Some(Phase::Copy))
            .count();
        assert_same_objects(
            &store,
            &format!("inproc/{name}"),
            &format!("cluster/{name}"),
        );
    }
    // Every ExampleGen and transform shard was committed by a copy.
    assert!(shard_copies >= 6, "{shard_copies} copies");
    // Nothing is left behind: no staging objects, no local attempt files.
    let keys: Vec<String> = objects(&store, "cluster")
        .into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.contains(".weir-"))
        .collect();
    assert!(keys.is_empty(), "left in the bucket: {keys:?}");
    for i in 0..3 {
        let left = files_under(&cluster.executor_tmp(i));
        assert!(left.is_empty(), "executor {i} left {left:?}");
    }
    let left = files_under(&client.path().join("tmp"));
    assert!(left.is_empty(), "the client left {left:?}");

    // What a killed client leaves (a run's attempt prefix with an
    // uploaded shard) `weir gc` removes; the committed output stays.
    let dead = "cluster/tf/.weir-staging/1-2/attempts/t-0/transformed_examples/x.gz";
    runtime()
        .block_on(store.put(&ObjectPath::from(dead), PutPayload::from_static(b"x")))
        .unwrap();
    let committed = objects(&store, "cluster/tf");
    weir(
        client.path(),
        &s3,
        &["gc", &format!("s3://{bucket}/cluster/tf")],
        &cluster,
    );
    let after = objects(&store, "cluster/tf");
    assert!(
        after.iter().all(|(k, _)| !k.contains(".weir-")),
        "{after:?}"
    );
    assert_eq!(after.len() + 1, committed.len());
}
