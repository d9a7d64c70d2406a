//! Shuffle windows shared between streams. The ranks of one epoch read the
//! same windows (each keeps only its own batches of them); data-parallel
//! ranks move in step, so a small cache of recent windows lets them share
//! one read and one shuffle of each window instead of `world_size`.
//!
//! Bounded: windows beyond `capacity_bytes` are dropped oldest first (a
//! stream that still holds one keeps its copy until it moves on). A window
//! being loaded is loaded once; other streams wanting it wait for it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::RecordBatch;

use super::token::EpochId;
use crate::error::{EngineError, Result};

/// What identifies a window's contents.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WindowKey {
    /// The epoch (dataset version, seed, columns, ...).
    pub epoch: EpochId,
    /// Window index in the epoch's order.
    pub window: usize,
}

type Cell = Arc<OnceLock<std::result::Result<Arc<RecordBatch>, String>>>;

#[derive(Default)]
struct Inner {
    cells: HashMap<WindowKey, Cell>,
    order: VecDeque<(WindowKey, usize)>,
    bytes: usize,
}

/// Recently read windows, shared by every stream of a server.
pub struct WindowCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for WindowCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowCache")
            .field("capacity_bytes", &self.capacity_bytes)
            .finish()
    }
}

impl WindowCache {
    /// A cache of at most `capacity_bytes` of windows (0: no sharing).
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            capacity_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves only bookkeeping behind.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The window `key`, loaded by `load` unless cached or being loaded.
    pub fn get_or_load(
        &self,
        key: &WindowKey,
        load: impl FnOnce() -> Result<RecordBatch>,
    ) -> Result<Arc<RecordBatch>> {
        if self.capacity_bytes == 0 {
            return load().map(Arc::new);
        }
        let cell = self.lock().cells.entry(key.clone()).or_default().clone();
        let result = cell
            .get_or_init(|| {
                let loaded = load().map(Arc::new).map_err(|e| e.to_string());
                if let Ok(batch) = &loaded {
                    self.admit(key, batch.get_array_memory_size());
                }
                loaded
            })
            .clone();
        match result {
            Ok(b) => Ok(b),
            Err(m) => {
                // Not kept: the next stream tries again.
                let mut inner = self.lock();
                if inner.cells.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                    inner.cells.remove(key);
                }
                Err(EngineError::Invalid(m))
            }
        }
    }

    fn admit(&self, key: &WindowKey, bytes: usize) {
        let mut inner = self.lock();
        inner.order.push_back((key.clone(), bytes));
        inner.bytes += bytes;
        while inner.bytes > self.capacity_bytes && inner.order.len() > 1 {
            if let Some((old, size)) = inner.order.pop_front() {
                inner.cells.remove(&old);
                inner.bytes -= size;
            }
        }
    }

    /// Bytes of windows held.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(window: usize) -> WindowKey {
        WindowKey {
            epoch: EpochId {
                dataset: "d".into(),
                split: "s".into(),
                version: "v".into(),
                seed: 0,
                epoch: 0,
                shuffle: true,
                columns: None,
            },
            window,
        }
    }

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from_iter_values(0..n)) as _)])
            .unwrap()
    }

    #[test]
    fn loads_once_and_stays_within_its_capacity() {
        let one = batch(1000).get_array_memory_size();
        let cache = WindowCache::new(one * 3);
        let loads = AtomicUsize::new(0);
        let load = || {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(batch(1000))
        };
        for _ in 0..3 {
            cache.get_or_load(&key(0), load).unwrap();
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        for w in 1..10 {
            cache.get_or_load(&key(w), load).unwrap();
        }
        assert!(cache.bytes() <= one * 3);
        cache.get_or_load(&key(0), load).unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            11,
            "window 0 was evicted and read again"
        );
    }

    #[test]
    fn a_failed_load_is_not_kept() {
        let cache = WindowCache::new(1 << 20);
        let e = cache.get_or_load(&key(0), || Err(EngineError::Invalid("disk".into())));
        assert!(e.is_err());
        assert!(cache.get_or_load(&key(0), || Ok(batch(3))).is_ok());
    }
}
