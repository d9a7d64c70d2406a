//! Routes each encoded example to its split and shard and feeds the shard
//! writers. The shard of an example is [`shard_of`] its place in the input
//! (file, row), and each shard receives its examples in input order, so
//! output is deterministic and the same as a cluster's (see `distributed`).

use std::path::PathBuf;

use datafusion::arrow::array::{BinaryArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use weir_datasets::formats::SourceBatch;
use weir_datasets::sink::{shard_name, WrittenFile};
use weir_datasets::split::SplitSpec;
use weir_datasets::{Compression, DatasetError, SplitConfig};

use super::OutputFormat;
use crate::error::{EngineError, Result};
use crate::stats::{HistogramMode, SplitStatsCollector, StatsOptions};
use weir_datasets::route::{shard_of, ExampleRouter};
use weir_datasets::sink::{FramedBuffer, RowChunker, ShardInput, ShardWorker};

/// Everything the splitter needs to know about the output.
pub struct SplitPlan {
    pub root: PathBuf,
    pub specs: Vec<SplitSpec>,
    pub shards: Vec<usize>,
    pub output_format: OutputFormat,
    pub compression: Compression,
    pub compression_level: u32,
    pub partition_feature: Option<String>,
    /// Hash splitting; `None` when splits come from input folders.
    pub hash: Option<SplitConfig>,
    /// Split of each input file (used without hashing).
    pub file_split: Vec<usize>,
    pub files: Vec<PathBuf>,
}

impl SplitPlan {
    /// The relative path of shard `shard` of split `split`.
    pub fn shard_path(&self, split: usize, shard: usize) -> String {
        let n = self.shards[split];
        let name = &self.specs[split].name;
        match self.output_format {
            OutputFormat::Tfrecord => format!(
                "Split-{name}/{}",
                shard_name("data_tfrecord", shard, n, self.compression.suffix())
            ),
            OutputFormat::Parquet => {
                format!("Split-{name}/{}", shard_name("data", shard, n, ".parquet"))
            }
        }
    }
}

/// Whether and how ExampleGen computes statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatsMode {
    /// No statistics.
    #[default]
    Off,
    /// Exact uniques and top values.
    Exact,
    /// Sketched uniques and top values (bounded memory).
    Approx,
}

impl StatsMode {
    /// The statistics options of this mode with `histograms`; `None` when
    /// off.
    pub fn options(self, histograms: HistogramMode) -> Option<StatsOptions> {
        (self != StatsMode::Off).then_some(StatsOptions {
            approx: self == StatsMode::Approx,
            histograms,
        })
    }

    /// The mode of a `--stats` / `--approx` pair of switches: off unless
    /// `compute`, then approximate when `approx`.
    pub fn of(compute: bool, approx: bool) -> Self {
        match (compute, approx) {
            (false, _) => StatsMode::Off,
            (true, false) => StatsMode::Exact,
            (true, true) => StatsMode::Approx,
        }
    }
}

/// Statistics collected on their own thread from the routed rows.
struct StatsWorker {
    tx: Option<std::sync::mpsc::SyncSender<(RecordBatch, Vec<usize>)>>,
    handle: Option<std::thread::JoinHandle<Result<SplitStatsCollector>>>,
}

impl StatsWorker {
    fn spawn(mut collector: SplitStatsCollector) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(RecordBatch, Vec<usize>)>(4);
        let handle = std::thread::spawn(move || {
            for (batch, splits) in rx {
                collector.update(&batch, &splits)?;
            }
            Ok(collector)
        });
        Self {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    fn send(&mut self, batch: RecordBatch, splits: Vec<usize>) -> Result<()> {
        let ok = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send((batch, splits)).is_ok());
        if ok {
            return Ok(());
        }
        self.join().map(|_| ())?;
        Err(EngineError::Internal(
            "statistics worker stopped early".into(),
        ))
    }

    fn join(&mut self) -> Result<SplitStatsCollector> {
        self.tx = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(EngineError::Internal("statistics worker panicked".into())),
            None => Err(EngineError::Internal(
                "statistics worker joined twice".into(),
            )),
        }
    }
}

/// Per split `(examples, files)`, and the statistics when collected.
pub type SplitterOutput = (Vec<(u64, Vec<WrittenFile>)>, Option<SplitStatsCollector>);

/// Assigns examples to splits and shards and writes them.
pub struct Splitter {
    stats: Option<StatsWorker>,
    plan: SplitPlan,
    router: ExampleRouter,
    workers: Vec<Vec<ShardWorker>>,
    framed: Vec<Vec<FramedBuffer>>,
    chunkers: Vec<Vec<RowChunker>>,
    counts: Vec<u64>,
}

impl Splitter {
    /// Starts one writer thread per shard, and a statistics thread when
    /// `with_stats`.
    pub fn new(
        plan: SplitPlan,
        schema: &SchemaRef,
        serialized_input: bool,
        stats: Option<StatsOptions>,
    ) -> Result<Self> {
        let stats = match stats {
            Some(options) => Some(StatsWorker::spawn(SplitStatsCollector::new(
                schema,
                plan.specs.len(),
                options,
            )?)),
            None => None,
        };
        let router = ExampleRouter::new(
            schema,
            serialized_input,
            plan.hash.clone(),
            plan.partition_feature.clone(),
            plan.file_split.clone(),
            plan.files.clone(),
        )?;
        let mut workers = Vec::new();
        for (split, &n) in plan.shards.iter().enumerate() {
            let mut shards = Vec::with_capacity(n);
            for shard in 0..n {
                let relative = plan.shard_path(split, shard);
                let w = match plan.output_format {
                    OutputFormat::Tfrecord => ShardWorker::tfrecord(
                        &plan.root,
                        relative,
                        plan.compression,
                        plan.compression_level,
                    )?,
                    OutputFormat::Parquet => {
                        ShardWorker::parquet(&plan.root, relative, schema.clone())?
                    }
                };
                shards.push(w);
            }
            workers.push(shards);
        }
        let framed = plan
            .shards
            .iter()
            .map(|&n| (0..n).map(|_| FramedBuffer::default()).collect())
            .collect();
        let chunkers = plan
            .shards
            .iter()
            .map(|&n| (0..n).map(|_| RowChunker::new(schema.clone())).collect())
            .collect();
        Ok(Self {
            stats,
            counts: vec![0; plan.specs.len()],
            plan,
            router,
            workers,
            framed,
            chunkers,
        })
    }

    /// Routes one batch.
    pub fn push(&mut self, batch: &SourceBatch) -> Result<()> {
        let (encoded, splits) = self.router.route(batch)?;
        if let Some(w) = self.stats.as_mut() {
            w.send(batch.batch.clone(), splits.clone())?;
        }
        match self.plan.output_format {
            OutputFormat::Tfrecord => self.write_framed(batch, &encoded.examples, &splits),
            OutputFormat::Parquet => self.write_rows(batch, &splits),
        }
    }

    fn write_framed(
        &mut self,
        batch: &SourceBatch,
        examples: &BinaryArray,
        splits: &[usize],
    ) -> Result<()> {
        for (r, &s) in splits.iter().enumerate() {
            let shard = shard_of(batch.file, batch.row + r as u64, self.plan.shards[s]);
            self.counts[s] += 1;
            if let Some((bytes, n)) = self.framed[s][shard].push(examples.value(r)) {
                self.workers[s][shard].send(ShardInput::Framed(bytes, n))?;
            }
        }
        Ok(())
    }

    fn write_rows(&mut self, batch: &SourceBatch, splits: &[usize]) -> Result<()> {
        let mut indices: Vec<Vec<Vec<u32>>> = self
            .plan
            .shards
            .iter()
            .map(|&n| vec![Vec::new(); n])
            .collect();
        for (r, &s) in splits.iter().enumerate() {
            let shard = shard_of(batch.file, batch.row + r as u64, self.plan.shards[s]);
            self.counts[s] += 1;
            indices[s][shard].push(r as u32);
        }
        for (s, shards) in indices.into_iter().enumerate() {
            for (shard, idx) in shards.into_iter().enumerate() {
                if idx.is_empty() {
                    continue;
                }
                let take = UInt32Array::from(idx);
                let rows = take_record_batch(&batch.batch, &take).map_err(DatasetError::from)?;
                for chunk in self.chunkers[s][shard].push(rows)? {
                    self.workers[s][shard].send(ShardInput::Rows(chunk))?;
                }
            }
        }
        Ok(())
    }

    /// Flushes buffers, waits for every shard, and gives per split the
    /// example count and files, and the statistics when collected.
    pub fn finish(mut self) -> Result<SplitterOutput> {
        let stats = match self.stats.as_mut() {
            Some(w) => Some(w.join()?),
            None => None,
        };
        for (s, workers) in self.workers.iter_mut().enumerate() {
            for (shard, w) in workers.iter_mut().enumerate() {
                if let Some((bytes, n)) = self.framed[s][shard].finish() {
                    w.send(ShardInput::Framed(bytes, n))?;
                }
                if let Some(rows) = self.chunkers[s][shard].finish()? {
                    w.send(ShardInput::Rows(rows))?;
                }
            }
        }
        let mut out = Vec::new();
        for (s, workers) in self.workers.iter_mut().enumerate() {
            let mut files = Vec::new();
            for w in workers.iter_mut() {
                files.push(w.join()?);
            }
            out.push((self.counts[s], files));
        }
        Ok((out, stats))
    }
}
