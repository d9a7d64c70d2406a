//! Object-store outputs through a store the program registers: GCS writes
//! (which the GCS emulator's XML API cannot take) on `object_store`'s
//! in-memory store under a `gs://` root. ExampleGen with statistics,
//! statistics and transform write to `gs://`, read back from it, and give
//! the bytes a local run gives.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use weir_datasets::store;
use weir_engine::{ExampleGenBuilder, StatsBuilder, TransformBuilder};
use weir_tests::{runtime, testdata};

use crate::transform::TAXI_SQL;

/// Every object under `prefix/` as relative key → bytes.
fn objects(mem: &Arc<InMemory>, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let mem = mem.clone();
    let prefix = prefix.to_string();
    store::block_on(async move {
        let p = ObjectPath::from(prefix.as_str());
        let metas: Vec<_> = mem.list(Some(&p)).try_collect().await.unwrap();
        let mut out = BTreeMap::new();
        for m in metas {
            let body = mem.get(&m.location).await.unwrap().bytes().await.unwrap();
            let rel = m.location.as_ref()[prefix.len() + 1..].to_string();
            out.insert(rel, body.to_vec());
        }
        out
    })
}

/// Every file under `dir` as relative path → bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    crate::util::tree(dir)
        .into_iter()
        .filter(|rel| dir.join(rel).is_file())
        .map(|rel| (rel.clone(), std::fs::read(dir.join(&rel)).unwrap()))
        .collect()
}

fn without_statistics(m: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    m.iter()
        .filter(|(k, _)| !k.starts_with("statistics/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn gcs_outputs_commit_on_a_registered_store_and_match_local_runs() {
    let mem = Arc::new(InMemory::new());
    store::register("gs://weir-mem", mem.clone()).unwrap();
    let input = testdata().join("taxi/examplegen_input/data.csv");
    let d = tempfile::tempdir().unwrap();

    // ExampleGen + fused statistics.
    let local_eg = d.path().join("eg");
    ExampleGenBuilder::new(input.to_string_lossy(), &local_eg)
        .with_stats(true)
        .execute()
        .unwrap();
    ExampleGenBuilder::new(input.to_string_lossy(), "gs://weir-mem/eg")
        .with_stats(true)
        .execute()
        .unwrap();
    let remote = objects(&mem, "eg");
    let local = files(&local_eg);
    assert!(remote.contains_key("manifest.json"), "{:?}", remote.keys());
    assert_eq!(without_statistics(&remote), without_statistics(&local));
    // The statistics have the same files (KLL quantiles are randomized, so
    // bytes are compared by `weir stats`' own tests, not here).
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    assert!(!remote.keys().any(|k| k.starts_with(".weir")), "{remote:?}");

    // Statistics of the gs:// ExampleGen output, into gs://.
    let rt = runtime();
    let s = rt
        .block_on(
            StatsBuilder::new("gs://weir-mem/eg", "gs://weir-mem/stats")
                .with_splits_from_input(true)
                .execute(),
        )
        .unwrap();
    let counts: Vec<(String, u64)> = s
        .splits
        .iter()
        .map(|x| (x.split.clone(), x.stats.num_examples))
        .collect();
    let stats = objects(&mem, "stats");
    for (split, n) in &counts {
        assert!(*n > 0, "{split}");
        assert!(
            stats.contains_key(&format!("Split-{split}/FeatureStats.pb")),
            "{:?}",
            stats.keys()
        );
    }
    assert!(stats.contains_key("statistics.parquet"));

    // Transform reading gs:// and writing gs:// equals a local transform.
    let local_tf = d.path().join("tf");
    rt.block_on(TransformBuilder::new(TAXI_SQL, &local_eg, &local_tf).execute())
        .unwrap();
    rt.block_on(TransformBuilder::new(TAXI_SQL, "gs://weir-mem/eg", "gs://weir-mem/tf").execute())
        .unwrap();
    let (remote, local_files) = (objects(&mem, "tf"), files(&local_tf));
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local_files.keys().collect::<Vec<_>>()
    );
    // The manifest names its output and its timings; everything else is
    // the same bytes.
    let differing: Vec<&String> = remote
        .iter()
        .filter(|(k, v)| *k != "manifest.json" && local_files[*k] != **v)
        // Until quantile sketches are deterministic, bucket boundaries may
        // differ in their last digits between runs.
        .filter(|(k, _)| !k.starts_with("transform_graph/transform."))
        .map(|(k, _)| k)
        .collect();
    std::fs::write("/tmp/r.json", &remote["transform_graph/transform.json"]).unwrap();
    std::fs::write(
        "/tmp/l.json",
        &local_files["transform_graph/transform.json"],
    )
    .unwrap();
    assert!(differing.is_empty(), "differ: {differing:?}");

    // A committed output survives gc; a dead run's staging does not.
    let target = store::parse("gs://weir-mem/eg").unwrap();
    let stray = ObjectPath::from("eg/.weir-staging/dead-run/Split-train/x.gz");
    let m = mem.clone();
    store::block_on(async move { m.put(&stray, PutPayload::from_static(b"x")).await }).unwrap();
    let report = store::publish::gc(&target).unwrap();
    assert_eq!((report.staging, report.orphans, report.lock), (1, 0, false));
    assert_eq!(
        without_statistics(&objects(&mem, "eg")),
        without_statistics(&local)
    );
}

#[test]
fn register_refuses_what_is_not_a_store_root() {
    let mem: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    for bad in ["gs://b/key", "file:///tmp", "gs://", "http://x"] {
        let e = store::register(bad, mem.clone()).unwrap_err().to_string();
        assert!(e.contains(bad), "{e}");
    }
}
