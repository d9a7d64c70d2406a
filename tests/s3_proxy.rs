//! An HTTP proxy on 127.0.0.1 in front of the S3 test server (moto) that
//! logs every request it forwards, and can fail those of one phase of a
//! run (the listing, an object read, a multipart part, the copy into
//! place, the manifest PUT): it answers 503, resets the connection, stalls,
//! truncates the response body, or loses the response. The fault tests
//! (`cli/tests/it/fault_proxy.rs`) use the faults; the cluster tests use
//! the log to show what one process of a run asked the store for.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
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
pub enum Phase {
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

/// One request the proxy read.
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

/// A request as the proxy logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// The request target: `/bucket/key?query`.
    pub target: String,
    /// Its phase, when it has one.
    pub phase: Option<Phase>,
}

/// Counts and faults, shared by the proxy's connections.
#[derive(Default)]
struct State {
    rule: Option<(Phase, Fault, usize)>,
    /// Faults injected so far.
    injected: usize,
    seen: Vec<SeenRequest>,
}

/// A fault-injecting proxy; stops when dropped (its thread ends with the
/// test process).
pub struct FaultProxy {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl FaultProxy {
    pub fn start(upstream: &str) -> FaultProxy {
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
                        s.seen.push(SeenRequest {
                            method: req.method.clone(),
                            target: req.target.clone(),
                            phase,
                        });
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
    pub fn set(&self, phase: Phase, fault: Fault, times: usize) {
        let mut s = self.state.lock().unwrap();
        s.rule = Some((phase, fault, times));
        s.injected = 0;
        s.seen.clear();
    }

    /// No fault, and an empty log.
    pub fn reset(&self) {
        let mut s = self.state.lock().unwrap();
        s.rule = None;
        s.injected = 0;
        s.seen.clear();
    }

    /// No fault from now on (the log is kept).
    pub fn clear(&self) {
        let mut s = self.state.lock().unwrap();
        s.rule = None;
        s.injected = 0;
    }

    pub fn injected(&self) -> usize {
        self.state.lock().unwrap().injected
    }

    /// Every request forwarded or faulted since the last [`FaultProxy::set`]
    /// (or the start): method, target (path and query), phase.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The phases of [`FaultProxy::requests`], consecutive repeats merged.
    pub fn phases_seen(&self) -> Vec<Phase> {
        let s = self.state.lock().unwrap();
        let mut p: Vec<Phase> = s.seen.iter().filter_map(|x| x.phase).collect();
        p.dedup();
        p
    }
}
