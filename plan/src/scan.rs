//! weir's inputs as a DataFusion table: [`SourceTable`] plans a file scan
//! (`DataSourceExec` over a [`WeirFileSource`]) whose partitions are a
//! fixed split of the input ([`SCAN_PARTITIONS`]): one file group per
//! partition holding one [`SourceUnit`]. Both serialize (see
//! `execution::codec`), so the same plan runs in-process or on a Ballista
//! cluster; Ballista hands each task its file groups, and because the split
//! depends on the input alone (not on the machine's cores or the cluster's
//! shape) the partial aggregates, and so every sketch, are the same bytes
//! in both modes.
//!
//! A scan may map its rows as it reads them ([`crate::map::ScanMap`]):
//! the table's rows are then the map's.
//!
//! Reading runs on a blocking thread; a dataset error crosses into
//! DataFusion as `DataFusionError::External` and is downcast back by the
//! caller ([`crate::PlanError`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan};
use futures::StreamExt;
use object_store::ObjectStore;
use weir_datasets::formats::{Source, SourceSpec};
use weir_datasets::DatasetError;

use crate::map::ScanMap;

/// Parts an input is split into (Parquet by files or row groups, the other
/// formats by files; fewer when it has fewer). Fixed, so results do not
/// depend on where the plan runs.
pub const SCAN_PARTITIONS: usize = 16;

/// An input opened once: the source and its split into parts.
struct Opened {
    source: Source,
    parts: Vec<Source>,
}

/// Opened inputs by (opening id, spec), so the tasks of one job on one
/// executor open (and infer the schema of) an input once. The id names one
/// [`SourceTable::open`], so a later job opens the files afresh even when
/// they kept their names and sizes. Bounded: cleared when full.
static OPENED: LazyLock<Mutex<HashMap<OpenedKey, Arc<Opened>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
/// (opening id, the spec as JSON).
type OpenedKey = (u64, Vec<u8>);
const OPENED_MAX: usize = 32;

/// A fresh opening id, unique across processes in practice (randomly
/// seeded hasher over the time, the process id and a counter).
fn new_open_id() -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut h);
    std::process::id().hash(&mut h);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut h);
    h.finish()
}

/// The input `spec` as opened under `id`, opening it if this process has
/// not yet (or no longer has it cached).
fn opened(id: u64, spec: &SourceSpec) -> Result<Arc<Opened>, DatasetError> {
    let key = (id, spec.to_json());
    if let Some(o) = OPENED.lock().expect("opened sources").get(&key) {
        return Ok(o.clone());
    }
    let source = spec.open()?;
    let parts = source.split(SCAN_PARTITIONS);
    let o = Arc::new(Opened { source, parts });
    let mut map = OPENED.lock().expect("opened sources");
    if map.len() >= OPENED_MAX {
        map.clear();
    }
    map.insert(key, o.clone());
    Ok(o)
}

/// A weir input as a DataFusion table: its rows, or with a map
/// ([`SourceTable::with_map`]) the map's rows.
#[derive(Clone)]
pub struct SourceTable {
    spec: Arc<SourceSpec>,
    id: u64,
    opened: Arc<Opened>,
    map: Option<Arc<dyn ScanMap>>,
}

impl fmt::Debug for SourceTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceTable")
            .field("format", &self.spec.format)
            .field("files", &self.spec.files.len())
            .finish()
    }
}

impl SourceTable {
    /// Opens the input `spec` describes.
    pub fn open(spec: SourceSpec) -> Result<Self, DatasetError> {
        Self::reopen(spec, new_open_id())
    }

    /// The input `spec` describes as opened under `id` (a table decoded
    /// from a plan: the same opening as the table that was encoded).
    pub fn reopen(spec: SourceSpec, id: u64) -> Result<Self, DatasetError> {
        let opened = opened(id, &spec)?;
        Ok(Self {
            spec: Arc::new(spec),
            id,
            opened,
            map: None,
        })
    }

    /// The table of `map`'s rows instead of the input's rows.
    pub fn with_map(mut self, map: Arc<dyn ScanMap>) -> Self {
        self.map = Some(map);
        self
    }

    /// Parts the input is split into (the scan's partitions).
    pub fn parts(&self) -> usize {
        self.opened.parts.len()
    }

    /// The map, if set.
    pub fn map(&self) -> Option<&Arc<dyn ScanMap>> {
        self.map.as_ref()
    }

    /// The input's description.
    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    /// Which opening of the input this table is.
    pub fn open_id(&self) -> u64 {
        self.id
    }

    /// The input as opened.
    pub fn source(&self) -> &Source {
        &self.opened.source
    }
}

#[async_trait]
impl TableProvider for SourceTable {
    fn schema(&self) -> SchemaRef {
        match &self.map {
            Some(m) => m.schema(&self.source().schema()),
            None => self.source().schema(),
        }
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let schema = self.schema();
        let total = self.opened.parts.len();
        let shape = ScanShape {
            open_id: self.id,
            total,
            units: (0..total).collect(),
        };
        let scan = source_scan(self.spec.clone(), schema.clone(), shape, self.map.clone());
        let Some(indices) = projection else {
            return Ok(scan);
        };
        let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = indices
            .iter()
            .map(|&i| {
                let name = schema.field(i).name().clone();
                (
                    Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(ProjectionExec::try_new(exprs, scan)?))
    }
}

/// The unit of the input's split that a scan's `PartitionedFile` stands
/// for: unit `i` is the `i`-th source of `Source::split(SCAN_PARTITIONS)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceUnit(pub usize);

/// Which parts of an input a scan reads: `units[p]` in partition `p`, out
/// of the `total` parts of the opening `open_id`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanShape {
    /// The [`SourceTable`] opening the scan was planned from.
    pub open_id: u64,
    /// Parts of the input.
    pub total: usize,
    /// The part each partition reads.
    pub units: Vec<usize>,
}

/// A scan of `spec` (schema `schema`: the input's, or `map`'s rows of it)
/// reading the units of `shape`, one file group each.
pub fn source_scan(
    spec: Arc<SourceSpec>,
    schema: SchemaRef,
    shape: ScanShape,
    map: Option<Arc<dyn ScanMap>>,
) -> Arc<dyn ExecutionPlan> {
    let groups: Vec<FileGroup> = shape
        .units
        .iter()
        .map(|&u| {
            FileGroup::new(vec![
                PartitionedFile::new(format!("weir-unit-{u}"), 0).with_extension(SourceUnit(u))
            ])
        })
        .collect();
    let source = Arc::new(WeirFileSource {
        spec,
        table_schema: TableSchema::from(schema),
        open_id: shape.open_id,
        total: shape.total,
        map,
        metrics: ExecutionPlanMetricsSet::new(),
    });
    // Order preserved: no work stealing between partitions, so a partition
    // always reads exactly its own units.
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
        .with_file_groups(groups)
        .with_preserve_order(true)
        .build();
    DataSourceExec::from_data_source(config)
}

/// What a weir scan is made of.
pub struct ScanParts {
    /// Its input.
    pub spec: Arc<SourceSpec>,
    /// The rows' schema (the map's, with a map).
    pub schema: SchemaRef,
    /// What it reads.
    pub shape: ScanShape,
    /// The map of its rows, if any.
    pub map: Option<Arc<dyn ScanMap>>,
}

/// A weir scan's parts, if `plan` is one.
pub fn as_source_scan(plan: &dyn ExecutionPlan) -> Option<ScanParts> {
    let exec = plan.downcast_ref::<DataSourceExec>()?;
    let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
    let source = config.file_source().downcast_ref::<WeirFileSource>()?;
    let mut units = Vec::with_capacity(config.file_groups.len());
    for group in &config.file_groups {
        for file in group.files() {
            units.push(file.extensions.get::<SourceUnit>()?.0);
        }
    }
    Some(ScanParts {
        spec: source.spec.clone(),
        schema: source.table_schema.file_schema().clone(),
        shape: ScanShape {
            open_id: source.open_id,
            total: source.total,
            units,
        },
        map: source.map.clone(),
    })
}

/// weir's readers as a DataFusion file source.
#[derive(Clone)]
pub struct WeirFileSource {
    spec: Arc<SourceSpec>,
    table_schema: TableSchema,
    open_id: u64,
    total: usize,
    map: Option<Arc<dyn ScanMap>>,
    metrics: ExecutionPlanMetricsSet,
}

impl FileSource for WeirFileSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> DfResult<Arc<dyn FileOpener>> {
        Ok(Arc::new(SourceUnitOpener {
            spec: self.spec.clone(),
            open_id: self.open_id,
            total: self.total,
            map: self.map.clone(),
        }))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.table_schema
    }

    fn with_batch_size(&self, _batch_size: usize) -> Arc<dyn FileSource> {
        // weir's readers use the spec's batch size.
        Arc::new(self.clone())
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "weir"
    }

    fn fmt_extra(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            ", format={}, files={}, units={}",
            self.spec.format,
            self.spec.files.len(),
            self.total
        )?;
        if let Some(m) = &self.map {
            write!(f, ", map={}", m.kind())?;
        }
        Ok(())
    }

    fn supports_repartitioning(&self) -> bool {
        false
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn repartitioned(
        &self,
        _target_partitions: usize,
        _repartition_file_min_size: usize,
        _output_ordering: Option<LexOrdering>,
        _config: &FileScanConfig,
    ) -> DfResult<Option<FileScanConfig>> {
        Ok(None)
    }
}

/// Opens one [`SourceUnit`] and streams its batches (or, with a map, the
/// map's rows and then its closing rows) from a blocking thread.
struct SourceUnitOpener {
    spec: Arc<SourceSpec>,
    open_id: u64,
    total: usize,
    map: Option<Arc<dyn ScanMap>>,
}

impl SourceUnitOpener {
    fn unit_source(&self, unit: usize) -> Result<(Arc<Opened>, Source), DatasetError> {
        let opened = opened(self.open_id, &self.spec)?;
        let parts = &opened.parts;
        if parts.len() != self.total {
            return Err(DatasetError::Invalid(format!(
                "the input now splits into {} parts, the plan has {} (did the files change while the job ran?)",
                parts.len(),
                self.total
            )));
        }
        let part = parts.get(unit).cloned().ok_or_else(|| {
            DatasetError::Invalid(format!("the plan reads part {unit} of {}", self.total))
        })?;
        Ok((opened, part))
    }
}

impl FileOpener for SourceUnitOpener {
    fn open(&self, file: PartitionedFile) -> DfResult<FileOpenFuture> {
        let unit = file
            .extensions
            .get::<SourceUnit>()
            .ok_or_else(|| {
                DataFusionError::Internal(format!("{} is not a weir source unit", file.path()))
            })?
            .0;
        let (opened, source) = self
            .unit_source(unit)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut mapper = match &self.map {
            Some(map) => {
                let files = self.spec.files.iter().map(|f| f.path.clone()).collect();
                Some(map.mapper(&opened.source, files)?)
            }
            None => None,
        };
        let source = match self.map.as_ref().and_then(|m| m.columns()) {
            Some(columns) => source.with_columns(&columns),
            None => source,
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::task::spawn_blocking(move || {
            let sender = tx.clone();
            let read = std::panic::AssertUnwindSafe(move || {
                for batch in source.batches() {
                    let item = match (batch, mapper.as_mut()) {
                        (Ok(b), Some(m)) => m.map(&b).map_err(DataFusionError::from),
                        (Ok(b), None) => Ok(b.batch),
                        (Err(e), _) => Err(DataFusionError::External(Box::new(e))),
                    };
                    let stop = item.is_err();
                    if sender.blocking_send(item).is_err() || stop {
                        return;
                    }
                }
                if let Some(m) = mapper {
                    match m.finish() {
                        Ok(Some(rows)) => {
                            let _ = sender.blocking_send(Ok(rows));
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let _ = sender.blocking_send(Err(e.into()));
                        }
                    }
                }
            });
            // A panic must not end the stream as if the part were complete.
            if let Err(panic) = std::panic::catch_unwind(read) {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let _ = tx.blocking_send(Err(DataFusionError::Execution(format!(
                    "reading part {unit} of the input panicked: {what}"
                ))));
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(async move { Ok(stream.boxed()) }))
    }
}
