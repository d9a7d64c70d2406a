//! `weir serve` with a real server process on 127.0.0.1 (random port,
//! stopped by PID) and real Arrow Flight clients: the epoch promises
//! (exactly once, one global order, resume, elastic resume, kill -9),
//! bad requests, disconnecting clients, and `--transform`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;

use arrow_flight::decode::DecodedPayload;
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use datafusion::arrow::array::{Array, AsArray, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use serde_json::json;
use tonic::Code;

use crate::cli::{testdata, weir};

/// A `weir serve` process, killed (by PID) when dropped.
pub(crate) struct ServeProcess {
    child: Child,
    pub(crate) url: String,
}

impl ServeProcess {
    pub(crate) fn start(root: &Path, cache: &Path, extra: &[&str]) -> Self {
        let mut child = weir()
            .args(["serve", "--bind", "127.0.0.1:0", "--root"])
            .arg(root)
            .arg("--cache-dir")
            .arg(cache)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(|l| l.ok()).unwrap_or_default();
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("grpc://") || w.starts_with("grpc+tls://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .to_string();
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn client(url: &str, token: Option<&str>) -> FlightClient {
    let endpoint = url.replace("grpc://", "http://");
    let channel = tonic::transport::Endpoint::from_shared(endpoint)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = FlightClient::new(channel);
    if let Some(t) = token {
        c.add_header("authorization", &format!("Bearer {t}"))
            .unwrap();
    }
    c
}

/// Rank tickets of an epoch request.
async fn tickets(
    c: &mut FlightClient,
    request: serde_json::Value,
) -> Result<Vec<Vec<u8>>, tonic::Status> {
    let info = c
        .get_flight_info(FlightDescriptor::new_cmd(request.to_string()))
        .await
        .map_err(to_status)?;
    Ok(info
        .endpoint
        .iter()
        .map(|e| e.ticket.as_ref().unwrap().ticket.to_vec())
        .collect())
}

fn to_status(e: arrow_flight::error::FlightError) -> tonic::Status {
    match e {
        arrow_flight::error::FlightError::Tonic(s) => *s,
        other => tonic::Status::unknown(other.to_string()),
    }
}

/// A stream's batches with the token after each, reading at most `limit`.
async fn read(
    c: &mut FlightClient,
    ticket: Vec<u8>,
    limit: usize,
) -> Result<Vec<(RecordBatch, Vec<u8>)>, tonic::Status> {
    let stream = c.do_get(Ticket::new(ticket)).await.map_err(to_status)?;
    let mut inner = stream.into_inner();
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(m) = inner.next().await else { break };
        let m = m.map_err(to_status)?;
        if let DecodedPayload::RecordBatch(b) = m.payload {
            out.push((b, m.inner.app_metadata.to_vec()));
        }
    }
    Ok(out)
}

fn ids(b: &RecordBatch) -> Vec<i64> {
    b.column_by_name("id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

/// A generated split: `rows` records with `id` 0..rows and `x`, in files
/// of uneven row groups.
fn generated(root: &Path, rows: i64) -> PathBuf {
    let dir = root.join("gen/Split-train");
    std::fs::create_dir_all(&dir).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
    ]));
    let files = 3;
    let per = rows / files;
    for f in 0..files {
        let start = f * per;
        let end = if f == files - 1 { rows } else { start + per };
        let path = dir.join(format!("part-{f:05}.parquet"));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(50_000 + 7_000 * f as usize))
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            schema.clone(),
            Some(props),
        )
        .unwrap();
        let mut at = start;
        while at < end {
            let n = (end - at).min(100_000);
            let id = Int64Array::from_iter_values(at..at + n);
            let x = Float64Array::from_iter_values((at..at + n).map(|v| v as f64 * 0.5));
            w.write(
                &RecordBatch::try_new(schema.clone(), vec![Arc::new(id), Arc::new(x)]).unwrap(),
            )
            .unwrap();
            at += n;
        }
        w.close().unwrap();
    }
    root.join("gen")
}

fn request(world: u64, epoch: u64, batch: u64) -> serde_json::Value {
    json!({"dataset": "gen", "split": "train", "batch_size": batch, "epoch": epoch,
           "seed": 42, "world_size": world})
}

/// Every rank's ids of one epoch, and the global order (global batch g is
/// rank g % W's batch g / W).
async fn epoch(url: &str, req: serde_json::Value) -> (Vec<Vec<i64>>, Vec<i64>) {
    let mut c = client(url, None).await;
    let ts = tickets(&mut c, req).await.unwrap();
    let mut per_rank = Vec::new();
    for t in ts {
        let batches = read(&mut c, t, usize::MAX).await.unwrap();
        per_rank.push(batches.iter().map(|(b, _)| ids(b)).collect::<Vec<_>>());
    }
    let w = per_rank.len();
    let mut global = Vec::new();
    let mut k = 0;
    loop {
        let mut any = false;
        for r in per_rank.iter().take(w) {
            if let Some(b) = r.get(k) {
                global.extend(b);
                any = true;
            }
        }
        if !any {
            break;
        }
        k += 1;
    }
    let flat = per_rank.into_iter().map(|r| r.concat()).collect();
    (flat, global)
}

fn assert_exactly_once(mut all: Vec<i64>, n: i64) {
    all.sort_unstable();
    assert_eq!(all.len() as i64, n, "records delivered");
    assert!(all.iter().copied().eq(0..n), "every record exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_ranks_see_a_1m_split_exactly_once_in_one_global_order() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 1_000_000;
    generated(tmp.path(), n);
    let server = ServeProcess::start(tmp.path(), &tmp.path().join("cache"), &[]);
    let mut orders = Vec::new();
    for world in 1..=4u64 {
        let (ranks, global) = epoch(&server.url, request(world, 0, 1000)).await;
        assert_eq!(ranks.len() as u64, world);
        assert_exactly_once(ranks.concat(), n);
        orders.push(global);
    }
    assert!(
        orders.iter().all(|o| o == &orders[0]),
        "world size changed the global order"
    );
    assert_ne!(
        orders[0][..1000],
        (0..1000).collect::<Vec<i64>>()[..],
        "not shuffled"
    );
    let (_, again) = epoch(&server.url, request(2, 0, 1000)).await;
    assert_eq!(again, orders[0], "same seed and epoch, another order");
    let (_, next) = epoch(&server.url, request(2, 1, 1000)).await;
    assert_ne!(next, orders[0], "another epoch, the same order");
    // Without shuffle: input order.
    let mut plain = request(3, 0, 1000);
    plain["shuffle"] = json!(false);
    let (_, input_order) = epoch(&server.url, plain).await;
    assert!(input_order.iter().copied().eq(0..n));
    // drop_last: equal full batches per rank, fewer than W*B held back.
    let mut dl = request(3, 0, 999);
    dl["drop_last"] = json!(true);
    let mut c = client(&server.url, None).await;
    let info = c
        .get_flight_info(FlightDescriptor::new_cmd(dl.to_string()))
        .await
        .unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&info.app_metadata).unwrap();
    let held = meta["held_back"].as_u64().unwrap();
    assert_eq!(held, (n as u64) % (3 * 999));
    let (ranks, _) = epoch(&server.url, dl).await;
    assert!(ranks.iter().all(|r| r.len() == ranks[0].len()));
    assert_eq!(ranks.concat().len() as u64 + held, n as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_resumes_from_any_token_and_elastically_at_a_step_boundary() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 100_000;
    generated(tmp.path(), n);
    let server = ServeProcess::start(tmp.path(), &tmp.path().join("cache"), &[]);
    let mut c = client(&server.url, None).await;
    // Resume from every 7th token of rank 1 of 3 equals the rest of the stream.
    let ts = tickets(&mut c, request(3, 5, 500)).await.unwrap();
    let full = read(&mut c, ts[1].clone(), usize::MAX).await.unwrap();
    for k in (0..full.len()).step_by(7) {
        let rest = read(&mut c, full[k].1.clone(), usize::MAX).await.unwrap();
        let want: Vec<Vec<i64>> = full[k + 1..].iter().map(|(b, _)| ids(b)).collect();
        let got: Vec<Vec<i64>> = rest.iter().map(|(b, _)| ids(b)).collect();
        assert_eq!(got, want, "resume after batch {k}");
    }
    // Elastic: 4 ranks take 5 batches each, then 2 ranks finish the epoch.
    let ts = tickets(&mut c, request(4, 2, 300)).await.unwrap();
    let mut seen = Vec::new();
    let mut last = Vec::new();
    for t in ts {
        let part = read(&mut c, t, 5).await.unwrap();
        seen.extend(part.iter().flat_map(|(b, _)| ids(b)));
        last = part.last().unwrap().1.clone();
    }
    let mut resume = request(2, 2, 300);
    resume["resume"] = json!(String::from_utf8(last).unwrap());
    let ts = tickets(&mut c, resume).await.unwrap();
    assert_eq!(ts.len(), 2);
    for t in ts {
        let part = read(&mut c, t, usize::MAX).await.unwrap();
        seen.extend(part.iter().flat_map(|(b, _)| ids(b)));
    }
    assert_exactly_once(seen, n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_killed_mid_epoch_resumes_every_rank_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let n = 200_000;
    generated(tmp.path(), n);
    let cache = tmp.path().join("cache");
    let server = ServeProcess::start(tmp.path(), &cache, &[]);
    let mut c = client(&server.url, None).await;
    let ts = tickets(&mut c, request(2, 0, 1000)).await.unwrap();
    let mut seen = Vec::new();
    let mut last = Vec::new();
    for (r, t) in ts.into_iter().enumerate() {
        let part = read(&mut c, t, 20 + 13 * r).await.unwrap();
        seen.extend(part.iter().flat_map(|(b, _)| ids(b)));
        last.push(part.last().unwrap().1.clone());
    }
    server.kill9();
    let server = ServeProcess::start(tmp.path(), &cache, &[]);
    let mut c = client(&server.url, None).await;
    for token in last {
        let rest = read(&mut c, token, usize::MAX).await.unwrap();
        seen.extend(rest.iter().flat_map(|(b, _)| ids(b)));
    }
    assert_exactly_once(seen, n);
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_refuses_bad_requests_and_outlives_clients_that_leave() {
    let tmp = tempfile::tempdir().unwrap();
    generated(tmp.path(), 300_000);
    std::fs::write(tmp.path().join("token"), "s3cret\n").unwrap();
    let token_file = tmp.path().join("token");
    let server = ServeProcess::start(
        tmp.path(),
        &tmp.path().join("cache"),
        &["--token-file", token_file.to_str().unwrap()],
    );
    let code = |r: Result<Vec<Vec<u8>>, tonic::Status>| r.unwrap_err();
    let mut anon = client(&server.url, None).await;
    let e = code(tickets(&mut anon, request(1, 0, 10)).await);
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let mut wrong = client(&server.url, Some("nope")).await;
    let e = code(tickets(&mut wrong, request(1, 0, 10)).await);
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let mut c = client(&server.url, Some("s3cret")).await;
    let e = read(&mut c, b"not a ticket".to_vec(), 1).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("malformed ticket"), "{e}");
    let e = code(tickets(&mut c, json!({"dataset": "nope", "split": "train"})).await);
    assert_eq!(e.code(), Code::NotFound, "{e}");
    assert!(e.message().contains("no dataset 'nope'"), "{e}");
    let e = code(tickets(&mut c, json!({"dataset": "../etc", "split": "train"})).await);
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("'../etc' is not allowed"), "{e}");
    let e = code(tickets(&mut c, json!({"dataset": "gen", "split": "test"})).await);
    assert_eq!(e.code(), Code::NotFound, "{e}");
    let e = code(
        tickets(
            &mut c,
            json!({"dataset": "gen", "split": "train", "batch": 3}),
        )
        .await,
    );
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    // A token for epoch 0 offered for epoch 1.
    let ts = tickets(&mut c, request(1, 0, 100)).await.unwrap();
    let part = read(&mut c, ts[0].clone(), 2).await.unwrap();
    let mut other = request(1, 1, 100);
    other["resume"] = json!(String::from_utf8(part[1].1.clone()).unwrap());
    let e = code(tickets(&mut c, other).await);
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(
        e.message().contains("epoch 0") && e.message().contains("epoch 1"),
        "{e}"
    );
    // A damaged token.
    let mut damaged = part[1].1.clone();
    let end = damaged.len() - 2;
    damaged[end] ^= 1;
    let e = read(&mut c, damaged, 1).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    // Writes are refused.
    let e = c
        .do_action(arrow_flight::Action::new("drop", ""))
        .await
        .err()
        .map(to_status)
        .unwrap();
    assert_eq!(e.code(), Code::PermissionDenied, "{e}");

    // 100 clients that leave mid-stream: RSS and open files stay flat.
    let pid = server.pid();
    let leave = |n: usize| {
        let url = server.url.clone();
        async move {
            for _ in 0..n {
                let mut c = client(&url, Some("s3cret")).await;
                let ts = tickets(&mut c, request(1, 0, 1000)).await.unwrap();
                let part = read(&mut c, ts[0].clone(), 2).await.unwrap();
                assert_eq!(part.len(), 2);
            }
        }
    };
    leave(10).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (rss0, fds0) = (rss_kb(pid), open_files(pid));
    leave(100).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (rss1, fds1) = (rss_kb(pid), open_files(pid));
    assert!(fds1 <= fds0 + 2, "open files {fds0} -> {fds1}");
    assert!(rss1 < rss0 + 64 * 1024, "RSS {rss0} kB -> {rss1} kB");
    // Still serving.
    let ts = tickets(&mut c, request(1, 0, 1000)).await.unwrap();
    assert_eq!(read(&mut c, ts[0].clone(), 3).await.unwrap().len(), 3);
}

/// Every row of `batches` as `type:value|…`, sorted: the multiset of rows,
/// values and types, whatever the order.
fn sorted_rows<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> Vec<String> {
    let mut v = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let row: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    let value =
                        datafusion::arrow::util::display::array_value_to_string(c, i).unwrap();
                    format!("{}:{value}", c.data_type())
                })
                .collect();
            v.push(row.join("|"));
        }
    }
    v.sort();
    v
}

/// A root holding TFX's taxi data (ExampleGen and Transform outputs).
fn taxi_root(tmp: &Path) -> PathBuf {
    let root = tmp.join("root");
    std::fs::create_dir_all(&root).unwrap();
    for d in ["csv_example_gen", "transform"] {
        std::os::unix::fs::symlink(testdata().join(d), root.join(d)).unwrap();
    }
    root
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_lists_tfx_taxi_outputs_and_shares_them_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = taxi_root(tmp.path());
    let server = ServeProcess::start(&root, &tmp.path().join("cache"), &[]);
    let mut c = client(&server.url, None).await;
    let infos: Vec<_> = c
        .list_flights("")
        .await
        .unwrap()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|i| i.unwrap())
        .collect();
    let names: BTreeSet<String> = infos
        .iter()
        .map(|i| i.flight_descriptor.as_ref().unwrap().path.join("/"))
        .collect();
    for n in [
        "csv_example_gen/train",
        "csv_example_gen/eval",
        "transform/train",
        "transform/eval",
    ] {
        assert!(names.contains(n), "{names:?}");
    }
    let total = |dataset: &str| -> i64 {
        infos
            .iter()
            .filter(|i| i.flight_descriptor.as_ref().unwrap().path[0] == dataset)
            .map(|i| i.total_records)
            .sum()
    };
    assert!(
        total("transform") > 10_000,
        "taxi records: {}",
        total("transform")
    );
    assert_eq!(total("transform"), total("csv_example_gen"));
    // Every transformed record exactly once over 3 ranks: compare the
    // multiset of rows with a single input-order read.
    let base = json!({"dataset": "transform", "split": "train", "batch_size": 128, "world_size": 1, "shuffle": false});
    let ts = tickets(&mut c, base).await.unwrap();
    let plain = read(&mut c, ts[0].clone(), usize::MAX).await.unwrap();
    let want = sorted_rows(plain.iter().map(|(b, _)| b));
    let shuffled = json!({"dataset": "transform", "split": "train", "batch_size": 128, "world_size": 3, "seed": 9});
    let ts = tickets(&mut c, shuffled).await.unwrap();
    let mut all = Vec::new();
    for t in ts {
        all.extend(read(&mut c, t, usize::MAX).await.unwrap());
    }
    assert_eq!(sorted_rows(all.iter().map(|(b, _)| b)), want);
    assert!(all.iter().all(|(b, _)| b.num_rows() <= 128));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_transform_batches_equal_transform_apply_output() {
    let tmp = tempfile::tempdir().unwrap();
    let tx = tmp.path().join("tx");
    let sql = crate::transform_cli::taxi_sql();
    let eg = testdata().join("csv_example_gen");
    let run = weir()
        .args(["transform", "--output-format", "parquet", "--sql"])
        .arg(&sql)
        .arg("--input")
        .arg(&eg)
        .arg("--output")
        .arg(&tx)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(&eg, root.join("raw")).unwrap();
    let server = ServeProcess::start(
        &root,
        &tmp.path().join("cache"),
        &["--transform", tx.to_str().unwrap()],
    );
    let mut c = client(&server.url, None).await;
    let req = json!({"dataset": "raw", "split": "eval", "batch_size": 500, "shuffle": false});
    let ts = tickets(&mut c, req).await.unwrap();
    let served = read(&mut c, ts[0].clone(), usize::MAX).await.unwrap();
    let served: Vec<RecordBatch> = served.into_iter().map(|(b, _)| b).collect();
    // weir transform's own Parquet output of the same split.
    let dir = tx.join("transformed_examples/Split-eval");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut applied = Vec::new();
    for f in files {
        let r = datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(f).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        applied.extend(r.map(|b| b.unwrap()));
    }
    let (a, s) = (sorted_rows(&applied), sorted_rows(&served));
    assert_eq!(a.len(), s.len());
    assert_eq!(
        applied[0].schema().fields().len(),
        served[0].schema().fields().len()
    );
    for (x, y) in a.iter().zip(&s) {
        assert_eq!(x, y);
    }
}

/// A CA and a server certificate for 127.0.0.1/localhost signed by it, made
/// with the openssl command line; None (with the reason) without it.
fn tls_files(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=weir test CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]) && {
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
        ])
    };
    if !ok {
        let why = "the openssl command line is missing or failed, so the TLS test cannot make certificates";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    Some((
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_speaks_tls_with_a_certificate_and_refuses_plaintext() {
    let tmp = tempfile::tempdir().unwrap();
    generated(tmp.path(), 10_000);
    let Some((ca, cert, key)) = tls_files(tmp.path()) else {
        return;
    };
    let server = ServeProcess::start(
        tmp.path(),
        &tmp.path().join("cache"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.url.starts_with("grpc+tls://"), "{}", server.url);
    let addr = server.url.replace("grpc+tls://", "https://");
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(
            std::fs::read(&ca).unwrap(),
        ))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(addr.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = FlightClient::new(channel);
    let ts = tickets(&mut c, request(2, 0, 1000)).await.unwrap();
    let mut seen = Vec::new();
    for t in ts {
        seen.extend(
            read(&mut c, t, usize::MAX)
                .await
                .unwrap()
                .iter()
                .flat_map(|(b, _)| ids(b)),
        );
    }
    assert_exactly_once(seen, 10_000);
    // A plaintext client gets no answer.
    let plain = tonic::transport::Endpoint::from_shared(addr.replace("https://", "http://"))
        .unwrap()
        .connect()
        .await;
    if let Ok(channel) = plain {
        let mut c = FlightClient::new(channel);
        assert!(tickets(&mut c, request(1, 0, 10)).await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn serve_caps_concurrent_streams_and_frees_a_slot_when_a_client_leaves() {
    let tmp = tempfile::tempdir().unwrap();
    generated(tmp.path(), 200_000);
    let server = ServeProcess::start(
        tmp.path(),
        &tmp.path().join("cache"),
        &["--max-streams", "1"],
    );
    let mut c = client(&server.url, None).await;
    let ts = tickets(&mut c, request(2, 0, 100)).await.unwrap();
    // Rank 0's stream stays open (unread beyond its first batch).
    let mut open = c.do_get(Ticket::new(ts[0].clone())).await.unwrap();
    assert!(open.next().await.is_some());
    let mut other = client(&server.url, None).await;
    let e = read(&mut other, ts[1].clone(), 1).await.unwrap_err();
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(e.message().contains("--max-streams"), "{e}");
    drop(open);
    // The slot comes back once the server sees the client gone.
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if read(&mut other, ts[1].clone(), 1).await.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "the slot of a client that left was not freed");
}
