//! Progress reporting from long-running operations to whoever displays it
//! (the `weir` binary draws it as a bar; the library draws nothing).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters an operation advances and a display reads.
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows processed.
    pub rows: AtomicU64,
    /// Input bytes consumed (approximate within a file).
    pub input_bytes: AtomicU64,
    /// Total input bytes, when known.
    pub total_bytes: AtomicU64,
    /// What is running now (a pipeline's span and component).
    pub stage: Mutex<String>,
}

impl Progress {
    /// A shared progress handle.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `n` rows.
    pub fn add_rows(&self, n: u64) {
        self.rows.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets input bytes consumed.
    pub fn set_input_bytes(&self, n: u64) {
        self.input_bytes.store(n, Ordering::Relaxed);
    }

    /// Says what runs now and starts its counters from zero.
    pub fn start_stage(&self, stage: impl Into<String>) {
        *self.stage.lock().expect("progress stage") = stage.into();
        self.rows.store(0, Ordering::Relaxed);
        self.input_bytes.store(0, Ordering::Relaxed);
        self.total_bytes.store(0, Ordering::Relaxed);
    }

    /// One line for a display: the stage and the rows so far.
    pub fn message(&self) -> String {
        let rows = self.rows.load(Ordering::Relaxed);
        let stage = self.stage.lock().expect("progress stage");
        if stage.is_empty() {
            format!("{rows} rows")
        } else {
            format!("{stage}: {rows} rows")
        }
    }
}
