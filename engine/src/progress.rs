//! Progress reporting from long-running operations to whoever displays it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

    fn message(&self) -> String {
        let rows = self.rows.load(Ordering::Relaxed);
        let stage = self.stage.lock().expect("progress stage");
        if stage.is_empty() {
            format!("{rows} rows")
        } else {
            format!("{stage}: {rows} rows")
        }
    }
}

/// Draws `progress` as a bar on stderr when it is a terminal; returns a
/// function that clears it.
pub fn spawn_bar(progress: Arc<Progress>) -> Option<Box<dyn FnOnce()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (b, s) = (bar.clone(), stop.clone());
    let handle = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            b.set_length(progress.total_bytes.load(Ordering::Relaxed));
            b.set_position(progress.input_bytes.load(Ordering::Relaxed));
            b.set_message(progress.message());
            std::thread::sleep(Duration::from_millis(100));
        }
        b.finish_and_clear();
    });
    Some(Box::new(move || {
        stop.store(true, Ordering::Relaxed);
        let _ = handle.join();
    }))
}
