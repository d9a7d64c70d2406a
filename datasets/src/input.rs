//! Resolving an input (a file, a directory or a glob) to a sorted list of
//! files, and the input format from file names unless given explicitly.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{DatasetError, Result};

/// An input format weir reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header line (optionally `.gz`).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Apache Avro object container files.
    Avro,
    /// TFRecord files of serialized `tf.train.Example`.
    Tfrecord,
    /// Newline-delimited JSON objects (optionally `.gz`).
    Jsonl,
}

impl Format {
    /// The format implied by a file name, looking through a `.gz`/`.zlib` suffix.
    pub fn from_file_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        let inner = ["gz", "gzip", "zlib", "zz"]
            .iter()
            .find_map(|c| lower.strip_suffix(&format!(".{c}")))
            .unwrap_or(&lower);
        let ext = Path::new(inner)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        match ext {
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            "avro" => Some(Format::Avro),
            "tfrecord" | "tfrecords" | "tfr" => Some(Format::Tfrecord),
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            _ if inner.contains("tfrecord") => Some(Format::Tfrecord),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Avro => "avro",
            Format::Tfrecord => "tfrecord",
            Format::Jsonl => "jsonl",
        })
    }
}

impl FromStr for Format {
    type Err = DatasetError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "parquet" => Ok(Format::Parquet),
            "avro" => Ok(Format::Avro),
            "tfrecord" | "tfrecords" => Ok(Format::Tfrecord),
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            other => Err(DatasetError::Invalid(format!(
                "unknown format '{other}' (expected csv, parquet, avro, tfrecord or jsonl)"
            ))),
        }
    }
}

/// One input file and its size.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InputFile {
    /// Path of the file.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The object store's entity tag (objects only).
    pub etag: Option<String>,
}

/// Hidden and bookkeeping files (`.x`, `_SUCCESS`) are not data.
pub(crate) fn is_data_name(name: &str) -> bool {
    !(name.starts_with('.') || name.starts_with('_'))
}

/// Resolves `spec`, a file, a directory (all data files beneath it) or a
/// glob, into files sorted by path. Errors name the spec.
pub fn resolve_input(spec: &str) -> Result<Vec<InputFile>> {
    if crate::store::is_url(spec) {
        return crate::store::list::resolve_url(spec);
    }
    let has_glob = spec.contains(['*', '?', '[']);
    let mut paths = Vec::new();
    if has_glob {
        let entries = glob::glob(spec)
            .map_err(|e| DatasetError::Invalid(format!("bad input pattern '{spec}': {e}")))?;
        for entry in entries {
            let p = entry.map_err(|e| {
                let p = e.path().to_path_buf();
                DatasetError::io(p, e.into())
            })?;
            collect(&p, &mut paths)?;
        }
        if paths.is_empty() {
            return Err(DatasetError::Invalid(format!(
                "no input files match '{spec}'"
            )));
        }
    } else {
        let p = Path::new(spec);
        let meta = std::fs::metadata(p).map_err(|e| DatasetError::io(p, e))?;
        if meta.is_dir() {
            collect(p, &mut paths)?;
            if paths.is_empty() {
                return Err(DatasetError::file(p, "directory holds no data files"));
            }
        } else {
            paths.push(p.to_path_buf());
        }
    }
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path).map_err(|e| DatasetError::io(&path, e))?;
            // Opening proves readability before any work starts.
            std::fs::File::open(&path).map_err(|e| DatasetError::io(&path, e))?;
            Ok(InputFile {
                size: meta.len(),
                path,
                etag: None,
            })
        })
        .collect()
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(p).map_err(|e| DatasetError::io(p, e))?;
    if !meta.is_dir() {
        out.push(p.to_path_buf());
        return Ok(());
    }
    let rd = std::fs::read_dir(p).map_err(|e| DatasetError::io(p, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| DatasetError::io(p, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if is_data_name(&name) {
            collect(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// The split folders of `root`: each `Split-<name>/` folder (or, where
/// there is none, each `<name>/` folder) that is not hidden (`.x`, `_x`),
/// as `(name, path)` sorted by path; `root` may be an object-store URL. Errors
/// when `root` is not a directory, holds none, or a name is not a valid
/// split name.
pub fn split_folders(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    // (folder name, location) of every candidate folder, sorted.
    let mut folders: Vec<(String, PathBuf)> = if crate::store::is_url_path(root) {
        crate::store::list::child_folders(&root.to_string_lossy())?
            .into_iter()
            .map(|(name, url)| (name, PathBuf::from(url)))
            .collect()
    } else {
        if !root.is_dir() {
            return Err(DatasetError::file(
                root,
                "splits from input need a directory with one folder per split",
            ));
        }
        let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(root)
            .map_err(|e| DatasetError::io(root, e))?
            .filter_map(|e| e.ok())
            .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
            .filter(|(name, p)| is_data_name(name) && p.is_dir())
            .collect();
        dirs.sort();
        dirs
    };
    // In TFX's layout (Split-<name>/ folders) other folders, such as
    // examplegen --stats' statistics/, are not splits.
    if folders.iter().any(|(n, _)| n.starts_with("Split-")) {
        folders.retain(|(n, _)| n.starts_with("Split-"));
    }
    if folders.is_empty() {
        return Err(DatasetError::file(
            root,
            "holds no split folders (Split-<name>/ or <name>/)",
        ));
    }
    folders
        .into_iter()
        .map(|(dir_name, location)| {
            let name = dir_name
                .strip_prefix("Split-")
                .unwrap_or(&dir_name)
                .to_string();
            crate::split::validate_split_name(&name)?;
            Ok((name, location))
        })
        .collect()
}

/// The format of `files`: `explicit` if given, else from their names, which
/// must agree.
pub fn detect_format(files: &[InputFile], explicit: Option<Format>) -> Result<Format> {
    if let Some(f) = explicit {
        return Ok(f);
    }
    let mut found: Option<(Format, &Path)> = None;
    for f in files {
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let Some(fmt) = Format::from_file_name(&name) else {
            return Err(DatasetError::file(
                &f.path,
                "cannot tell the format from the file name; pass --format",
            ));
        };
        match found {
            None => found = Some((fmt, &f.path)),
            Some((g, other)) if g != fmt => {
                return Err(DatasetError::Invalid(format!(
                "input mixes formats: {} is {g} but {} is {fmt}; pass --format or narrow the input",
                other.display(),
                f.path.display()
            )))
            }
            _ => {}
        }
    }
    found
        .map(|(f, _)| f)
        .ok_or_else(|| DatasetError::Invalid("no input files".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_names() {
        assert_eq!(Format::from_file_name("a.csv"), Some(Format::Csv));
        assert_eq!(Format::from_file_name("a.csv.gz"), Some(Format::Csv));
        assert_eq!(
            Format::from_file_name("data_tfrecord-00000-of-00012.gz"),
            Some(Format::Tfrecord)
        );
        assert_eq!(
            Format::from_file_name("x.tfrecord.gz"),
            Some(Format::Tfrecord)
        );
        assert_eq!(Format::from_file_name("x.PARQUET"), Some(Format::Parquet));
        assert_eq!(Format::from_file_name("x.avro"), Some(Format::Avro));
        assert_eq!(Format::from_file_name("x.jsonl"), Some(Format::Jsonl));
        assert_eq!(Format::from_file_name("x.bin"), None);
    }
}
