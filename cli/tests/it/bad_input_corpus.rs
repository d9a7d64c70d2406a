//! The bad-input corpus (issue 27): named cases across formats and
//! commands, each run through the `weir` binary. Each asserts exit code 1,
//! a message naming the file and where in it (row, line, record or byte
//! offset, when the problem has a place) and the problem, and that nothing
//! was committed (no `Split-*`, no manifest, no staging leftovers).
//! `WEIR_CORPUS_TABLE=FILE` writes the README's table (case → message).

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::{testdata, weir};
use weir_datasets::synth::int_examples_tfrecord;

/// One case: the files it writes, the command, and what the message says.
struct Case {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    /// Arguments; `{d}` is the case's folder, `{o}` its output.
    args: &'static [&'static str],
    /// Fragments the message must hold (file, place, problem).
    expect: &'static [&'static str],
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A framed record whose length and CRCs are valid around `payload`.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    weir_datasets::tfrecord::frame_record(&mut out, payload);
    out
}

fn parquet() -> Vec<u8> {
    let bytes = std::fs::read(testdata().join("external/parquet/data.parquet")).unwrap();
    bytes[..bytes.len() / 2].to_vec()
}

const CSV: &[u8] = b"a,b,c\n1,x,1.5\n2,y,2.5\n3,z,3.5\n";

fn cases() -> Vec<Case> {
    let mut tf = int_examples_tfrecord(5);
    let full_parquet = std::fs::read(testdata().join("external/parquet/data.parquet")).unwrap();
    let mut cases = vec![
        Case {
            name: "CSV row with an extra field",
            files: vec![("in.csv", b"a,b\n1,2\n3,4,5\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{o}"],
            expect: &["in.csv", "row 2", "line 3", "expected 2 fields"],
        },
        Case {
            name: "CSV row with a missing field",
            files: vec![("in.csv", b"a,b\n1,2\n3\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{o}"],
            expect: &["in.csv", "row 2", "found 1"],
        },
        Case {
            name: "CSV value that does not parse as its declared type",
            files: vec![
                ("in.csv", b"a,b\n1,2\nthree,4\n".to_vec()),
                (
                    "schema.pbtxt",
                    b"feature { name: \"a\" type: INT }\nfeature { name: \"b\" type: INT }\n"
                        .to_vec(),
                ),
            ],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--schema",
                "{d}/schema.pbtxt",
            ],
            expect: &["in.csv", "row 2", "three"],
        },
        Case {
            name: "CSV header with invalid UTF-8 in a name",
            files: vec![("in.csv", b"a,\xff\xfe\n1,2\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{o}"],
            expect: &["in.csv", "header column 2", "UTF-8"],
        },
        Case {
            name: "CSV header with a duplicate column name",
            files: vec![("in.csv", b"a,b,a\n1,2,3\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{o}"],
            expect: &["in.csv", "'a'", "twice"],
        },
        Case {
            name: "CSV file with no header line (empty)",
            files: vec![("in.csv", Vec::new())],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{o}"],
            expect: &["in.csv", "empty file"],
        },
        Case {
            name: "CSV.gz truncated mid-stream",
            files: vec![("in.csv.gz", {
                let g = gzip(&CSV.repeat(200));
                g[..g.len() / 2].to_vec()
            })],
            args: &["examplegen", "-i", "{d}/in.csv.gz", "-o", "{o}"],
            expect: &["in.csv.gz", "row", "read error"],
        },
        Case {
            name: "CSV.gz that is not gzip",
            files: vec![("in.csv.gz", CSV.to_vec())],
            args: &["examplegen", "-i", "{d}/in.csv.gz", "-o", "{o}"],
            expect: &["in.csv.gz", "read error"],
        },
        Case {
            name: "CSV.gz bomb: a 1 GiB line with no newline",
            files: vec![("bomb.csv.gz", {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(b"a,b\n").unwrap();
                let chunk = vec![b'a'; 1 << 20];
                for _ in 0..1024 {
                    e.write_all(&chunk).unwrap();
                }
                e.finish().unwrap()
            })],
            args: &["examplegen", "-i", "{d}/bomb.csv.gz", "-o", "{o}"],
            expect: &["bomb.csv.gz", "line 2", "longer than"],
        },
        Case {
            name: "TFRecord with a corrupt data CRC",
            files: vec![("in.tfrecord", {
                let n = tf.len();
                tf[n - 1] ^= 0xff;
                tf.clone()
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &["in.tfrecord", "record 4", "byte", "CRC"],
        },
        Case {
            name: "TFRecord with a corrupt length CRC",
            files: vec![("in.tfrecord", {
                let mut t = int_examples_tfrecord(3);
                t[9] ^= 0xff;
                t
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &["in.tfrecord", "record 0", "byte offset 0", "CRC"],
        },
        Case {
            name: "TFRecord truncated inside a record",
            files: vec![("in.tfrecord", {
                let t = int_examples_tfrecord(3);
                t[..t.len() - 5].to_vec()
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &["in.tfrecord", "record 2", "truncated"],
        },
        Case {
            name: "TFRecord length field of 4 GiB (valid length CRC)",
            files: vec![("in.tfrecord", {
                let len = 0xFFFF_FFF0u64.to_le_bytes();
                let mut t = len.to_vec();
                t.extend_from_slice(&weir_datasets::tfrecord::masked_crc32c(&len).to_le_bytes());
                t.extend_from_slice(&[0u8; 64]);
                t
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &[
                "in.tfrecord",
                "record 0",
                "byte offset 0",
                "implausibly large",
            ],
        },
        Case {
            name: "TFRecord whose payload is not a tf.Example (valid CRCs)",
            files: vec![("in.tfrecord", framed(b"\xff\xff\xff\xff garbage"))],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &["in.tfrecord", "byte offset 0", "not a tf.train.Example"],
        },
        Case {
            name: "TFRecord of tf.SequenceExample records (feature_lists)",
            files: vec![("in.tfrecord", {
                // context { x: [0] } and feature_lists { "t": [[1]] }.
                let one = int_examples_tfrecord(1);
                let mut seq = one[12..one.len() - 4].to_vec();
                seq.extend_from_slice(&[0x12, 0x0e, 0x0a, 0x0c, 0x0a, 0x01, b't', 0x12, 0x07]);
                seq.extend_from_slice(&[0x0a, 0x05, 0x1a, 0x03, 0x0a, 0x01, 0x01]);
                framed(&seq)
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &[
                "in.tfrecord",
                "byte offset 0",
                "--payload-format sequence_example",
                "dropped",
            ],
        },
        Case {
            name: "TFRecord.gz with a corrupt deflate stream",
            files: vec![("in.tfrecord.gz", {
                let mut g = gzip(&int_examples_tfrecord(50));
                let n = g.len();
                for b in &mut g[n / 3..n / 3 + 16] {
                    *b ^= 0x5a;
                }
                g
            })],
            args: &["examplegen", "-i", "{d}/in.tfrecord.gz", "-o", "{o}"],
            expect: &["in.tfrecord.gz"],
        },
        Case {
            name: "TFRecord zlib stream cut short",
            files: vec![("in.tfrecord.zz", {
                let z = zlib(&int_examples_tfrecord(50));
                z[..z.len() / 2].to_vec()
            })],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.tfrecord.zz",
                "-o",
                "{o}",
                "--format",
                "tfrecord",
            ],
            expect: &["in.tfrecord.zz"],
        },
        Case {
            name: "Parquet file cut before its footer",
            files: vec![("in.parquet", parquet())],
            args: &["examplegen", "-i", "{d}/in.parquet", "-o", "{o}"],
            expect: &["in.parquet"],
        },
        Case {
            name: "Parquet footer length pointing outside the file",
            files: vec![("in.parquet", {
                let mut p = full_parquet.clone();
                let n = p.len();
                p[n - 8..n - 4].copy_from_slice(&(u32::MAX - 7).to_le_bytes());
                p
            })],
            args: &["examplegen", "-i", "{d}/in.parquet", "-o", "{o}"],
            expect: &["in.parquet", "too small", "4294967296"],
        },
        Case {
            name: "Parquet with a bad magic number",
            files: vec![("in.parquet", {
                let mut p = full_parquet.clone();
                let n = p.len();
                p[n - 4..].copy_from_slice(b"XXXX");
                p
            })],
            args: &["examplegen", "-i", "{d}/in.parquet", "-o", "{o}"],
            expect: &["in.parquet"],
        },
        Case {
            name: "Avro file with a bad header",
            files: vec![("in.avro", b"Obj\x02 not really avro".to_vec())],
            args: &["examplegen", "-i", "{d}/in.avro", "-o", "{o}"],
            expect: &["in.avro"],
        },
        Case {
            name: "JSONL line that is not JSON",
            files: vec![("in.jsonl", b"{\"a\": 1}\n{\"a\": 2\n{\"a\": 3}\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.jsonl", "-o", "{o}"],
            expect: &["in.jsonl", "line 2"],
        },
        Case {
            name: "JSONL bomb: a 1 GiB line",
            files: vec![("bomb.jsonl.gz", {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                e.write_all(b"{\"a\": 1}\n{\"a\": \"").unwrap();
                let chunk = vec![b'a'; 1 << 20];
                for _ in 0..1024 {
                    e.write_all(&chunk).unwrap();
                }
                e.finish().unwrap()
            })],
            args: &[
                "examplegen",
                "-i",
                "{d}/bomb.jsonl.gz",
                "-o",
                "{o}",
                "--format",
                "jsonl",
            ],
            expect: &["bomb.jsonl.gz", "line 2", "longer than"],
        },
        Case {
            name: "JSONL with NaN, which JSON does not have",
            files: vec![("in.jsonl", b"{\"a\": 1.5}\n{\"a\": NaN}\n".to_vec())],
            args: &["examplegen", "-i", "{d}/in.jsonl", "-o", "{o}"],
            expect: &["in.jsonl", "line 2", "invalid JSON"],
        },
        Case {
            name: "Statistics of a folder without Split-* folders",
            files: vec![("in.csv", CSV.to_vec())],
            args: &["stats", "-i", "{d}", "-o", "{o}", "--splits-from-input"],
            expect: &["Split-"],
        },
        Case {
            name: "Validation against a schema that is not text format",
            files: vec![("schema.pbtxt", b"\x08\x96\x01 binary".to_vec())],
            args: &[
                "validate",
                "--stats",
                "{tfx}/statistics_gen/Split-eval/FeatureStats.pb",
                "--schema",
                "{d}/schema.pbtxt",
                "-o",
                "{o}",
            ],
            expect: &["schema.pbtxt"],
        },
        Case {
            name: "Input path that does not exist",
            files: vec![],
            args: &["examplegen", "-i", "{d}/missing.csv", "-o", "{o}"],
            expect: &["missing.csv"],
        },
        Case {
            name: "Glob that matches nothing",
            files: vec![],
            args: &["examplegen", "-i", "{d}/*.csv", "-o", "{o}"],
            expect: &["*.csv", "no"],
        },
        Case {
            name: "Partition feature that is not a column",
            files: vec![("in.csv", CSV.to_vec())],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--partition-feature",
                "nope",
            ],
            expect: &["nope"],
        },
        Case {
            name: "Split flag with a bad weight",
            files: vec![("in.csv", CSV.to_vec())],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--split",
                "train=2,eval=x",
            ],
            expect: &["eval=x"],
        },
        Case {
            name: "Schema text with a syntax error",
            files: vec![
                ("in.csv", CSV.to_vec()),
                (
                    "schema.pbtxt",
                    b"feature {\n  name: \"a\"\n  type: INT\n".to_vec(),
                ),
            ],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--schema",
                "{d}/schema.pbtxt",
            ],
            expect: &["schema.pbtxt", "line"],
        },
        Case {
            name: "Schema declaring an unknown feature type",
            files: vec![
                ("in.csv", CSV.to_vec()),
                (
                    "schema.pbtxt",
                    b"feature { name: \"a\" type: DECIMAL }\n".to_vec(),
                ),
            ],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--schema",
                "{d}/schema.pbtxt",
            ],
            expect: &["schema.pbtxt", "'a'", "unknown type DECIMAL"],
        },
        Case {
            name: "Schema with a duplicate feature name",
            files: vec![
                ("in.csv", CSV.to_vec()),
                (
                    "schema.pbtxt",
                    b"feature { name: \"a\" type: INT }\nfeature { name: \"a\" type: FLOAT }\n"
                        .to_vec(),
                ),
            ],
            args: &[
                "examplegen",
                "-i",
                "{d}/in.csv",
                "-o",
                "{o}",
                "--schema",
                "{d}/schema.pbtxt",
            ],
            expect: &["schema.pbtxt", "'a'", "twice"],
        },
        Case {
            name: "Statistics on a corrupt TFRecord",
            files: vec![("in.tfrecord", {
                let t = int_examples_tfrecord(3);
                t[..t.len() - 5].to_vec()
            })],
            args: &["stats", "-i", "{d}/in.tfrecord", "-o", "{o}"],
            expect: &["in.tfrecord", "record 2", "truncated"],
        },
        Case {
            name: "Statistics file that is not a statistics proto",
            files: vec![
                ("FeatureStats.pb", b"\xff\xff\xff\xff not a proto".to_vec()),
                (
                    "schema.pbtxt",
                    b"feature { name: \"a\" type: INT }\n".to_vec(),
                ),
            ],
            args: &[
                "validate",
                "--stats",
                "{d}/FeatureStats.pb",
                "--schema",
                "{d}/schema.pbtxt",
                "-o",
                "{o}",
            ],
            expect: &["FeatureStats.pb", "DatasetFeatureStatisticsList"],
        },
        Case {
            name: "Schema inference from a truncated statistics file",
            files: vec![("FeatureStats.pb", {
                let b =
                    std::fs::read(testdata().join("statistics_gen/Split-train/FeatureStats.pb"))
                        .unwrap();
                b[..b.len() / 2].to_vec()
            })],
            args: &[
                "schema",
                "--stats",
                "{d}/FeatureStats.pb",
                "-o",
                "{o}/schema.pbtxt",
            ],
            expect: &["FeatureStats.pb"],
        },
        Case {
            name: "Report with anomalies text that does not parse",
            files: vec![(
                "anomalies.pbtxt",
                b"anomaly_info { key: \"a\" value { \n".to_vec(),
            )],
            args: &[
                "report",
                "--stats",
                "{tfx}/statistics_gen/Split-train",
                "--anomalies",
                "{d}/anomalies.pbtxt",
                "--output",
                "{o}/report.html",
            ],
            expect: &["anomalies.pbtxt", "line"],
        },
        Case {
            name: "Transform SQL with a syntax error",
            files: vec![(
                "t.sql",
                b"SELECT scale_to_z_score(fare AS x FROM input".to_vec(),
            )],
            args: &[
                "transform",
                "--sql",
                "{d}/t.sql",
                "-i",
                "{tfx}/csv_example_gen",
                "-o",
                "{o}",
            ],
            expect: &["t.sql", "Line: 1, Column: 30"],
        },
        Case {
            name: "Transform SQL naming a column the data lacks",
            files: vec![(
                "t.sql",
                b"SELECT scale_to_z_score(no_such_column) AS x FROM input".to_vec(),
            )],
            args: &[
                "transform",
                "--sql",
                "{d}/t.sql",
                "-i",
                "{tfx}/csv_example_gen",
                "-o",
                "{o}",
            ],
            expect: &["no_such_column"],
        },
        Case {
            name: "Pipeline config with an unknown key",
            files: vec![(
                "p.toml",
                b"name = \"x\"\nroot = \"r\"\ncolour = 3\n[input]\npattern = \"d/*.csv\"\n"
                    .to_vec(),
            )],
            args: &["run", "{d}/p.toml"],
            expect: &["p.toml", "colour"],
        },
        Case {
            name: "Pipeline config that is not TOML",
            files: vec![("p.toml", b"name = \"x\"\nroot = \n".to_vec())],
            args: &["run", "{d}/p.toml"],
            expect: &["p.toml", "line 2"],
        },
        Case {
            name: "Pipeline config without an input pattern",
            files: vec![("p.toml", b"name = \"x\"\nroot = \"r\"\n[input]\n".to_vec())],
            args: &["run", "{d}/p.toml"],
            expect: &["p.toml", "pattern"],
        },
        Case {
            name: "Serve root that is a file",
            files: vec![("file.txt", b"x".to_vec())],
            args: &["serve", "--root", "{d}/file.txt", "--bind", "127.0.0.1:0"],
            expect: &["file.txt", "not a folder"],
        },
        Case {
            name: "Output folder that holds something else",
            files: vec![
                ("in.csv", CSV.to_vec()),
                ("out/precious.txt", b"keep".to_vec()),
            ],
            args: &["examplegen", "-i", "{d}/in.csv", "-o", "{d}/out"],
            expect: &["out", "not"],
        },
    ];
    cases.push(Case {
        name: "Transform artifact with a tampered vocabulary asset",
        files: vec![],
        args: &[
            "transform",
            "apply",
            "--artifact",
            "{d}/artifact",
            "-i",
            "{tfx}/csv_example_gen",
            "-o",
            "{o}",
        ],
        expect: &[
            "assets/vocab_compute_and_apply_vocabulary_vocabulary",
            "differs from transform.json",
        ],
    });
    cases
}

fn expand(arg: &str, dir: &Path, out: &Path) -> OsString {
    arg.replace("{d}", &dir.to_string_lossy())
        .replace("{o}", &out.to_string_lossy())
        .replace("{tfx}", &testdata().to_string_lossy())
        .into()
}

/// Every file under `dir`, relative.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// A frozen artifact (made once) whose first vocabulary file is edited.
fn tampered_artifact(dir: &Path) -> PathBuf {
    let made = dir.join("made");
    let sql = dir.join("t.sql");
    std::fs::write(
        &sql,
        "SELECT compute_and_apply_vocabulary(coalesce(company, ''), 100, 1, 2) AS company_xf FROM input",
    )
    .unwrap();
    let out = weir()
        .args(["transform", "--sql"])
        .arg(&sql)
        .arg("-i")
        .arg(testdata().join("csv_example_gen"))
        .arg("-o")
        .arg(&made)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let artifact = dir.join("artifact");
    std::fs::rename(made.join("transform_graph"), &artifact).unwrap();
    let assets = artifact.join("assets");
    let vocab = std::fs::read_dir(&assets)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut text = std::fs::read_to_string(&vocab).unwrap();
    text.insert_str(0, "Tampered Cab Co\n");
    std::fs::write(&vocab, text).unwrap();
    artifact
}

#[test]
fn every_bad_input_fails_clearly_and_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut table = vec![
        "| case | command | message |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut failures = Vec::new();
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (i, case) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &case.files {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        if case.name.contains("tampered") {
            tampered_artifact(&dir);
        }
        let before = tree(&dir);
        let out = dir.join("out-new");
        let args: Vec<OsString> = case.args.iter().map(|a| expand(a, &dir, &out)).collect();
        let res = weir().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&res.stderr).into_owned();
        // The whole message on one line (TOML's errors span several).
        let message = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.chars().all(|c| c == '|' || c == '^' || c == ' '))
            .collect::<Vec<_>>()
            .join(" ");
        let mut problems = Vec::new();
        if res.status.code() != Some(1) {
            problems.push(format!("exit code {:?}", res.status.code()));
        }
        for want in case.expect {
            if !stderr.contains(want) {
                problems.push(format!("no '{want}'"));
            }
        }
        if stderr.contains("panicked") {
            problems.push("panicked".into());
        }
        // Nothing committed: no new output, and the case's own files as
        // they were (an existing output folder untouched).
        let after = tree(&dir);
        if out.exists() {
            problems.push(format!("output written: {:?}", tree(&out)));
        }
        let added: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
        if !added.is_empty() {
            problems.push(format!("left behind: {added:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {} — {message}",
                case.name,
                problems.join(", ")
            ));
        }
        let shown = message
            .replace(&dir.to_string_lossy().into_owned(), "DIR")
            .replace(&testdata().to_string_lossy().into_owned(), "TFX")
            .replace('|', "\\|");
        table.push(format!(
            "| {} | `weir {}` | {} |",
            case.name,
            case.args[0],
            shown.chars().take(320).collect::<String>()
        ));
    }
    if let Ok(path) = std::env::var("WEIR_CORPUS_TABLE") {
        std::fs::write(path, table.join("\n") + "\n").unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
