//! What every weir binary (`weir`, `weir-scheduler`, `weir-executor`)
//! shares and no library needs: the object-store flags ([`StoreArgs`]),
//! the memory limit's size syntax ([`parse_size`]), logging to stderr
//! ([`init_logging`]) and the process's one tokio runtime ([`runtime`]).
//! Libraries take a runtime's handle or are async; only binaries build one.

mod size;
mod store_args;

pub use size::parse_size;
pub use store_args::StoreArgs;

/// Logging to stderr, filtered by the environment variable `env` (e.g.
/// `RUST_LOG`, `WEIR_LOG`), else by `default` (`info`, `warn`); Ballista's
/// `log` records included.
pub fn init_logging(env: &str, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(env)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The process's tokio runtime (multi-threaded, every driver enabled),
/// installed as the one weir's libraries run their async work on. Keep it
/// alive until the process ends.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    install_runtime(rt.handle().clone());
    Ok(rt)
}

/// Makes `handle` (a binary's own runtime, e.g. `#[tokio::main]`'s) the one
/// weir's libraries run their async work on.
pub fn install_runtime(handle: tokio::runtime::Handle) {
    weir_datasets::store::install_runtime(handle);
}
