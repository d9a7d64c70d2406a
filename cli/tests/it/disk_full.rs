//! A local disk that fills mid-run (issue 27): ExampleGen and transform
//! write to a small tmpfs, mounted by the test when it runs as root (and
//! skipped, saying why, otherwise). The run fails with "No space left on
//! device" naming the file it was writing, its staging folder is removed,
//! and the previous output is still there, byte for byte, and readable.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::weir;
use crate::object_store::local_tree;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").is_err() || !is_root(),
                "mount -t tmpfs failed although the tests run as root under CI=true"
            );
            eprintln!("skipped: cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN), so the disk-full tests did not run");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn sample(path: &Path, rows: u32) {
    let out = weir()
        .args([
            "sample",
            "--rows",
            &rows.to_string(),
            "--seed",
            "3",
            "--output",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
}

fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = weir().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Nothing but the output folder itself is left on the mount.
fn assert_no_staging(mount: &Path) {
    let names: Vec<String> = std::fs::read_dir(mount)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["out".to_string()], "left on the full disk");
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_previous_output() {
    if !is_root() {
        eprintln!(
            "skipped: not root, so no tmpfs can be mounted and the disk-full tests did not run"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("mnt");
    let Some(_fs) = Tmpfs::mount(&mount, "3m") else {
        return;
    };
    let (small, big) = (tmp.path().join("small.csv"), tmp.path().join("big.csv"));
    sample(&small, 2_000);
    sample(&big, 100_000);
    let out = mount.join("out");

    // ExampleGen: a first output fits; a bigger rerun fills the disk.
    let (code, err) = run(&[
        "examplegen".as_ref(),
        "-i".as_ref(),
        small.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let before = local_tree(&out);
    let (code, err) = run(&[
        "examplegen".as_ref(),
        "-i".as_ref(),
        big.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(
        err.contains(&mount.to_string_lossy().into_owned()) && err.contains("data_tfrecord"),
        "the message names the file being written: {err}"
    );
    assert_no_staging(&mount);
    assert_eq!(local_tree(&out), before, "the previous output changed");
    // ... and it is still a readable ExampleGen output.
    let stats = tmp.path().join("stats");
    let (code, err) = run(&[
        "stats".as_ref(),
        "-i".as_ref(),
        out.as_os_str(),
        "--splits-from-input".as_ref(),
        "-o".as_ref(),
        stats.as_os_str(),
        "-q".as_ref(),
    ]);
    assert_eq!(code, Some(0), "{err}");

    // Transform: the big input's ExampleGen output lives off the mount;
    // the transform's output goes onto it.
    let eg = tmp.path().join("eg");
    let (code, err) = run(&[
        "examplegen".as_ref(),
        "-i".as_ref(),
        big.as_os_str(),
        "-o".as_ref(),
        eg.as_os_str(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::remove_dir_all(&out).unwrap();
    let sql = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/taxi_transform.sql");
    let (code, err) = run(&[
        "transform".as_ref(),
        "--sql".as_ref(),
        sql.as_os_str(),
        "-i".as_ref(),
        eg.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(err.contains(&mount.to_string_lossy().into_owned()), "{err}");
    let left: Vec<String> = std::fs::read_dir(&mount)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");
}
