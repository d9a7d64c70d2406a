//! A lock object on any `object_store` (S3, GCS, local disk): taken with a
//! conditional put (`PutMode::Create`), so of two processes that race for
//! it exactly one wins, on every store that weir writes to. The object
//! holds its holder (host, pid, since, run); a holder that is gone (same
//! host, dead pid) or older than a time-to-live is stale and taken over.
//!
//! Used by [`super::publish`] (one commit into an output prefix at a time)
//! and by the pipeline runner (one run of a pipeline at a time).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::store_error;
use crate::error::Result;
use crate::sink::pid_alive;

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This machine's host name.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Who holds a lock, as written into the lock object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder on its host.
    pub pid: u32,
    /// When it took the lock (seconds since the epoch).
    pub since: u64,
    /// The holder's run id.
    pub run: String,
}

impl LockHolder {
    /// This process, for run `run`.
    pub fn me(run: &str) -> Self {
        LockHolder {
            host: host(),
            pid: std::process::id(),
            since: now_secs(),
            run: run.to_string(),
        }
    }

    /// Whether the holder is gone (same host, dead process) or the lock is
    /// older than `ttl`.
    pub fn is_stale(&self, ttl: Duration) -> bool {
        let same_host_dead = self.host == host() && !pid_alive(self.pid);
        same_host_dead || now_secs().saturating_sub(self.since) > ttl.as_secs()
    }
}

/// The outcome of [`try_lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAttempt {
    /// This process holds the lock now.
    Taken,
    /// A live holder has it.
    HeldBy(LockHolder),
}

/// The holder written into the lock at `key`; `None` when there is no lock
/// or its content does not parse.
pub async fn read_holder(
    store: &dyn ObjectStore,
    key: &ObjectPath,
    url: &str,
) -> Result<Option<LockHolder>> {
    let got = match store.get(key).await {
        Ok(g) => g,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(store_error(url, e)),
    };
    let held = got.bytes().await.map_err(|e| store_error(url, e))?;
    Ok(serde_json::from_slice(&held).ok())
}

/// Tries once to take the lock at `key` for run `run`; a stale lock (see
/// [`LockHolder::is_stale`]) is removed and taken over.
pub async fn try_lock(
    store: &dyn ObjectStore,
    key: &ObjectPath,
    url: &str,
    run: &str,
    ttl: Duration,
) -> Result<LockAttempt> {
    let body = serde_json::to_vec(&LockHolder::me(run)).expect("lock json");
    for _ in 0..2 {
        let put = store
            .put_opts(
                key,
                PutPayload::from(body.clone()),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match put {
            Ok(_) => return Ok(LockAttempt::Taken),
            Err(object_store::Error::AlreadyExists { .. }) => {
                match read_holder(store, key, url).await? {
                    Some(h) if !h.is_stale(ttl) => return Ok(LockAttempt::HeldBy(h)),
                    _ => {
                        tracing::warn!("{url}: taking over a stale lock");
                        match store.delete(key).await {
                            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                            Err(e) => return Err(store_error(url, e)),
                        }
                    }
                }
            }
            Err(e) => return Err(store_error(url, e)),
        }
    }
    // Lost the race twice to processes that took over the same stale lock.
    Ok(match read_holder(store, key, url).await? {
        Some(h) => LockAttempt::HeldBy(h),
        None => LockAttempt::HeldBy(LockHolder::me("unknown")),
    })
}

/// Releases the lock at `key` if run `run` still holds it.
pub async fn unlock(store: &dyn ObjectStore, key: &ObjectPath, url: &str, run: &str) -> Result<()> {
    if let Some(h) = read_holder(store, key, url).await? {
        if h.run == run && h.host == host() && h.pid == std::process::id() {
            match store.delete(key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error(url, e)),
            }
        }
    }
    Ok(())
}
