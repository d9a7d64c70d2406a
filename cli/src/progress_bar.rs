//! The progress bar of long-running commands: an operation's
//! [`Progress`] counters drawn on stderr when it is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use weir_engine::progress::Progress;

/// Draws `progress` as a bar on stderr when it is a terminal; returns a
/// function that clears it.
pub fn spawn_bar(progress: Arc<Progress>) -> Option<Box<dyn FnOnce()>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
    )
    .ok()?
    .progress_chars("=> ");
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(style);
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
