//! What a serve root holds: datasets (folders of `Split-*` folders, as
//! ExampleGen and Transform write them), their splits as lists of blocks,
//! and the reading of one block.
//!
//! Names are paths relative to the root: an ExampleGen output `eg/`, a
//! transform output `tf/` (its `transformed_examples/`), a pipeline's
//! `transform/span=3/version=1`, plus `transform/span=3` (its latest
//! version) and `transform@latest` (the latest span). A root that is itself
//! a dataset is named after its folder.
//!
//! Parquet splits are read in place, block by block (a row range of one row
//! group). TFRecord splits are decoded once into an Arrow IPC file in the
//! cache folder (staged, then renamed), whose record batches are the
//! blocks; the cache file is named by the split's version, so a changed
//! split never reads a stale cache.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use sha2::{Digest, Sha256};
use weir_datasets::example::PayloadFormat;
use weir_datasets::formats::parquet::guard_parquet;
use weir_datasets::formats::{TfRecordOptions, TfRecordSource};
use weir_datasets::sink::manifest::recorded_payload;
use weir_datasets::{DatasetError, InputFile};
use weir_sql::TransformArtifact;

use super::cache::WindowCache;
use crate::error::{EngineError, Result};
use crate::transform::{TRANSFORMED_EXAMPLES, TRANSFORM_GRAPH};

/// The footer key of a cache file's batch row counts.
const BLOCK_ROWS_KEY: &str = "weir.block_rows";

/// How the server lays splits out and where it keeps decoded TFRecord.
#[derive(Debug, Clone)]
pub struct CatalogOptions {
    /// The folder served.
    pub root: PathBuf,
    /// A frozen transform applied to raw ExampleGen splits as they are read.
    pub transform: Option<PathBuf>,
    /// Where decoded TFRecord splits are cached.
    pub cache_dir: PathBuf,
    /// Records per block (the unit of reading and of the block shuffle).
    pub block_rows: u64,
    /// Blocks per shuffle window.
    pub window_blocks: u64,
    /// Bytes of recently read windows shared between streams (0: none).
    pub window_cache_bytes: usize,
    /// The message TFRecord splits hold (default: what each ExampleGen
    /// output's manifest records, else tf.Example).
    pub payload: Option<PayloadFormat>,
}

/// How one block is read.
#[derive(Debug, Clone)]
enum BlockAt {
    /// Rows `skip..skip+rows` of a Parquet row group.
    Parquet {
        file: usize,
        row_group: usize,
        skip: u64,
    },
    /// One record batch of the IPC cache file.
    Ipc { batch: usize },
}

#[derive(Debug, Clone)]
struct Block {
    at: BlockAt,
    rows: u64,
}

/// One split, ready to serve.
pub struct SplitData {
    /// Dataset name.
    pub dataset: String,
    /// Split name.
    pub split: String,
    /// Fingerprint of the split's files (and the applied transform).
    pub version: String,
    /// Schema of the served batches (transformed, all columns).
    pub schema: SchemaRef,
    blocks: Vec<Block>,
    parquet: Vec<(PathBuf, ArrowReaderMetadata)>,
    ipc: Option<PathBuf>,
    transform: Option<Arc<TransformArtifact>>,
}

impl std::fmt::Debug for SplitData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitData")
            .field("dataset", &self.dataset)
            .field("split", &self.split)
            .field("version", &self.version)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl SplitData {
    /// Records in the split.
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| b.rows).sum()
    }

    /// Records of each block, in block order.
    pub fn block_rows(&self) -> Vec<u64> {
        self.blocks.iter().map(|b| b.rows).collect()
    }

    /// Reads block `i` (all columns, transformed when a transform applies).
    pub fn read_block(&self, i: usize) -> Result<RecordBatch> {
        let block = &self.blocks[i];
        let raw = match &block.at {
            BlockAt::Parquet {
                file,
                row_group,
                skip,
            } => {
                let (path, meta) = &self.parquet[*file];
                guard_parquet(path, || {
                    let f = File::open(path).map_err(|e| DatasetError::io(path, e))?;
                    let selection = RowSelection::from(vec![
                        RowSelector::skip(*skip as usize),
                        RowSelector::select(block.rows as usize),
                    ]);
                    let reader =
                        ParquetRecordBatchReaderBuilder::new_with_metadata(f, meta.clone())
                            .with_row_groups(vec![*row_group])
                            .with_row_selection(selection)
                            .with_batch_size(block.rows as usize)
                            .build()
                            .map_err(|e| DatasetError::file(path, e.to_string()))?;
                    let batches = reader
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|e| DatasetError::file(path, e.to_string()))?;
                    concat_batches(meta.schema(), &batches)
                        .map_err(|e| DatasetError::file(path, e.to_string()))
                })?
            }
            BlockAt::Ipc { batch } => {
                let path = self.ipc.as_ref().ok_or_else(|| {
                    EngineError::Internal("IPC block without a cache file".into())
                })?;
                let f = File::open(path).map_err(|e| DatasetError::io(path, e))?;
                let mut reader = FileReader::try_new(f, None)
                    .map_err(|e| DatasetError::file(path, e.to_string()))?;
                reader
                    .set_index(*batch)
                    .map_err(|e| DatasetError::file(path, e.to_string()))?;
                reader
                    .next()
                    .ok_or_else(|| DatasetError::file(path, format!("cache has no batch {batch}")))?
                    .map_err(|e| DatasetError::file(path, e.to_string()))?
            }
        };
        match &self.transform {
            Some(t) => Ok(t.apply(&raw)?),
            None => Ok(raw),
        }
    }
}

/// One split folder, loaded on first use.
struct SplitEntry {
    dir: PathBuf,
    loaded: OnceLock<std::result::Result<Arc<SplitData>, String>>,
}

struct DatasetEntry {
    /// Whether the transform (if any) applies: raw ExampleGen splits only.
    raw: bool,
    splits: BTreeMap<String, Arc<SplitEntry>>,
}

/// The datasets under a root.
pub struct Catalog {
    options: CatalogOptions,
    datasets: BTreeMap<String, DatasetEntry>,
    transform: Option<(Arc<TransformArtifact>, String)>,
    windows: Arc<WindowCache>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("root", &self.options.root)
            .field("datasets", &self.datasets.keys().collect::<Vec<_>>())
            .finish()
    }
}

fn split_dirs(dir: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("Split-")
                .map(|s| (s.to_string(), e.path()))
        })
        .collect();
    out.sort();
    out
}

/// True when a split folder holds data files, not only the per-split
/// outputs of other components (a statistics output's `FeatureStats.pb`,
/// an anomalies output's `anomalies.pbtxt`, reports and manifests).
fn holds_examples(split: &Path) -> bool {
    const NOT_DATA: &[&str] = &[".pb", ".pbtxt", ".json", ".html"];
    data_files(split).is_ok_and(|files| {
        files.iter().any(|f| {
            let name = f.to_string_lossy();
            !NOT_DATA.iter().any(|ext| name.ends_with(ext))
        })
    })
}

fn walk(dir: &Path, rel: &str, depth: usize, found: &mut Vec<(String, PathBuf, bool)>) {
    let splits = split_dirs(dir);
    if !splits.is_empty() {
        if splits.iter().any(|(_, p)| holds_examples(p)) {
            found.push((rel.to_string(), dir.to_path_buf(), true));
        }
        return;
    }
    let transformed = dir.join(TRANSFORMED_EXAMPLES);
    if !split_dirs(&transformed).is_empty() {
        found.push((rel.to_string(), transformed, false));
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut children: Vec<(String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(n, _)| !n.starts_with('.') && !n.starts_with('_') && n != TRANSFORM_GRAPH)
        .collect();
    children.sort();
    for (name, path) in children {
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        walk(&path, &child, depth - 1, found);
    }
}

/// `C/span=N/version=V` as (C, N, V).
fn pipeline_parts(name: &str) -> Option<(&str, u64, u64)> {
    let (rest, version) = name.rsplit_once("/version=")?;
    let (component, span) = rest.rsplit_once("/span=")?;
    Some((component, span.parse().ok()?, version.parse().ok()?))
}

/// Refuses a dataset name that could leave the root.
pub fn check_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.starts_with('/')
        || name.contains("://")
        || name.contains('\\')
        || name.contains('\0')
        || name.split('/').any(|p| p == ".." || p == ".");
    if bad {
        return Err(EngineError::Invalid(format!(
            "dataset name '{name}' is not allowed: names are paths inside the served root (no '..', '.', absolute paths or URLs)"
        )));
    }
    Ok(())
}

fn file_fingerprint(hasher: &mut Sha256, path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| DatasetError::io(path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    hasher.update(format!(
        "{}|{}|{modified}\n",
        name.unwrap_or_default(),
        meta.len()
    ));
    Ok(())
}

fn data_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DatasetError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.starts_with('.') && !n.starts_with('_')
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

impl Catalog {
    /// Finds the datasets under `options.root` (and loads the transform).
    pub fn open(options: CatalogOptions) -> Result<Self> {
        if !options.root.is_dir() {
            return Err(EngineError::Invalid(format!(
                "serve root {} is not a folder",
                options.root.display()
            )));
        }
        let transform = match &options.transform {
            None => None,
            Some(dir) => {
                let dir = if dir.join(TRANSFORM_GRAPH).is_dir() {
                    dir.join(TRANSFORM_GRAPH)
                } else {
                    dir.clone()
                };
                let artifact = TransformArtifact::load(&dir)?;
                let json = dir.join("transform.json");
                let bytes = std::fs::read(&json).map_err(|e| DatasetError::io(&json, e))?;
                let digest = format!("{:x}", Sha256::digest(&bytes));
                Some((Arc::new(artifact), digest))
            }
        };
        let mut found = Vec::new();
        walk(&options.root, "", 4, &mut found);
        let root_name = options
            .root
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "root".to_string());
        let mut datasets = BTreeMap::new();
        for (rel, dir, raw) in &found {
            let name = if rel.is_empty() {
                root_name.clone()
            } else {
                rel.clone()
            };
            let splits = split_dirs(dir)
                .into_iter()
                .map(|(s, d)| {
                    (
                        s,
                        Arc::new(SplitEntry {
                            dir: d,
                            loaded: OnceLock::new(),
                        }),
                    )
                })
                .collect();
            datasets.insert(name, DatasetEntry { raw: *raw, splits });
        }
        // Pipeline roots: C/span=N (latest version) and C@latest (latest span).
        let mut latest: BTreeMap<String, (u64, u64, String)> = BTreeMap::new();
        let mut span_latest: BTreeMap<(String, u64), (u64, String)> = BTreeMap::new();
        for name in datasets.keys() {
            if let Some((c, span, version)) = pipeline_parts(name) {
                let e = span_latest
                    .entry((c.to_string(), span))
                    .or_insert((version, name.clone()));
                if version >= e.0 {
                    *e = (version, name.clone());
                }
                let l = latest
                    .entry(c.to_string())
                    .or_insert((span, version, name.clone()));
                if (span, version) >= (l.0, l.1) {
                    *l = (span, version, name.clone());
                }
            }
        }
        let alias = |datasets: &BTreeMap<String, DatasetEntry>, of: &str| DatasetEntry {
            raw: datasets[of].raw,
            splits: datasets[of].splits.clone(),
        };
        for ((c, span), (_, name)) in &span_latest {
            let entry = alias(&datasets, name);
            datasets.insert(format!("{c}/span={span}"), entry);
        }
        for (c, (_, _, name)) in &latest {
            let entry = alias(&datasets, name);
            datasets.insert(format!("{c}@latest"), entry);
        }
        let windows = Arc::new(WindowCache::new(options.window_cache_bytes));
        Ok(Self {
            options,
            datasets,
            transform,
            windows,
        })
    }

    /// The windows shared by every stream.
    pub fn windows(&self) -> Arc<WindowCache> {
        self.windows.clone()
    }

    /// The layout tokens record: (records per block, blocks per window).
    pub fn layout(&self) -> (u64, u64) {
        (self.options.block_rows, self.options.window_blocks)
    }

    /// Every dataset name with its split names.
    pub fn names(&self) -> Vec<(String, Vec<String>)> {
        self.datasets
            .iter()
            .map(|(n, d)| (n.clone(), d.splits.keys().cloned().collect()))
            .collect()
    }

    /// The split `split` of `dataset`, loaded (and cached) on first use.
    pub fn split(&self, dataset: &str, split: &str) -> Result<Arc<SplitData>> {
        check_name(dataset)?;
        let entry = self.datasets.get(dataset).ok_or_else(|| {
            let known: Vec<&str> = self.datasets.keys().map(|s| s.as_str()).collect();
            EngineError::NotFound(format!(
                "no dataset '{dataset}' under {}; datasets: {}",
                self.options.root.display(),
                known.join(", ")
            ))
        })?;
        let s = entry.splits.get(split).ok_or_else(|| {
            let known: Vec<&str> = entry.splits.keys().map(|s| s.as_str()).collect();
            EngineError::NotFound(format!(
                "dataset '{dataset}' has no split '{split}'; splits: {}",
                known.join(", ")
            ))
        })?;
        let transform = if entry.raw {
            self.transform.clone()
        } else {
            None
        };
        s.loaded
            .get_or_init(|| {
                self.load(dataset, split, &s.dir, transform)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(EngineError::Invalid)
    }

    fn load(
        &self,
        dataset: &str,
        split: &str,
        dir: &Path,
        transform: Option<(Arc<TransformArtifact>, String)>,
    ) -> Result<SplitData> {
        let files = data_files(dir)?;
        let mut hasher = Sha256::new();
        for f in &files {
            file_fingerprint(&mut hasher, f)?;
        }
        if let Some((_, digest)) = &transform {
            hasher.update(format!("transform|{digest}\n"));
        }
        hasher.update(format!("layout|{}\n", self.options.block_rows));
        let payload = self
            .options
            .payload
            .or_else(|| recorded_payload(&dir.to_string_lossy()))
            .unwrap_or_default();
        if payload != PayloadFormat::Example {
            hasher.update(format!("payload|{payload}\n"));
        }
        let version = format!("{:x}", hasher.finalize())[..16].to_string();
        let block_rows = self.options.block_rows.max(1);
        let parquet: Vec<&PathBuf> = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "parquet"))
            .collect();
        let mut data = SplitData {
            dataset: dataset.to_string(),
            split: split.to_string(),
            version: version.clone(),
            schema: Arc::new(datafusion::arrow::datatypes::Schema::empty()),
            blocks: Vec::new(),
            parquet: Vec::new(),
            ipc: None,
            transform: transform.as_ref().map(|(t, _)| t.clone()),
        };
        let raw_schema = if !parquet.is_empty() && parquet.len() == files.len() {
            let mut schema = None;
            for (i, path) in parquet.iter().enumerate() {
                let meta = guard_parquet(path, || {
                    let f = File::open(path).map_err(|e| DatasetError::io(path, e))?;
                    ArrowReaderMetadata::load(&f, ArrowReaderOptions::default())
                        .map_err(|e| DatasetError::file(path, e.to_string()))
                })?;
                if let Some(s) = &schema {
                    if s != meta.schema() {
                        return Err(DatasetError::file(
                            path,
                            "schema differs from the split's first file",
                        )
                        .into());
                    }
                } else {
                    schema = Some(meta.schema().clone());
                }
                for (rg, g) in meta.metadata().row_groups().iter().enumerate() {
                    let rows = g.num_rows() as u64;
                    let mut skip = 0;
                    while skip < rows {
                        let n = block_rows.min(rows - skip);
                        data.blocks.push(Block {
                            at: BlockAt::Parquet {
                                file: i,
                                row_group: rg,
                                skip,
                            },
                            rows: n,
                        });
                        skip += n;
                    }
                }
                data.parquet.push(((*path).clone(), meta));
            }
            schema.unwrap_or_else(|| Arc::new(datafusion::arrow::datatypes::Schema::empty()))
        } else {
            let (path, schema, rows) = self.decode_tfrecord(&files, &version, payload)?;
            data.blocks = rows
                .into_iter()
                .enumerate()
                .map(|(batch, rows)| Block {
                    at: BlockAt::Ipc { batch },
                    rows,
                })
                .collect();
            data.ipc = Some(path);
            schema
        };
        data.schema = match &data.transform {
            Some(t) => t.apply(&RecordBatch::new_empty(raw_schema))?.schema(),
            None => raw_schema,
        };
        Ok(data)
    }

    /// Decodes TFRecord files into the cache (once per version): the IPC
    /// file, its schema and each batch's records.
    fn decode_tfrecord(
        &self,
        files: &[PathBuf],
        version: &str,
        payload: PayloadFormat,
    ) -> Result<(PathBuf, SchemaRef, Vec<u64>)> {
        let cache = &self.options.cache_dir;
        std::fs::create_dir_all(cache).map_err(|e| DatasetError::io(cache, e))?;
        let path = cache.join(format!("{version}.arrow"));
        // A cache file records its batches' row counts in its footer, so
        // reopening it reads no batch; one without them is made again.
        if let Ok(f) = File::open(&path) {
            if let Ok(reader) = FileReader::try_new(f, None) {
                let rows: Option<Vec<u64>> =
                    reader
                        .custom_metadata()
                        .get(BLOCK_ROWS_KEY)
                        .and_then(|v| match v.as_str() {
                            "" => Some(Vec::new()),
                            v => v.split(',').map(|n| n.parse().ok()).collect(),
                        });
                if let Some(rows) = rows.filter(|r| r.len() == reader.num_batches()) {
                    return Ok((path, reader.schema(), rows));
                }
            }
        }
        let inputs = files
            .iter()
            .map(|p| {
                let size = std::fs::metadata(p)
                    .map_err(|e| DatasetError::io(p, e))?
                    .len();
                Ok(InputFile {
                    path: p.clone(),
                    size,
                    etag: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let source = TfRecordSource::open(
            inputs,
            TfRecordOptions {
                batch_size: self.options.block_rows as usize,
                compression: None,
                scalars: true,
                payload,
            },
        )?;
        let schema = source.schema();
        let staged = cache.join(format!(".{version}.{}.arrow.tmp", std::process::id()));
        let out = File::create(&staged).map_err(|e| DatasetError::io(&staged, e))?;
        let mut writer = FileWriter::try_new(out, &schema)
            .map_err(|e| DatasetError::file(&staged, e.to_string()))?;
        let mut rows = Vec::new();
        for b in source.batches() {
            let (_, batch, _) = b?;
            rows.push(batch.num_rows() as u64);
            writer
                .write(&batch)
                .map_err(|e| DatasetError::file(&staged, e.to_string()))?;
        }
        let counts: Vec<String> = rows.iter().map(u64::to_string).collect();
        writer.write_metadata(BLOCK_ROWS_KEY, counts.join(","));
        writer
            .finish()
            .map_err(|e| DatasetError::file(&staged, e.to_string()))?;
        std::fs::rename(&staged, &path).map_err(|e| DatasetError::io(&path, e))?;
        Ok((path, schema, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(root: &Path) -> CatalogOptions {
        CatalogOptions {
            root: root.to_path_buf(),
            transform: None,
            cache_dir: root.join(".cache"),
            block_rows: 8,
            window_blocks: 2,
            window_cache_bytes: 0,
            payload: None,
        }
    }

    #[test]
    fn pipeline_spans_get_span_and_latest_names() {
        let tmp = tempfile::tempdir().unwrap();
        for (span, version) in [(1, 1), (2, 1), (2, 2)] {
            let d = tmp.path().join(format!(
                "transform/span={span}/version={version}/transformed_examples/Split-train"
            ));
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("data_tfrecord-00000-of-00001.gz"), b"").unwrap();
        }
        let eg = tmp.path().join("examplegen/span=1/version=1/Split-eval");
        std::fs::create_dir_all(&eg).unwrap();
        std::fs::write(eg.join("data_tfrecord-00000-of-00001.gz"), b"").unwrap();
        // Per-split outputs that hold no examples are not datasets.
        let stats = tmp.path().join("statistics/span=1/version=1/Split-eval");
        std::fs::create_dir_all(&stats).unwrap();
        std::fs::write(stats.join("FeatureStats.pb"), b"").unwrap();
        let c = Catalog::open(options(tmp.path())).unwrap();
        let names: Vec<String> = c.names().into_iter().map(|(n, _)| n).collect();
        assert!(
            !names.iter().any(|n| n.starts_with("statistics")),
            "{names:?}"
        );
        for n in [
            "transform/span=1/version=1",
            "transform/span=2/version=2",
            "transform/span=1",
            "transform/span=2",
            "transform@latest",
            "examplegen@latest",
        ] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }
        let latest = &c.datasets["transform@latest"].splits["train"].dir;
        assert!(
            latest.to_string_lossy().contains("span=2/version=2"),
            "{latest:?}"
        );
        assert!(!c.datasets["transform@latest"].raw);
        assert!(c.datasets["examplegen@latest"].raw);
    }

    #[test]
    fn a_decoded_tfrecord_split_is_reopened_from_its_cache_without_decoding_again() {
        let tmp = tempfile::tempdir().unwrap();
        let split = tmp.path().join("eg/Split-train");
        std::fs::create_dir_all(&split).unwrap();
        let bytes = weir_datasets::synth::int_examples_tfrecord(20);
        std::fs::write(split.join("data.tfrecord"), bytes).unwrap();
        let first = Catalog::open(options(tmp.path())).unwrap();
        let data = first.split("eg", "train").unwrap();
        assert_eq!((data.rows(), data.block_rows()), (20, vec![8, 8, 4]));
        let cache = tmp.path().join(format!(".cache/{}.arrow", data.version));
        let made = std::fs::metadata(&cache).unwrap().modified().unwrap();
        let again = Catalog::open(options(tmp.path())).unwrap();
        let reopened = again.split("eg", "train").unwrap();
        assert_eq!(reopened.block_rows(), vec![8, 8, 4]);
        assert_eq!(std::fs::metadata(&cache).unwrap().modified().unwrap(), made);
        assert_eq!(reopened.read_block(2).unwrap().num_rows(), 4);
    }

    #[test]
    fn a_sequence_example_split_is_served_by_its_manifests_payload_format() {
        use weir_datasets::proto::{
            Feature, FeatureKind, FeatureList, FeatureLists, Features, Int64List, SequenceExample,
        };
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for i in 0..20 {
            let int = |v: Vec<i64>| Feature {
                kind: Some(FeatureKind::Int64List(Int64List { value: v })),
            };
            let steps = FeatureList {
                feature: (0..i % 3).map(|s| int(vec![i, s])).collect(),
            };
            let ex = SequenceExample {
                context: Some(Features {
                    feature: [("id".to_string(), int(vec![i]))].into_iter().collect(),
                }),
                feature_lists: Some(FeatureLists {
                    feature_list: [("s".to_string(), steps)].into_iter().collect(),
                }),
            };
            weir_datasets::tfrecord::frame_record(&mut bytes, &prost::Message::encode_to_vec(&ex));
        }
        let input = tmp.path().join("in.tfrecord");
        std::fs::write(&input, bytes).unwrap();
        crate::ExampleGenBuilder::new(input.to_string_lossy(), tmp.path().join("eg"))
            .with_payload_format(PayloadFormat::SequenceExample)
            .with_splits("train=1".parse().unwrap())
            .execute()
            .unwrap();
        let catalog = Catalog::open(options(tmp.path())).unwrap();
        let data = catalog.split("eg", "train").unwrap();
        let mut steps = 0;
        for b in 0..data.block_rows().len() {
            let batch = data.read_block(b).unwrap();
            let seq = batch
                .column_by_name(weir_datasets::example::SEQUENCE_COLUMN)
                .unwrap();
            let s = datafusion::arrow::array::AsArray::as_struct(seq)
                .column_by_name("s")
                .unwrap();
            steps += datafusion::arrow::array::AsArray::as_list::<i32>(s)
                .values()
                .len();
        }
        assert_eq!(
            (data.rows(), steps),
            (20, (0..20).map(|i| i % 3).sum::<usize>())
        );
    }

    #[test]
    fn names_cannot_leave_the_root() {
        for bad in ["../x", "a/../../b", "/etc", "s3://b/k", "a\\b", ".", ""] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name("transform/span=2").is_ok());
        assert!(check_name("transform@latest").is_ok());
    }
}
