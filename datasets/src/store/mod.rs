//! Object stores: `s3://bucket/key` and `gs://bucket/key` URLs wherever a
//! path is accepted, through the `object_store` crate DataFusion uses.
//!
//! * [`StoreOptions`] says how to reach a store (endpoint, region,
//!   path-style, plain HTTP, GCS credentials); credentials themselves come
//!   from the standard places (AWS environment variables and
//!   `~/.aws/credentials` profiles, instance/web-identity credentials; GCS
//!   service-account files and application default credentials) and never
//!   appear in errors, logs or manifests.
//! * [`read`]: blocking `Read + Seek` over ranged GETs (memory bounded by
//!   one buffer whatever the object size), used by every input format.
//! * [`list`]: prefixes and globs to objects, sorted by key.
//! * [`publish`]: a staged local output uploaded with multipart uploads and
//!   committed by one manifest written last with a conditional put.
//!
//! Object-store calls run on one small I/O runtime owned by this module, so
//! the synchronous readers and writers of this crate can wait on them from
//! any thread (including Tokio's blocking pool).

mod aws_profile;
pub mod list;
pub mod lock;
pub mod publish;
pub mod read;

use std::collections::HashMap;
use std::future::Future;
use std::path::Path as FsPath;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use object_store::aws::AmazonS3Builder;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path as ObjectPath;
use object_store::{ClientConfigKey, ObjectStore};

use crate::error::{DatasetError, Result};

/// How to reach S3-compatible and GCS stores, beyond what the standard
/// environment already says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    /// S3 endpoint URL for S3-compatible stores (MinIO, moto, Ceph…);
    /// default AWS (or `AWS_ENDPOINT_URL`).
    pub s3_endpoint: Option<String>,
    /// S3 region (default `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's,
    /// else `us-east-1`).
    pub s3_region: Option<String>,
    /// Path-style requests (`endpoint/bucket/key`) instead of virtual-hosted
    /// ones; `None` keeps `object_store`'s default (path-style unless
    /// `AWS_VIRTUAL_HOSTED_STYLE_REQUEST` is set).
    pub s3_path_style: Option<bool>,
    /// Allow plain `http://` endpoints (local test servers).
    pub allow_http: bool,
    /// GCS JSON API base URL (an emulator such as fake-gcs-server).
    pub gcs_endpoint: Option<String>,
    /// GCS service-account key file (default `GOOGLE_SERVICE_ACCOUNT`,
    /// `GOOGLE_APPLICATION_CREDENTIALS`, then application default
    /// credentials).
    pub gcs_service_account: Option<String>,
    /// Unsigned GCS requests (public buckets, emulators).
    pub gcs_anonymous: bool,
}

static OPTIONS: OnceLock<StoreOptions> = OnceLock::new();

/// Sets the options every later store uses; call once, before the first
/// URL is touched (the CLI does it from its flags). Later calls are ignored
/// and return false.
pub fn configure(options: StoreOptions) -> bool {
    OPTIONS.set(options).is_ok()
}

fn options() -> &'static StoreOptions {
    OPTIONS.get_or_init(StoreOptions::default)
}

/// The runtime a binary installed ([`install_runtime`]).
static INSTALLED: OnceLock<tokio::runtime::Handle> = OnceLock::new();

/// weir's own runtime, built on first use only when no binary installed
/// one (library users, tests).
static OWN: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("weir-runtime")
        .enable_all()
        .build()
        .expect("weir's tokio runtime")
});

/// Makes `handle` the runtime weir's libraries run async work on
/// (object-store I/O, plans driven from synchronous entry points): each
/// weir binary builds its one runtime and installs it before any work, so
/// a process has exactly one. The first call wins; later calls return
/// false. The runtime must outlive every later call into weir.
pub fn install_runtime(handle: tokio::runtime::Handle) -> bool {
    INSTALLED.set(handle).is_ok()
}

/// The runtime weir's libraries run async work on: the installed one,
/// else one weir builds on first use.
pub fn runtime() -> tokio::runtime::Handle {
    INSTALLED
        .get()
        .cloned()
        .unwrap_or_else(|| OWN.handle().clone())
}

/// Runs `fut` on weir's runtime ([`runtime`]) and waits for it; safe from
/// any thread, a runtime worker included.
///
/// On a worker of a multi-thread runtime the wait is a
/// `block_in_place`: a task spawned from a worker goes to that worker's
/// own slot, which no other worker steals, so a plain wait there would
/// wait for itself (seen as a hung `weir-scheduler` decoding an `s3://`
/// scan, regression test `no_shared_disk`). `block_in_place` hands the
/// worker's queue to another thread first.
pub fn block_on<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = runtime().spawn(fut);
    let wait = || futures::executor::block_on(handle).expect("an object-store task panicked");
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

/// An object: its store, the URL's `scheme://bucket` and the key.
#[derive(Debug, Clone)]
pub struct ObjectUrl {
    /// The store of the bucket.
    pub store: Arc<dyn ObjectStore>,
    /// `s3://bucket` or `gs://bucket`.
    pub root: String,
    /// The key inside the bucket (no leading `/`).
    pub key: ObjectPath,
}

impl ObjectUrl {
    /// The object's full URL.
    pub fn url(&self) -> String {
        if self.key.as_ref().is_empty() {
            self.root.clone()
        } else {
            format!("{}/{}", self.root, self.key)
        }
    }

    /// The URL of `rel` (slash-separated) under this one.
    pub fn join(&self, rel: &str) -> ObjectUrl {
        let mut key = self.key.as_ref().trim_end_matches('/').to_string();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(part);
        }
        ObjectUrl {
            store: self.store.clone(),
            root: self.root.clone(),
            key: ObjectPath::from(key),
        }
    }
}

/// True when `s` is an object-store URL weir reads and writes.
pub fn is_url(s: &str) -> bool {
    s.starts_with("s3://") || s.starts_with("gs://") || s.starts_with("s3a://")
}

/// True when `path` holds an object-store URL.
pub fn is_url_path(path: &FsPath) -> bool {
    path.to_str().is_some_and(is_url)
}

/// Stores by `scheme://bucket`, built once.
static STORES: LazyLock<Mutex<HashMap<String, Arc<dyn ObjectStore>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `(scheme, bucket, key)` of `scheme://bucket/key`, the key as written
/// (without a trailing `/`).
fn split_url(url: &str) -> Result<(&str, &str, &str)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| DatasetError::Invalid(format!("'{url}' is not an object-store URL")))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    Ok((scheme, bucket, key.trim_end_matches('/')))
}

/// The key of an object-store URL exactly as written (an [`ObjectPath`]
/// percent-encodes characters such as glob wildcards).
pub(crate) fn raw_key(url: &str) -> Result<&str> {
    split_url(url).map(|(_, _, key)| key)
}

/// Every object under `prefix` (recursively; the whole bucket when empty).
pub(crate) async fn list_under(
    store: &dyn ObjectStore,
    prefix: &ObjectPath,
) -> object_store::Result<Vec<object_store::ObjectMeta>> {
    use futures::TryStreamExt;
    let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
    idempotent(|| store.list(prefix).try_collect()).await
}

/// Runs an idempotent request (a listing, a read) again, with backoff, when
/// it fails with a generic error: object_store retries a request whose
/// response did not come, but not one whose response body broke off
/// part-way (a connection reset or truncation mid-listing), which is just
/// as transient. At most 3 more attempts, 200 ms, 400 ms, 800 ms apart.
pub async fn idempotent<T, F, Fut>(mut request: F) -> object_store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = object_store::Result<T>>,
{
    let mut wait = std::time::Duration::from_millis(200);
    let mut attempt = 0;
    loop {
        match request().await {
            Err(object_store::Error::Generic { store, source }) if attempt < 3 => {
                tracing::warn!("{store}: retrying after a broken response: {source}");
                tokio::time::sleep(wait).await;
                wait *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Parses an object-store URL (`s3://bucket/key`, `gs://bucket/key`).
pub fn parse(url: &str) -> Result<ObjectUrl> {
    let (scheme, bucket, key) = split_url(url)?;
    let scheme = match scheme {
        "s3" | "s3a" => "s3",
        "gs" => "gs",
        other => {
            return Err(DatasetError::Invalid(format!(
                "{url}: unsupported scheme '{other}' (weir reads s3:// and gs://)"
            )))
        }
    };
    if bucket.is_empty() {
        return Err(DatasetError::Invalid(format!("{url}: no bucket name")));
    }
    let root = format!("{scheme}://{bucket}");
    let store = {
        let mut stores = STORES.lock().expect("store cache");
        match stores.get(&root) {
            Some(s) => s.clone(),
            None => {
                let s = build_store(scheme, bucket, options())
                    .map_err(|e| DatasetError::Invalid(format!("{root}: {e}")))?;
                stores.insert(root.clone(), s.clone());
                s
            }
        }
    };
    Ok(ObjectUrl {
        store,
        root,
        key: ObjectPath::from(key),
    })
}

/// Uses `store` for every URL under `root` (`s3://bucket` or
/// `gs://bucket`) instead of one built from [`StoreOptions`]: a store the
/// program brings (an in-memory store in tests, an instrumented or wrapped
/// client, a cluster's object-store registry). Replaces an earlier one.
pub fn register(root: &str, store: Arc<dyn ObjectStore>) -> Result<()> {
    let (scheme, bucket, key) = split_url(root)?;
    if !matches!(scheme, "s3" | "gs") || bucket.is_empty() || !key.is_empty() {
        return Err(DatasetError::Invalid(format!(
            "'{root}' is not a store root (s3://bucket or gs://bucket)"
        )));
    }
    STORES
        .lock()
        .expect("store cache")
        .insert(format!("{scheme}://{bucket}"), store);
    Ok(())
}

/// The retry policy of every object-store client, set explicitly rather
/// than left to the crate's defaults: transient failures (5xx, connection
/// resets, timeouts) are retried with exponential backoff from 100 ms up
/// to 15 s, at most `WEIR_STORE_MAX_RETRIES` times (10) and for at most
/// `WEIR_STORE_RETRY_TIMEOUT` seconds (180) per request; then the request
/// fails with the URL and the last error.
pub fn retry_config() -> object_store::RetryConfig {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<f64>().ok());
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: env("WEIR_STORE_MAX_RETRIES").map_or(10, |v| v.max(0.0) as usize),
        retry_timeout: std::time::Duration::from_secs_f64(
            env("WEIR_STORE_RETRY_TIMEOUT").map_or(180.0, |v| v.max(0.0)),
        ),
    }
}

fn build_store(
    scheme: &str,
    bucket: &str,
    o: &StoreOptions,
) -> std::result::Result<Arc<dyn ObjectStore>, String> {
    // Settings go through the builders' own setters, so client options the
    // environment gave `from_env` (proxies, timeouts…) are kept.
    if scheme == "s3" {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config());
        let profile = aws_profile::credentials();
        let env_has_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
        if let (Some(p), false) = (&profile, env_has_keys) {
            if let (Some(id), Some(secret)) = (&p.access_key_id, &p.secret_access_key) {
                b = b
                    .with_access_key_id(id.clone())
                    .with_secret_access_key(secret.clone());
                if let Some(t) = &p.session_token {
                    b = b.with_token(t.clone());
                }
            }
        }
        let region = o
            .s3_region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .or_else(|| profile.as_ref().and_then(|p| p.region.clone()));
        if let Some(r) = region {
            b = b.with_region(r);
        }
        if let Some(e) = &o.s3_endpoint {
            b = b.with_endpoint(e.clone());
        }
        if let Some(path_style) = o.s3_path_style {
            b = b.with_virtual_hosted_style_request(!path_style);
        }
        if o.allow_http {
            b = b.with_allow_http(true);
        }
        Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
    } else {
        let mut b = GoogleCloudStorageBuilder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry_config());
        if let Some(e) = &o.gcs_endpoint {
            b = b.with_base_url(e);
        }
        if let Some(sa) = &o.gcs_service_account {
            b = b.with_service_account_path(sa.clone());
        } else if let Ok(adc) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS") {
            b = b.with_application_credentials(adc);
        }
        if o.gcs_anonymous {
            b = b.with_skip_signature(true);
        }
        if o.allow_http {
            b = b.with_config(GoogleConfigKey::Client(ClientConfigKey::AllowHttp), "true");
        }
        Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
    }
}

/// An object-store error as this crate's error, naming the URL (never the
/// credentials: `object_store` errors carry the request path and status).
/// An object-store failure as weir reports it: the object's URL and what
/// the store said.
pub fn store_error(url: &str, e: object_store::Error) -> DatasetError {
    DatasetError::File {
        path: url.to_string(),
        message: e.to_string(),
    }
}
