//! The object-store test servers `scripts/test` starts (moto_server for
//! S3, fake-gcs-server for GCS), as tests reach them: the endpoint from its
//! environment variable, or why the test skips ([`server`]), and a bare
//! HTTP/1.1 request for what `object_store` cannot do, such as creating a
//! bucket ([`http`]).

use std::io::{Read, Write};
use std::net::TcpStream;

/// The endpoint in `var`, or `None` after printing why the test skips
/// (under `CI=true` a missing server fails the test instead).
pub fn server(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            let why = format!(
                "{var} is not set: no {what} test server (scripts/test starts one when it is installed)"
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI must not skip object-store tests: {why}");
            }
            eprintln!("skipping: {why}");
            None
        }
    }
}

/// One HTTP/1.1 request to `endpoint` (`http://host:port`); returns
/// (status, body).
pub fn http(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(host).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let status = String::from_utf8_lossy(&out[9..12]).parse().unwrap();
    let at = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (status, out[at..].to_vec())
}
