//! `weir serve`: arguments, authentication, TLS and the listening socket.
//! The Flight service is [`flight`] (what it serves is
//! `weir_engine::serve`); over a pipeline root it also answers Flight SQL
//! ([`flight_sql`], over `weir_engine::pipeline::sql_service`).

mod flight;
mod flight_sql;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow_flight::flight_service_server::FlightServiceServer;
use clap::Args;
use tonic::transport::{Identity, Server, ServerTlsConfig};
use tonic::{Request, Status};
use weir_engine::pipeline::root::PipelineRoot;
use weir_engine::pipeline::sql_service::{SqlLimits, SqlService};
use weir_engine::serve::{Catalog, CatalogOptions, BLOCK_ROWS, WINDOW_BLOCKS, WINDOW_CACHE_MB};

/// `weir serve` arguments.
#[derive(Args)]
pub struct ServeArgs {
    /// The folder served: an ExampleGen output, a transform output, a
    /// pipeline root, or a folder holding several of them.
    #[arg(long)]
    root: PathBuf,
    /// Address to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:50051")]
    bind: String,
    /// A file holding the bearer token every call must present
    /// (`authorization: Bearer <token>`); or set WEIR_SERVE_TOKEN.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// PEM certificate chain for TLS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS (with --tls-cert).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A frozen transform artifact (a transform output or its
    /// transform_graph/) applied to raw ExampleGen splits as they are
    /// served: the same runtime as `weir transform apply`.
    #[arg(long, value_name = "ARTIFACT_DIR")]
    transform: Option<PathBuf>,
    /// Where TFRecord splits are decoded to Arrow once
    /// [default: $XDG_CACHE_HOME/weir/serve or ~/.cache/weir/serve].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Streams served at once; more are refused with RESOURCE_EXHAUSTED.
    #[arg(long, default_value_t = 64)]
    max_streams: usize,
    /// Records per block (the unit of reading and of the block shuffle).
    #[arg(long, default_value_t = BLOCK_ROWS, hide = true)]
    block_rows: u64,
    /// Blocks per shuffle window: records are shuffled uniformly within
    /// windows of this many random blocks.
    #[arg(long, default_value_t = WINDOW_BLOCKS)]
    window_blocks: u64,
    /// Megabytes of recently read shuffle windows shared between streams
    /// (the ranks of an epoch read the same windows; 0: no sharing).
    #[arg(long, default_value_t = WINDOW_CACHE_MB)]
    window_cache_mb: u64,
    /// The message TFRecord splits hold: example or sequence_example
    /// (sequence features served as list-of-list columns under
    /// ##SEQUENCE##) [default: what each ExampleGen output's manifest
    /// records, else example].
    #[arg(long, value_name = "example|sequence_example")]
    payload_format: Option<weir_datasets::example::PayloadFormat>,
    /// Flight SQL (served when --root is a pipeline root): memory a query's
    /// operators may hold, in megabytes (beyond it the query fails).
    #[arg(long, default_value_t = 256)]
    sql_memory_mb: usize,
    /// Flight SQL: seconds a query may run before it is cancelled.
    #[arg(long, default_value_t = 60.0)]
    sql_timeout: f64,
}

fn default_cache() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(x).join("weir/serve");
    }
    if let Some(h) = std::env::var_os("HOME") {
        return PathBuf::from(h).join(".cache/weir/serve");
    }
    std::env::temp_dir().join("weir-serve")
}

fn read_token(a: &ServeArgs) -> Result<Option<String>> {
    let token = match &a.token_file {
        Some(f) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading --token-file {}", f.display()))?,
        ),
        None => std::env::var("WEIR_SERVE_TOKEN").ok(),
    };
    match token.map(|t| t.trim().to_string()) {
        Some(t) if t.is_empty() => bail!("the serve token is empty"),
        other => Ok(other),
    }
}

/// Checks `authorization: Bearer <token>` on every call when a token is set.
fn check_bearer(
    expected: Option<Arc<String>>,
) -> impl Fn(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |request: Request<()>| {
        let Some(expected) = &expected else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            });
        match given {
            None => Err(Status::unauthenticated(
                "this server needs 'authorization: Bearer <token>' on every call",
            )),
            Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated(
                "the bearer token is not this server's",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs the server until SIGINT or SIGTERM.
pub fn serve(a: ServeArgs) -> Result<()> {
    let token = read_token(&a)?.map(Arc::new);
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => {
            let cert = std::fs::read(c).with_context(|| format!("reading {}", c.display()))?;
            let key = std::fs::read(k).with_context(|| format!("reading {}", k.display()))?;
            Some(ServerTlsConfig::new().identity(Identity::from_pem(cert, key)))
        }
        _ => None,
    };
    let catalog = Catalog::open(CatalogOptions {
        root: a.root.clone(),
        transform: a.transform.clone(),
        cache_dir: a.cache_dir.clone().unwrap_or_else(default_cache),
        block_rows: a.block_rows.max(1),
        window_blocks: a.window_blocks.max(1),
        window_cache_bytes: (a.window_cache_mb as usize) << 20,
        payload: a.payload_format,
    })
    .with_context(|| format!("cannot serve {}", a.root.display()))?;
    let names = catalog.names();
    let mut service = flight::WeirFlight::new(Arc::new(catalog), a.max_streams.max(1));
    // A pipeline root (one with run manifests) is also answered in SQL.
    let sql_root = a.root.join(weir_engine::pipeline::manifest::RUNS).is_dir();
    if sql_root {
        let root = PipelineRoot::open_existing(&a.root.to_string_lossy())?;
        let limits = SqlLimits {
            memory_bytes: a.sql_memory_mb.max(1) << 20,
            timeout: std::time::Duration::from_secs_f64(a.sql_timeout.max(0.001)),
        };
        let sql = flight_sql::WeirFlightSql::new(Arc::new(SqlService::new(root, limits)))?;
        service = service.with_sql(sql);
    }
    let service = FlightServiceServer::with_interceptor(service, check_bearer(token.clone()));
    crate::runtime().block_on(async move {
        let listener = tokio::net::TcpListener::bind(&a.bind)
            .await
            .with_context(|| format!("cannot listen on {}", a.bind))?;
        let addr = listener.local_addr()?;
        let mut builder = Server::builder();
        if let Some(tls) = tls {
            builder = builder
                .tls_config(tls)
                .context("bad TLS certificate or key")?;
        }
        println!(
            "weir serve: {} datasets on {}://{addr} (auth: {})",
            names.len(),
            if a.tls_cert.is_some() {
                "grpc+tls"
            } else {
                "grpc"
            },
            if token.is_some() {
                "bearer token"
            } else {
                "none"
            }
        );
        for (name, splits) in &names {
            println!("  {name}: {}", splits.join(", "));
        }
        if sql_root {
            println!(
                "  Flight SQL: {} (read-only)",
                weir_engine::pipeline::sql::TABLE_NAMES.join(", ")
            );
        }
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        builder
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, shutdown())
            .await
            .context("the Flight server failed")
    })
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
