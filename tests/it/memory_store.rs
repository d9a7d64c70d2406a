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

#[test]
fn gcs_outputs_commit_on_a_registered_store_and_match_local_runs() {
    let mem = Arc::new(InMemory::new());
    store::register("gs://weir-mem", mem.clone()).unwrap();
    let input = testdata().join("taxi/examplegen_input/data.csv");
    let d = tempfile::tempdir().unwrap();

    // ExampleGen + fused statistics.
    let local_eg = d.path().join("eg");
    ExampleGenBuilder::new(input.to_string_lossy(), &local_eg)
        .with_stats(weir_engine::examplegen::StatsMode::Exact)
        .execute()
        .unwrap();
    ExampleGenBuilder::new(input.to_string_lossy(), "gs://weir-mem/eg")
        .with_stats(weir_engine::examplegen::StatsMode::Exact)
        .execute()
        .unwrap();
    let remote = objects(&mem, "eg");
    let local = files(&local_eg);
    assert!(remote.contains_key("manifest.json"), "{:?}", remote.keys());
    assert!(remote.contains_key("statistics/Split-train/FeatureStats.pb"));
    assert!(remote == local, "gs:// and local outputs differ");
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
    assert!(
        objects(&mem, "eg") == local,
        "gc changed a committed output"
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

/// An object store that records what weir asks of it: every GET's range,
/// every multipart part's size, and the most parts in flight at once.
#[derive(Debug, Default)]
struct MeteredStore {
    inner: InMemory,
    gets: std::sync::Mutex<Vec<Option<object_store::GetRange>>>,
    parts: Arc<std::sync::Mutex<Vec<usize>>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Display for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MeteredStore")
    }
}

#[derive(Debug)]
struct MeteredUpload {
    inner: Box<dyn object_store::MultipartUpload>,
    parts: Arc<std::sync::Mutex<Vec<usize>>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    max_in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait::async_trait]
impl object_store::MultipartUpload for MeteredUpload {
    fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
        use std::sync::atomic::Ordering::SeqCst;
        self.parts.lock().unwrap().push(data.content_length());
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max_in_flight.fetch_max(now, SeqCst);
        let fut = self.inner.put_part(data);
        let in_flight = self.in_flight.clone();
        Box::pin(async move {
            let r = fut.await;
            in_flight.fetch_sub(1, SeqCst);
            r
        })
    }
    async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
        self.inner.complete().await
    }
    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for MeteredStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        Ok(Box::new(MeteredUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            parts: self.parts.clone(),
            in_flight: self.in_flight.clone(),
            max_in_flight: self.max_in_flight.clone(),
        }))
    }
    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        if !options.head {
            self.gets.lock().unwrap().push(options.range.clone());
        }
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// Whatever the object's size, reads fetch bounded 8 MiB ranges (never the
/// whole object) and uploads send 8 MiB parts with at most two in flight:
/// memory is a few buffers, not the object.
#[test]
fn large_objects_stream_in_bounded_ranges_and_parts() {
    use std::io::Read;
    const MIB: usize = 1 << 20;
    let metered = Arc::new(MeteredStore::default());
    store::register("s3://weir-meter", metered.clone()).unwrap();
    // 60 MiB of incompressible-looking bytes.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let body: Vec<u8> = (0..60 * MIB)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();

    // Upload through weir's commit path.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("big.bin"), &body).unwrap();
    std::fs::write(d.path().join("manifest.json"), b"{}\n").unwrap();
    let target = store::parse("s3://weir-meter/out").unwrap();
    store::publish::publish(
        d.path(),
        &target,
        &weir_datasets::sink::run_tag(),
        &Default::default(),
    )
    .unwrap();
    let parts = metered.parts.lock().unwrap().clone();
    assert_eq!(parts.iter().sum::<usize>(), body.len());
    assert!(parts.len() >= 8, "{parts:?}");
    assert!(parts.iter().all(|&p| p <= 8 * MIB), "{parts:?}");
    let max = metered
        .max_in_flight
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} parts in flight");

    // Read it back through the reader every format uses.
    metered.gets.lock().unwrap().clear();
    let mut r = weir_datasets::store::read::open(Path::new("s3://weir-meter/out/big.bin")).unwrap();
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert!(back == body, "content differs");
    let gets = metered.gets.lock().unwrap().clone();
    assert!(gets.len() >= 8, "{gets:?}");
    for g in &gets {
        match g {
            Some(object_store::GetRange::Bounded(r)) => {
                assert!(r.end - r.start <= 8 * MIB as u64, "{r:?}")
            }
            other => panic!("an unbounded GET: {other:?}"),
        }
    }
}
