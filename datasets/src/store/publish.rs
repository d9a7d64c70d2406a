//! Committing an output to an object store without rename.
//!
//! A weir output is staged in two places (see [`crate::sink::StagedDir`]):
//! what the driver wrote is on its local disk, and shards that tasks wrote
//! are already objects under `URL/.weir-staging/<run>/attempts/` (uploaded
//! by the task, on whatever machine it ran, with [`upload_file`]).
//! [`publish`] makes both visible under `URL/` in steps that never leave a
//! half-visible output:
//!
//! 1. every local file except `manifest.json` is uploaded (multipart,
//!    [`PART`] bytes at a time, so memory stays bounded) under
//!    `URL/.weir-staging/<run>/`; a kill here leaves only staging garbage;
//! 2. the run takes `URL/.weir-lock` (a conditional put: `PutMode::Create`),
//!    so two runs never commit into one prefix at once;
//! 3. the previous output's `manifest.json` is deleted (from here on,
//!    readers see no output rather than a mixture), objects of the previous
//!    output that the new one does not have are deleted, and each staged
//!    object (uploaded here, or a task's accepted attempt) is copied
//!    server-side to its final key, so no shard's bytes pass through the
//!    committing process;
//! 4. `manifest.json` is written last, with `PutMode::Create`: the commit;
//! 5. the lock and the run's staging prefix (dead task attempts included)
//!    are removed.
//!
//! Readers and reruns trust only a committed manifest. [`gc`] (`weir gc`)
//! removes what a killed run left: staging objects, a lock whose holder is
//! gone, and a partial output that no committed manifest covers.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use super::lock::{read_holder, try_lock, LockAttempt};
use super::{block_on, list_under, store_error, ObjectUrl};
use crate::error::{DatasetError, Result};
use crate::sink::MANIFEST_NAME;

/// Bytes per multipart part (S3 needs at least 5 MiB for all but the last).
pub const PART: usize = 8 << 20;
/// Staging prefix under an output URL.
pub const STAGING: &str = ".weir-staging";
/// Lock object under an output URL.
pub const LOCK: &str = ".weir-lock";
/// A lock older than this is taken over even when its holder cannot be
/// checked (another host).
pub const LOCK_TTL: Duration = Duration::from_secs(6 * 3600);

/// The relative paths of every file under `dir`, sorted.
fn local_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| DatasetError::io(dir, e))? {
            let e = e.map_err(|e| DatasetError::io(dir, e))?;
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).expect("under root");
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// Runs a blocking local-file read off the I/O runtime's workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a local read task panicked")
}

/// A whole local file, read off the I/O runtime's workers.
async fn read_local(path: &Path) -> Result<Vec<u8>> {
    let p = path.to_path_buf();
    blocking(move || std::fs::read(p))
        .await
        .map_err(|e| DatasetError::io(path, e))
}

/// Fills `buf` from `f` as far as the file allows; the count read.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Uploads one local file to `key` (`url` names it in errors), multipart
/// when it is larger than a part.
pub async fn upload_file(
    store: &dyn ObjectStore,
    file: &Path,
    key: &ObjectPath,
    url: &str,
) -> Result<()> {
    let size = std::fs::metadata(file)
        .map_err(|e| DatasetError::io(file, e))?
        .len();
    if size as usize <= PART {
        let body = bytes::Bytes::from(read_local(file).await?);
        super::idempotent(|| store.put(key, PutPayload::from(body.clone())))
            .await
            .map_err(|e| store_error(url, e))?;
        return Ok(());
    }
    let mut f = std::fs::File::open(file).map_err(|e| DatasetError::io(file, e))?;
    let upload = store
        .put_multipart(key)
        .await
        .map_err(|e| store_error(url, e))?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut buf = vec![0u8; PART];
    loop {
        let (back_f, back_buf, n) = blocking(move || {
            let n = read_full(&mut f, &mut buf);
            (f, buf, n)
        })
        .await;
        (f, buf) = (back_f, back_buf);
        let n = n.map_err(|e| DatasetError::io(file, e))?;
        if n == 0 {
            break;
        }
        // At most two parts in flight: memory stays at a few parts.
        writer
            .wait_for_capacity(2)
            .await
            .map_err(|e| store_error(url, e))?;
        writer.write(&buf[..n]);
    }
    writer.finish().await.map_err(|e| store_error(url, e))?;
    Ok(())
}

/// Every key under `dir` (recursively) with its path relative to `dir`.
async fn keys_under(dir: &ObjectUrl) -> Result<Vec<(String, ObjectPath)>> {
    let metas = list_under(dir.store.as_ref(), &dir.key)
        .await
        .map_err(|e| store_error(&dir.url(), e))?;
    Ok(metas
        .into_iter()
        .map(|m| (relative(&dir.key, &m.location), m.location))
        .collect())
}

async fn take_lock(store: &dyn ObjectStore, target: &ObjectUrl, run: &str) -> Result<ObjectPath> {
    let lock = target.join(LOCK);
    let url = lock.url();
    match try_lock(store, &lock.key, &url, run, LOCK_TTL).await? {
        LockAttempt::Taken => Ok(lock.key),
        LockAttempt::HeldBy(h) => Err(DatasetError::File {
            path: url,
            message: format!(
                "another weir run (host {}, pid {}, run {}) is committing into \
                 this output; wait for it, or run `weir gc` if it is gone",
                h.host, h.pid, h.run
            ),
        }),
    }
}

/// True when `key` (relative to the output) is weir's bookkeeping.
fn is_bookkeeping(rel: &str) -> bool {
    rel == LOCK || rel.starts_with(&format!("{STAGING}/"))
}

fn relative(prefix: &ObjectPath, key: &ObjectPath) -> String {
    let p = prefix.as_ref();
    let k = key.as_ref();
    if p.is_empty() {
        k.to_string()
    } else {
        k.strip_prefix(p)
            .map(|r| r.trim_start_matches('/').to_string())
            .unwrap_or_else(|| k.to_string())
    }
}

/// Refuses a target prefix that holds objects but is neither a weir output
/// nor weir's leftovers (the object-store twin of `StagedDir::create`'s
/// check).
pub fn check_target(target: &ObjectUrl) -> Result<()> {
    let target = target.clone();
    block_on(async move {
        let rels = keys_under(&target).await?;
        let weirs = rels
            .iter()
            .any(|(r, _)| r == MANIFEST_NAME || is_bookkeeping(r));
        if !rels.is_empty() && !weirs {
            return Err(DatasetError::File {
                path: target.url(),
                message: "output prefix holds objects and no weir manifest; refusing to replace it"
                    .into(),
            });
        }
        Ok(())
    })
}

/// Where a file of the output comes from at commit.
#[derive(Debug, Clone)]
enum Source {
    /// Uploaded from the local staging directory to the run's prefix.
    Local,
    /// Already an object (a task's accepted attempt).
    Object(ObjectPath),
}

/// Uploads the staged output `local`, and commits it together with
/// `objects` (files of the output that are already objects, by relative
/// path) at `target` under the name `run` (see the module docs).
pub fn publish(
    local: &Path,
    target: &ObjectUrl,
    run: &str,
    objects: &BTreeMap<String, ObjectPath>,
) -> Result<()> {
    let mut files: BTreeMap<String, Source> = local_files(local)?
        .into_iter()
        .map(|f| (f, Source::Local))
        .collect();
    if !files.contains_key(MANIFEST_NAME) {
        return Err(DatasetError::file(
            local,
            "staged output has no manifest.json",
        ));
    }
    for (rel, key) in objects {
        if files
            .insert(rel.clone(), Source::Object(key.clone()))
            .is_some()
        {
            return Err(DatasetError::Invalid(format!(
                "{}: '{rel}' is staged both locally and as an object",
                target.url()
            )));
        }
    }
    let run = run.to_string();
    let local = local.to_path_buf();
    let target = target.clone();
    block_on(async move {
        let store = target.store.clone();
        let staging = target.join(&format!("{STAGING}/{run}"));
        for (rel, source) in &files {
            if matches!(source, Source::Local) && rel != MANIFEST_NAME {
                let obj = staging.join(rel);
                upload_file(store.as_ref(), &local.join(rel), &obj.key, &obj.url()).await?;
            }
        }
        // Fault injection for tests: a pause here is where a kill leaves
        // only staging objects behind.
        if let Some(ms) = std::env::var("WEIR_FAULT_PAUSE_BEFORE_COMMIT_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
        {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        let lock = take_lock(store.as_ref(), &target, &run).await?;
        let result = commit(&target, &staging, &local, &files).await;
        let _ = store.delete(&lock).await;
        result?;
        remove_under(&staging).await;
        Ok(())
    })
}

/// Deletes every object under `prefix`, as far as the store lets it
/// (best effort: what is left, `weir gc` removes).
async fn remove_under(prefix: &ObjectUrl) {
    if let Ok(keys) = keys_under(prefix).await {
        for (_, k) in keys {
            let _ = prefix.store.delete(&k).await;
        }
    }
}

/// [`remove_under`] from synchronous code (a dropped, uncommitted staging).
pub fn remove_prefix(prefix: &ObjectUrl) {
    let prefix = prefix.clone();
    block_on(async move { remove_under(&prefix).await });
}

async fn commit(
    target: &ObjectUrl,
    staging: &ObjectUrl,
    local: &Path,
    files: &BTreeMap<String, Source>,
) -> Result<()> {
    let store = target.store.as_ref();
    let manifest = target.join(MANIFEST_NAME);
    match store.delete(&manifest.key).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_error(&manifest.url(), e)),
    }
    for (rel, k) in keys_under(target).await? {
        if !is_bookkeeping(&rel) && !files.contains_key(&rel) {
            match super::idempotent(|| store.delete(&k)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(&target.url(), e)),
            }
        }
    }
    // Copies and the manifest are retried when a response breaks off
    // (`idempotent`): a copy again is the same copy.
    for (rel, source) in files.iter().filter(|(f, _)| *f != MANIFEST_NAME) {
        let from = match source {
            Source::Local => staging.join(rel).key,
            Source::Object(key) => key.clone(),
        };
        let to = target.join(rel);
        super::idempotent(|| store.copy(&from, &to.key))
            .await
            .map_err(|e| store_error(&to.url(), e))?;
    }
    let path = local.join(MANIFEST_NAME);
    let body = bytes::Bytes::from(read_local(&path).await?);
    let create = || {
        store.put_opts(
            &manifest.key,
            PutPayload::from(body.clone()),
            PutOptions::from(PutMode::Create),
        )
    };
    match super::idempotent(create).await {
        Ok(_) => Ok(()),
        // A retried create whose first attempt landed (its response broke
        // off): the manifest there is ours if it has our bytes.
        Err(e @ object_store::Error::AlreadyExists { .. }) => {
            let ours = async {
                let got = store.get(&manifest.key).await?;
                got.bytes().await
            }
            .await
            .is_ok_and(|b| b == body);
            if ours {
                Ok(())
            } else {
                Err(store_error(&manifest.url(), e))
            }
        }
        Err(e) => Err(store_error(&manifest.url(), e)),
    }
}

/// What [`gc`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    /// Staging objects of runs that did not commit.
    pub staging: usize,
    /// Objects of a partial output (no committed manifest).
    pub orphans: usize,
    /// A stale lock.
    pub lock: bool,
}

/// Removes what killed runs left under `target`: staging objects (unless a
/// live run holds the lock), a stale lock, and, when no manifest is
/// committed, the partial output. Objects of a committed output are kept.
pub fn gc(target: &ObjectUrl) -> Result<GcReport> {
    let target = target.clone();
    block_on(async move {
        let store = target.store.as_ref();
        let url = target.url();
        let rels = keys_under(&target).await?;
        let mut report = GcReport::default();
        if rels.iter().any(|(r, _)| r == LOCK) {
            let lock = target.join(LOCK);
            match read_holder(store, &lock.key, &lock.url()).await? {
                Some(h) if !h.is_stale(LOCK_TTL) => {
                    return Err(DatasetError::File {
                        path: lock.url(),
                        message: format!(
                            "a weir run (host {}, pid {}) is committing; not collecting",
                            h.host, h.pid
                        ),
                    })
                }
                _ => {
                    store
                        .delete(&lock.key)
                        .await
                        .map_err(|e| store_error(&url, e))?;
                    report.lock = true;
                }
            }
        }
        let committed = rels.iter().any(|(r, _)| r == MANIFEST_NAME);
        for (rel, key) in &rels {
            let remove = if rel.starts_with(&format!("{STAGING}/")) {
                report.staging += 1;
                true
            } else if rel != LOCK && !committed {
                report.orphans += 1;
                true
            } else {
                false
            };
            if remove {
                store.delete(key).await.map_err(|e| store_error(&url, e))?;
            }
        }
        Ok(report)
    })
}
