//! The pipeline root: a local folder or an object-store prefix, reached the
//! same way through `object_store` (local disk through
//! `LocalFileSystem`), so manifests, the lock and reads of earlier outputs
//! behave the same everywhere. Component outputs live at
//! `ROOT/<component>/span=<N>/version=<V>/`, written by the components'
//! own staged commit.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use weir_datasets::store::{self, block_on, lock};

use crate::error::{EngineError, Result};

/// The lock object of a pipeline root.
pub const LOCK: &str = "_lock.json";

/// A pipeline's output root.
#[derive(Debug, Clone)]
pub struct PipelineRoot {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    location: String,
    local: Option<PathBuf>,
}

fn store_err(what: &str, e: object_store::Error) -> EngineError {
    EngineError::Invalid(format!("{what}: {e}"))
}

impl PipelineRoot {
    /// Opens `root` (a folder, created if missing, or an `s3://`/`gs://` URL).
    pub fn open(root: &str) -> Result<PipelineRoot> {
        if store::is_url(root) {
            let url = store::parse(root.trim_end_matches('/'))?;
            return Ok(PipelineRoot {
                location: url.url(),
                store: url.store,
                prefix: url.key,
                local: None,
            });
        }
        let path = PathBuf::from(root);
        std::fs::create_dir_all(&path)
            .map_err(|e| EngineError::Invalid(format!("creating root {root}: {e}")))?;
        let path = path
            .canonicalize()
            .map_err(|e| EngineError::Invalid(format!("root {root}: {e}")))?;
        let fs = LocalFileSystem::new_with_prefix(&path)
            .map_err(|e| store_err(&path.display().to_string(), e))?;
        Ok(PipelineRoot {
            store: Arc::new(fs),
            prefix: ObjectPath::default(),
            location: path.display().to_string(),
            local: Some(path),
        })
    }

    /// Opens a root that must exist already (for reading it: `weir sql`).
    pub fn open_existing(root: &str) -> Result<PipelineRoot> {
        if !store::is_url(root) && !std::path::Path::new(root).is_dir() {
            return Err(EngineError::Invalid(format!(
                "pipeline root {root} does not exist (is it the config's `root`?)"
            )));
        }
        Self::open(root)
    }

    /// Where the root is, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The local folder, for a local root.
    pub fn local(&self) -> Option<&PathBuf> {
        self.local.as_ref()
    }

    /// The path (or URL as a path) of `rel` under the root, for components.
    pub fn path(&self, rel: &str) -> PathBuf {
        match &self.local {
            Some(p) => p.join(rel),
            None => PathBuf::from(format!("{}/{rel}", self.location)),
        }
    }

    /// Where component `component` writes span `span`, version `version`
    /// (relative to the root).
    pub fn output_rel(component: &str, span: u64, version: u64) -> String {
        format!("{component}/span={span}/version={version}")
    }

    fn key(&self, rel: &str) -> ObjectPath {
        let mut k = self.prefix.as_ref().to_string();
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            if !k.is_empty() {
                k.push('/');
            }
            k.push_str(part);
        }
        ObjectPath::from(k)
    }

    fn url(&self, rel: &str) -> String {
        format!("{}/{rel}", self.location)
    }

    /// Writes `rel` in one piece: readers see the old object or the new
    /// one, never a part (a rename on disk, a single PUT on stores).
    pub fn put(&self, rel: &str, body: Vec<u8>) -> Result<()> {
        let (s, k, url) = (self.store.clone(), self.key(rel), self.url(rel));
        block_on(async move { s.put(&k, PutPayload::from(body)).await.map(|_| ()) })
            .map_err(|e| store_err(&url, e))
    }

    /// Reads `rel`; `None` when it does not exist.
    pub fn get(&self, rel: &str) -> Result<Option<Bytes>> {
        let (s, k, url) = (self.store.clone(), self.key(rel), self.url(rel));
        block_on(async move {
            match s.get(&k).await {
                Ok(g) => g.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
        .map_err(|e| store_err(&url, e))
    }

    /// The relative paths of every object under `rel`, sorted.
    pub fn list(&self, rel: &str) -> Result<Vec<String>> {
        let (s, k, url) = (self.store.clone(), self.key(rel), self.url(rel));
        let prefix_len = self.prefix.as_ref().len();
        let mut keys: Vec<String> = block_on(async move {
            store::idempotent(|| {
                s.list(Some(&k))
                    .map_ok(|m| m.location.as_ref().to_string())
                    .try_collect::<Vec<_>>()
            })
            .await
        })
        .map_err(|e| store_err(&url, e))?;
        if prefix_len > 0 {
            for k in &mut keys {
                *k = k[prefix_len..].trim_start_matches('/').to_string();
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Takes the root's lock for run `run`, waiting up to `wait` for a
    /// live holder to release it; a holder that died is taken over.
    pub fn lock(&self, run: &str, wait: Duration) -> Result<RootLock> {
        let started = std::time::Instant::now();
        let (key, url) = (self.key(LOCK), self.url(LOCK));
        let mut said = false;
        loop {
            let (s, k, u, r) = (
                self.store.clone(),
                key.clone(),
                url.clone(),
                run.to_string(),
            );
            let attempt = block_on(async move {
                lock::try_lock(s.as_ref(), &k, &u, &r, Duration::from_secs(24 * 3600)).await
            })?;
            match attempt {
                lock::LockAttempt::Taken => {
                    return Ok(RootLock {
                        root: self.clone(),
                        run: run.to_string(),
                        released: false,
                    })
                }
                lock::LockAttempt::HeldBy(h) => {
                    if started.elapsed() >= wait {
                        return Err(EngineError::Invalid(format!(
                            "{url}: another run of this pipeline (host {}, pid {}, run {}) \
                             holds the lock; gave up after {} s",
                            h.host,
                            h.pid,
                            h.run,
                            wait.as_secs()
                        )));
                    }
                    if !said {
                        tracing::info!(
                            "waiting for run {} (pid {}) to release {url}",
                            h.run,
                            h.pid
                        );
                        said = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }
}

/// The held lock of a pipeline root; released on drop.
#[derive(Debug)]
pub struct RootLock {
    root: PipelineRoot,
    run: String,
    released: bool,
}

impl RootLock {
    /// Releases the lock.
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.unlock()
    }

    fn unlock(&self) -> Result<()> {
        let (s, k, u, r) = (
            self.root.store.clone(),
            self.root.key(LOCK),
            self.root.url(LOCK),
            self.run.clone(),
        );
        Ok(block_on(async move {
            lock::unlock(s.as_ref(), &k, &u, &r).await
        })?)
    }
}

impl Drop for RootLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = self.unlock();
        }
    }
}
