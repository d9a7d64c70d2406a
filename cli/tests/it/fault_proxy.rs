//! Object stores that fail (issue 27): a fault-injecting HTTP proxy on
//! 127.0.0.1 in front of the S3 test server (moto), which answers 503,
//! resets the connection, stalls, or truncates the response body, on the
//! requests of one phase of a run (the listing, an object read, a
//! multipart part, the copy into place, the manifest PUT). A fault that
//! passes (once) is retried and the output equals a clean run's; a fault
//! that lasts ends the run with a clear error naming the URL, with no
//! manifest visible, and `weir gc` clears what is left.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cli::testdata;
use crate::object_store::{
    manifest_without_paths, run_ok, s3_bucket, s3_get, s3_keys, s3_put, server, unique, weir_s3,
};

/// What the proxy does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// `503 Slow Down`, the request not forwarded.
    Unavailable,
    /// The connection closed without a response, the request not forwarded.
    Reset,
    /// The response held back for a while, then sent whole.
    Stall,
    /// The request forwarded; half the response body sent, then closed.
    Truncate,
    /// The request forwarded (it takes effect), the response lost.
    Lost,
}

/// Which requests a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Listing a prefix (`GET ?list-type=2`).
    List,
    /// Reading an object (`GET` of a key).
    Read,
    /// Uploading a whole staged object, or starting or completing a
    /// multipart upload (`PUT`/`POST` of a staging key).
    Upload,
    /// Uploading one part of a multipart upload (`PUT ?partNumber=`).
    Part,
    /// Copying a staged object into place (`PUT` with `x-amz-copy-source`).
    Copy,
    /// Writing the output's manifest (`PUT …/manifest.json`, not a copy).
    Manifest,
}

struct Request {
    method: String,
    target: String,
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn phase(&self) -> Option<Phase> {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        match self.method.as_str() {
            "GET" if query.contains("list-type=2") => Some(Phase::List),
            "GET" => Some(Phase::Read),
            "PUT" if self.header("x-amz-copy-source").is_some() => Some(Phase::Copy),
            "PUT" if path.ends_with("/manifest.json") && !path.contains(".weir-") => {
                Some(Phase::Manifest)
            }
            "PUT" if query.contains("partNumber=") => Some(Phase::Part),
            "PUT" | "POST" if path.contains(".weir-") => Some(Phase::Upload),
            _ => None,
        }
    }
}

fn read_request(s: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = s.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut body = buf[end..].to_vec();
    let first = head.lines().next()?.to_string();
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut req = Request {
        method,
        target,
        head,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.contains("chunked"))
    {
        while !body.ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut byte).ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&byte[..n]);
        }
    } else {
        let len: usize = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while body.len() < len {
            let n = s.read(&mut byte).ok()?;
            if n == 0 {
                return None;
            }
            body.extend_from_slice(&byte[..n]);
        }
    }
    req.body = body;
    Some(req)
}

/// The request sent upstream on a connection of its own, read to its end.
fn forward(upstream: &str, req: &Request) -> Vec<u8> {
    let mut up = TcpStream::connect(upstream).unwrap();
    let mut head = String::new();
    for (i, line) in req.head.trim_end().lines().enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes()).unwrap();
    up.write_all(&req.body).unwrap();
    let mut out = Vec::new();
    let _ = up.read_to_end(&mut out);
    out
}

/// Counts and faults, shared by the proxy's connections.
#[derive(Default)]
struct State {
    rule: Option<(Phase, Fault, usize)>,
    /// Faults injected so far.
    injected: usize,
    seen: Vec<(String, String, Option<Phase>)>,
}

/// A fault-injecting proxy; stops when dropped (its thread ends with the
/// test process).
pub(crate) struct FaultProxy {
    pub(crate) endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    pub(crate) fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { continue };
                let (state, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let Some(req) = read_request(&mut client) else {
                        return;
                    };
                    let phase = req.phase();
                    let fault = {
                        let mut s = state.lock().unwrap();
                        s.seen.push((req.method.clone(), req.target.clone(), phase));
                        match s.rule {
                            Some((p, f, times)) if Some(p) == phase && s.injected < times => {
                                s.injected += 1;
                                Some(f)
                            }
                            _ => None,
                        }
                    };
                    match fault {
                        None => {
                            let resp = forward(&upstream, &req);
                            let _ = client.write_all(&resp);
                        }
                        Some(Fault::Unavailable) => {
                            let body =
                                "<Error><Code>SlowDown</Code><Message>injected</Message></Error>";
                            let _ = write!(
                                client,
                                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                        }
                        Some(Fault::Reset) => {}
                        Some(Fault::Lost) => {
                            let _ = forward(&upstream, &req);
                        }
                        Some(Fault::Stall) => {
                            std::thread::sleep(Duration::from_millis(1500));
                            let resp = forward(&upstream, &req);
                            let _ = client.write_all(&resp);
                        }
                        Some(Fault::Truncate) => {
                            let resp = forward(&upstream, &req);
                            let head_end = resp
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .map_or(resp.len(), |at| at + 4);
                            let body = resp.len() - head_end;
                            let _ = client.write_all(&resp[..head_end + body / 2]);
                        }
                    }
                    let _ = client.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        FaultProxy { endpoint, state }
    }

    /// Faults the next `times` requests of `phase` (`usize::MAX`: all).
    pub(crate) fn set(&self, phase: Phase, fault: Fault, times: usize) {
        let mut s = self.state.lock().unwrap();
        s.rule = Some((phase, fault, times));
        s.injected = 0;
        s.seen.clear();
    }

    pub(crate) fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.rule = None;
        s.injected = 0;
    }

    pub(crate) fn injected(&self) -> usize {
        self.state.lock().unwrap().injected
    }

    fn phases_seen(&self) -> Vec<Phase> {
        let s = self.state.lock().unwrap();
        let mut p: Vec<Phase> = s.seen.iter().filter_map(|x| x.2).collect();
        p.dedup();
        p
    }
}

/// The output's objects as (relative key, bytes), the manifest without
/// its input paths.
fn output(s3: &str, bucket: &str) -> Vec<(String, Vec<u8>)> {
    s3_keys(s3, bucket, "out")
        .into_iter()
        .map(|k| {
            let bytes = s3_get(s3, bucket, &k);
            let rel = k.trim_start_matches("out/").to_string();
            let bytes = if rel == "manifest.json" {
                serde_json::to_vec(&manifest_without_paths(&bytes)).unwrap()
            } else {
                bytes
            };
            (rel, bytes)
        })
        .collect()
}

/// ExampleGen from an S3 input to an S3 output through `proxy`; exit code
/// and output.
fn examplegen(proxy: &FaultProxy, bucket: &str, extra: &[&str]) -> (Option<i32>, String) {
    let out = weir_s3(&proxy.endpoint)
        .env("WEIR_STORE_RETRY_TIMEOUT", "8")
        .env("WEIR_STORE_MAX_RETRIES", "3")
        .args([
            "examplegen",
            "--input",
            &format!("s3://{bucket}/raw/data.csv"),
            "--output",
            &format!("s3://{bucket}/out"),
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every fault once and 503 always on each of `phases`, for ExampleGen of
/// `csv` with `extra` flags; the report lines.
fn faults_on(
    s3: &str,
    proxy: &FaultProxy,
    csv: &[u8],
    extra: &[&str],
    phases: &[Phase],
) -> Vec<String> {
    let fresh = |tag: &str| {
        let bucket = unique(&format!("weir-fault-{tag}"));
        s3_bucket(s3, &bucket);
        s3_put(s3, &bucket, "raw/data.csv", csv);
        bucket
    };
    // A clean run through the proxy: the reference, and every phase occurs.
    let clean_bucket = fresh("clean");
    proxy.set(Phase::List, Fault::Stall, 0);
    let (code, text) = examplegen(proxy, &clean_bucket, extra);
    assert_eq!(code, Some(0), "{text}");
    let clean = output(s3, &clean_bucket);
    let seen = proxy.phases_seen();
    for p in phases {
        assert!(
            seen.contains(p),
            "a clean run makes no {p:?} request: {seen:?}"
        );
    }
    let mut report = Vec::new();
    for &phase in phases {
        for fault in [
            Fault::Unavailable,
            Fault::Reset,
            Fault::Stall,
            Fault::Truncate,
            Fault::Lost,
        ] {
            // Once: retried, and the output is the clean run's.
            let bucket = fresh("once");
            proxy.set(phase, fault, 1);
            let (code, text) = examplegen(proxy, &bucket, extra);
            assert_eq!(proxy.injected(), 1, "{phase:?} {fault:?}");
            assert_eq!(code, Some(0), "{phase:?} {fault:?} once: {text}");
            assert!(
                output(s3, &bucket) == clean,
                "{phase:?} {fault:?} once: output differs"
            );
            report.push(format!("{phase:?} {fault:?} once: retried, output equal"));
        }
        // Always: a clear error naming the URL, no manifest, gc clears it.
        let bucket = fresh("always");
        proxy.set(phase, Fault::Unavailable, usize::MAX);
        let (code, text) = examplegen(proxy, &bucket, extra);
        proxy.clear();
        assert_eq!(code, Some(1), "{phase:?} always: {text}");
        assert!(
            text.contains(&format!("s3://{bucket}")),
            "{phase:?}: {text}"
        );
        let keys = s3_keys(s3, &bucket, "out");
        assert!(
            !keys.iter().any(|k| k == "out/manifest.json"),
            "{phase:?}: {keys:?}"
        );
        run_ok(weir_s3(s3).args(["gc", &format!("s3://{bucket}/out")]));
        let left = s3_keys(s3, &bucket, "out");
        assert!(
            left.iter()
                .all(|k| !k.contains(".weir-") && !k.contains("_lock")),
            "{phase:?}: gc left {left:?}"
        );
        report.push(format!(
            "{phase:?} 503 always: exit 1, {}",
            text.lines().last().unwrap_or("")
        ));
    }
    report
}

#[test]
fn s3_faults_are_retried_or_fail_cleanly_and_never_half_commit() {
    let Some(s3) = server("WEIR_TEST_S3_ENDPOINT", "S3") else {
        return;
    };
    let proxy = FaultProxy::start(&s3);
    let csv = std::fs::read(testdata().join("taxi/examplegen_input/data.csv")).unwrap();
    let mut report = faults_on(
        &s3,
        &proxy,
        &csv,
        &["--shards", "2"],
        &[
            Phase::List,
            Phase::Read,
            Phase::Upload,
            Phase::Copy,
            Phase::Manifest,
        ],
    );
    // Multipart parts: one uncompressed shard of 40,000 rows (over 8 MiB).
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.csv");
    run_ok(
        crate::cli::weir()
            .args(["sample", "--rows", "40000", "--seed", "5", "--output"])
            .arg(&big),
    );
    report.extend(faults_on(
        &s3,
        &proxy,
        &std::fs::read(&big).unwrap(),
        &["--shards", "1", "--compression", "none"],
        &[Phase::Part],
    ));
    println!("{}", report.join("\n"));
}
