//! Atomic output directories.
//!
//! Everything is written into a hidden staging directory next to the output
//! (`.NAME.weir-staging-PID-NANOS`). Commit renames it into place in one
//! step; when an earlier weir output is there it is first renamed aside and
//! removed after the swap, so readers see either the old complete output or
//! the new one, never a mixture. An error drops the staging directory; a
//! kill leaves it behind, and the next run for the same output removes it.
//!
//! An object-store target (`s3://…`, `gs://…`) has two staging places: a
//! local temporary directory (`WEIR_STAGING_DIR`, default the system's) for
//! what the driver writes (manifests, statistics), and the run's prefix in
//! the store, `URL/.weir-staging/<run>/`, where tasks on any machine upload
//! their shards ([`RemoteStaging`]) and the driver records the objects it
//! accepted ([`StagedObjects`]). [`crate::store::publish`] commits both, with
//! no rename to lean on; an uncommitted run's prefix is removed when its
//! [`StagedDir`] is dropped (what a killed run leaves, `weir gc` removes).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use object_store::path::Path as ObjectPath;

use crate::error::{DatasetError, Result};
use crate::store::ObjectUrl;

/// Name of the manifest that marks a directory as a complete weir output.
pub const MANIFEST_NAME: &str = "manifest.json";

/// A staging directory that becomes `target` on [`StagedDir::commit`].
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
    remote: Option<RemoteTarget>,
}

/// An object-store target and this run's staging prefix in it.
#[derive(Debug)]
struct RemoteTarget {
    url: ObjectUrl,
    run: String,
    objects: StagedObjects,
}

/// Objects already in the store that are files of the staged output, by
/// their path relative to the output (`Split-train/data-00000-of-00004.gz`
/// → the key of the task attempt the driver accepted). Shared between the
/// driver's commit of task attempts and [`StagedDir::commit`].
#[derive(Debug, Clone, Default)]
pub struct StagedObjects(Arc<Mutex<BTreeMap<String, ObjectPath>>>);

impl StagedObjects {
    /// Records `key` as the output's file `relative`.
    pub fn insert(&self, relative: &str, key: ObjectPath) {
        self.lock().insert(relative.to_string(), key);
    }

    /// Every recorded file, by relative path.
    pub fn snapshot(&self) -> BTreeMap<String, ObjectPath> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ObjectPath>> {
        // A panic while holding the map cannot leave it half-updated.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where the tasks of a run with an object-store output upload their
/// shards: the run's own prefix under the output, and the record of the
/// objects the driver accepted.
#[derive(Debug, Clone)]
pub struct RemoteStaging {
    /// `URL/.weir-staging/<run>`.
    pub prefix: ObjectUrl,
    /// The accepted objects ([`StagedObjects::insert`]).
    pub objects: StagedObjects,
}

fn hidden_sibling(target: &Path, tag: &str) -> Result<PathBuf> {
    let name = target
        .file_name()
        .ok_or_else(|| {
            DatasetError::Invalid(format!(
                "output '{}' has no directory name",
                target.display()
            ))
        })?
        .to_string_lossy()
        .to_string();
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(parent.join(format!(".{name}.weir-{tag}-{}", run_tag())))
}

/// `PID-NANOS`: names this run's staging places apart from any other's.
pub fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Whether process `pid` of this host is alive.
pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes staging leftovers of `target` from runs that are no longer alive.
fn clean_leftovers(target: &Path) {
    let (Some(name), Some(parent)) = (target.file_name(), target.parent()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.weir-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        let Some(rest) = n.strip_prefix(&prefix) else {
            continue;
        };
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if matches!(pid, Some(p) if p != std::process::id() && !pid_alive(p)) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl StagedDir {
    /// Prepares a staging directory for `target`. Refuses a `target` that
    /// exists and is not an earlier weir output (a non-empty directory
    /// without a manifest, or a file).
    pub fn create(target: &Path) -> Result<Self> {
        if crate::store::is_url_path(target) {
            let remote = crate::store::parse(&target.to_string_lossy())?;
            crate::store::publish::check_target(&remote)?;
            let base = std::env::var_os("WEIR_STAGING_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            let run = run_tag();
            let staging = base.join(format!("weir-staging-{run}"));
            std::fs::create_dir_all(&staging).map_err(|e| DatasetError::io(&staging, e))?;
            return Ok(Self {
                target: target.to_path_buf(),
                staging,
                committed: false,
                remote: Some(RemoteTarget {
                    url: remote,
                    run,
                    objects: StagedObjects::default(),
                }),
            });
        }
        if target.exists() {
            if !target.is_dir() {
                return Err(DatasetError::file(
                    target,
                    "output exists and is not a directory",
                ));
            }
            let empty = std::fs::read_dir(target)
                .map_err(|e| DatasetError::io(target, e))?
                .next()
                .is_none();
            if !empty && !target.join(MANIFEST_NAME).exists() {
                return Err(DatasetError::file(
                    target,
                    "output directory is not empty and holds no weir manifest; refusing to replace it",
                ));
            }
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| DatasetError::io(parent, e))?;
        }
        clean_leftovers(target);
        let staging = hidden_sibling(target, "staging")?;
        std::fs::create_dir_all(&staging).map_err(|e| DatasetError::io(&staging, e))?;
        Ok(Self {
            target: target.to_path_buf(),
            staging,
            committed: false,
            remote: None,
        })
    }

    /// Where to write.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// A scratch directory beside the staging directory, named like it
    /// (`weir-<what>-PID-NANOS`), so it is outside the output (nothing
    /// written there can be committed by accident) and a later run for the
    /// same output removes it once this process is gone. Not created.
    pub fn scratch(&self, what: &str) -> PathBuf {
        let name = self
            .staging
            .file_name()
            .map(|n| {
                n.to_string_lossy()
                    .replacen("weir-staging-", &format!("weir-{what}-"), 1)
            })
            .unwrap_or_else(|| format!("weir-{what}-{}", run_tag()));
        self.staging.with_file_name(name)
    }

    /// The final location.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// For an object-store target, this run's staging prefix in the store
    /// (tasks upload there, so no shard passes through this process or
    /// needs a shared disk); `None` for a local target.
    pub fn remote_staging(&self) -> Option<RemoteStaging> {
        self.remote.as_ref().map(|r| RemoteStaging {
            prefix: r
                .url
                .join(&format!("{}/{}", crate::store::publish::STAGING, r.run)),
            objects: r.objects.clone(),
        })
    }

    /// Makes the staged output visible at the target.
    pub fn commit(mut self) -> Result<()> {
        if let Some(remote) = &self.remote {
            crate::store::publish::publish(
                &self.staging,
                &remote.url,
                &remote.run,
                &remote.objects.snapshot(),
            )?;
            self.committed = true;
            let _ = std::fs::remove_dir_all(&self.staging);
            return Ok(());
        }
        sync_dir(&self.staging);
        let old = if self.target.exists() {
            let aside = hidden_sibling(&self.target, "old")?;
            std::fs::rename(&self.target, &aside).map_err(|e| DatasetError::io(&self.target, e))?;
            Some(aside)
        } else {
            None
        };
        if let Err(e) = std::fs::rename(&self.staging, &self.target) {
            if let Some(aside) = &old {
                let _ = std::fs::rename(aside, &self.target);
            }
            return Err(DatasetError::io(&self.target, e));
        }
        self.committed = true;
        if let Some(parent) = self.target.parent() {
            sync_dir(if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            });
        }
        if let Some(aside) = old {
            let _ = std::fs::remove_dir_all(aside);
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            if let Some(r) = self.remote_staging() {
                crate::store::publish::remove_prefix(&r.prefix);
            }
        }
    }
}
