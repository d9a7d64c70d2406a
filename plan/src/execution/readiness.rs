//! Fail fast on a cluster that cannot run a job: before a session is made,
//! the scheduler's readiness probe (Ballista's `GET /readyz`, served on
//! the scheduler's gRPC port: 200 with at least `min_ready_executors`
//! live executors, default 1; 503 otherwise) is asked, with a deadline
//! (5 s, `WEIR_CLUSTER_PROBE_TIMEOUT`). A scheduler that does not answer, or
//! one with no executor registered by the deadline, is then an error within
//! seconds instead of a job that waits for the job timeout, three times.
//! The job timeout stays for jobs that started.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{PlanError, Result};

/// How long the probe may take, connection included. Override with
/// `WEIR_CLUSTER_PROBE_TIMEOUT` (seconds).
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

fn probe_timeout() -> Duration {
    std::env::var("WEIR_CLUSTER_PROBE_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_PROBE_TIMEOUT)
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// At least one executor is registered.
    Ready,
    /// The scheduler answered that too few executors are registered (its
    /// words, e.g. `not ready: 0/1 executors registered`).
    NoExecutor(String),
}

/// Asks the scheduler at `url` (`df://host:port`) whether it can run a
/// job; `Err` when it does not answer in time or answers something else.
pub async fn probe(url: &str) -> Result<Readiness> {
    probe_within(url, probe_timeout()).await
}

/// [`probe`] with the deadline `timeout`.
pub async fn probe_within(url: &str, timeout: Duration) -> Result<Readiness> {
    let addr = url.trim_start_matches("df://").trim_end_matches('/');
    let answer = tokio::time::timeout(timeout, get_readyz(addr)).await;
    let (status, body) = match answer {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            return Err(PlanError::Invalid(format!(
                "the scheduler at {url} does not answer: {e}"
            )))
        }
        Err(_) => {
            return Err(PlanError::Invalid(format!(
                "the scheduler at {url} does not answer: no reply to its readiness probe within {:.1} s",
                timeout.as_secs_f64()
            )))
        }
    };
    match status {
        200 => Ok(Readiness::Ready),
        503 => Ok(Readiness::NoExecutor(body.trim().to_string())),
        other => Err(PlanError::Invalid(format!(
            "{url} answered its readiness probe (GET /readyz) with HTTP {other}: is it a weir-scheduler?"
        ))),
    }
}

/// Fails unless the scheduler at `url` answers that an executor is
/// registered. Executors that are starting register within a heartbeat,
/// so a scheduler without one is asked again every 250 ms until the probe
/// deadline has passed; one that does not answer fails at once.
pub async fn require_ready(url: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + probe_timeout();
    loop {
        match probe(url).await? {
            Readiness::Ready => return Ok(()),
            Readiness::NoExecutor(said) if std::time::Instant::now() >= deadline => {
                return Err(PlanError::Invalid(format!(
                    "no executor registered at {url} (the scheduler says: {said}); start \
                     weir-executor processes with --scheduler-host/--scheduler-port pointing at it"
                )))
            }
            Readiness::NoExecutor(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// One HTTP/1.1 `GET /readyz`: the status code and the body.
async fn get_readyz(addr: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr).await?;
    let host = addr.split(':').next().unwrap_or(addr);
    stream
        .write_all(
            format!("GET /readyz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut reply = Vec::new();
    // A probe's reply is a few hundred bytes; never read more than 64 KiB.
    stream.take(64 << 10).read_to_end(&mut reply).await?;
    let text = String::from_utf8_lossy(&reply);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the reply to GET /readyz is not HTTP",
            )
        })?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that accepts and never answers must not hold the client.
    #[tokio::test]
    async fn a_silent_scheduler_is_an_error_within_the_probe_deadline() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(socket);
        });
        let started = std::time::Instant::now();
        let err = probe_within(&format!("df://{addr}"), Duration::from_millis(500))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(err.contains("does not answer"), "{err}");
        held.abort();
    }

    #[tokio::test]
    async fn replies_are_read_by_status() {
        for (reply, want) in [
            (
                "HTTP/1.1 200 OK\r\n\r\nready: 2 executors registered\n",
                Ok(Readiness::Ready),
            ),
            (
                "HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready: 0/1 executors registered\n",
                Ok(Readiness::NoExecutor(
                    "not ready: 0/1 executors registered".into(),
                )),
            ),
            ("HTTP/1.1 404 Not Found\r\n\r\n", Err("HTTP 404")),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await.unwrap();
                socket.write_all(reply.as_bytes()).await.unwrap();
            });
            let got = probe(&format!("df://{addr}")).await;
            match (got, want) {
                (Ok(g), Ok(w)) => assert_eq!(g, w),
                (Err(e), Err(w)) => assert!(e.to_string().contains(w), "{e}"),
                (g, w) => panic!("{reply:?}: {g:?} vs {w:?}"),
            }
            server.await.unwrap();
        }
    }
}
