//! Read-only, confined SQL over a pipeline root for a server (the Flight
//! SQL edge of `weir serve`): the tables `weir sql` has, re-read only when
//! the root's run manifests change, one DataFusion session per query with
//! its own memory pool and a deadline, and statements checked against
//! [`check_read_only`] before they are planned.
//!
//! What a query may do: one `SELECT`, `WITH … SELECT`, or `EXPLAIN` of
//! one, over `runs`, `statistics`, `histograms`, `top_values`,
//! `anomalies` and `drift` (optionally qualified `weir.public.<table>`).
//! Everything else is refused with a message naming the rule: DDL, DML,
//! `COPY`, `CREATE EXTERNAL TABLE`, `SET` and other statements, file or URL
//! tables (`'/etc/passwd'`, `'s3://…'`) and table functions (which is how
//! DataFusion reads files). No scalar function of the session reads files.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use futures::StreamExt;

use super::manifest::read_all;
use super::root::PipelineRoot;
use super::sql::{SqlTables, TABLE_NAMES};
use crate::error::{EngineError, Result};

/// Scalar functions whose output size is set by an argument's value
/// (`repeat('x', 1e10)`, `range(0, 1e10)`): their arrays are allocated
/// outside the memory pool, so a session for a server does not have them.
pub const UNBOUNDED_FUNCTIONS: &[&str] = &[
    "repeat",
    "lpad",
    "rpad",
    "range",
    "generate_series",
    "array_repeat",
];

/// The catalog and schema the tables live in (`weir.public.runs`).
pub const CATALOG: &str = "weir";
/// See [`CATALOG`].
pub const SCHEMA: &str = "public";

/// Limits on every query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlLimits {
    /// Memory a query's operators may hold (sorts, joins, aggregates);
    /// nothing spills to disk.
    pub memory_bytes: usize,
    /// Time from planning to the last batch.
    pub timeout: Duration,
}

impl Default for SqlLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 256 << 20,
            timeout: Duration::from_secs(60),
        }
    }
}

/// The tables of one root, cached while its run manifests stay the same.
struct Cached {
    fingerprint: u32,
    tables: Arc<SqlTables>,
}

/// SQL over a pipeline root, for many clients at once.
pub struct SqlService {
    root: PipelineRoot,
    limits: SqlLimits,
    cache: Arc<Mutex<Option<Cached>>>,
}

impl SqlService {
    /// A service over `root` with `limits` on every query.
    pub fn new(root: PipelineRoot, limits: SqlLimits) -> Self {
        Self {
            root,
            limits,
            cache: Arc::new(Mutex::new(None)),
        }
    }

    /// The limits every query runs under.
    pub fn limits(&self) -> SqlLimits {
        self.limits
    }

    /// The root's tables: re-read when a run manifest was added or
    /// changed since the last query (the manifests are small; the
    /// statistics they point to are what the cache saves reading).
    pub fn tables(&self) -> Result<Arc<SqlTables>> {
        load_tables(&self.root, &self.cache)
    }

    /// [`SqlService::tables`] off the async runtime (reading a root blocks
    /// on its store).
    async fn tables_async(&self) -> Result<Arc<SqlTables>> {
        let (root, cache) = (self.root.clone(), self.cache.clone());
        tokio::task::spawn_blocking(move || load_tables(&root, &cache))
            .await
            .map_err(|e| EngineError::Internal(format!("reading the pipeline root: {e}")))?
    }

    /// A fresh session over the current tables, with this service's
    /// memory limit and no disk to spill to.
    pub async fn session(&self) -> Result<SessionContext> {
        let tables = self.tables_async().await?;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.limits.memory_bytes, 1.0)
            .with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
            .build_arc()?;
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, SCHEMA)
            .with_information_schema(false);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        for name in UNBOUNDED_FUNCTIONS {
            ctx.deregister_udf(name);
        }
        tables.register(&ctx).await?;
        Ok(ctx)
    }

    /// Plans `sql` (checked by [`check_read_only`]) with `params` bound to
    /// its `$1`, `$2`, … placeholders (cast to the types the query gives
    /// them).
    pub async fn plan(&self, sql: &str, params: &[ScalarValue]) -> Result<DataFrame> {
        check_read_only(sql)?;
        let ctx = self.session().await?;
        let df = ctx.sql(sql).await?;
        if params.is_empty() {
            return Ok(df);
        }
        let types = parameter_types(&df)?;
        if types.len() != params.len() {
            return Err(EngineError::Invalid(format!(
                "the query has {} parameters, {} were bound",
                types.len(),
                params.len()
            )));
        }
        let values = params
            .iter()
            .zip(&types)
            .enumerate()
            .map(|(i, (v, t))| match t {
                Some(t) if v.data_type() != *t => v.cast_to(t).map_err(|e| {
                    EngineError::Invalid(format!("parameter ${}: {v:?} is not a {t}: {e}", i + 1))
                }),
                _ => Ok(v.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(df.with_param_values(values)?)
    }

    /// A query's DataFusion error as an engine error: running out of the
    /// memory limit is [`EngineError::OverLimit`], naming the limit.
    pub fn query_error(&self, e: datafusion::error::DataFusionError) -> EngineError {
        if let datafusion::error::DataFusionError::ResourcesExhausted(m) = e.find_root() {
            return EngineError::OverLimit(format!(
                "the query needs more than its {} MB of memory (--sql-memory-mb): {m}",
                self.limits.memory_bytes >> 20
            ));
        }
        EngineError::from(e)
    }

    /// Runs a planned query: its batches, ending with an error when it
    /// runs past the timeout (the query is then cancelled).
    pub async fn execute(&self, df: DataFrame) -> Result<SendableRecordBatchStream> {
        let timeout = self.limits.timeout;
        let schema = df.schema().inner().clone();
        let stream = tokio::time::timeout(timeout, df.execute_stream())
            .await
            .map_err(|_| timed_out(timeout))?
            .map_err(|e| self.query_error(e))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let limited = futures::stream::unfold(Some(stream), move |state| async move {
            let mut stream = state?;
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(item)) => Some((item, Some(stream))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(datafusion::error::DataFusionError::External(Box::new(
                        timed_out(timeout),
                    ))),
                    None,
                )),
            }
        });
        Ok(Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, limited),
        ))
    }
}

/// The tables of `root`, from `cache` while its run manifests are the
/// same.
fn load_tables(root: &PipelineRoot, cache: &Mutex<Option<Cached>>) -> Result<Arc<SqlTables>> {
    let runs = read_all(root)?;
    let fingerprint = runs.iter().fold(0u32, |crc, m| {
        crc32c::crc32c_append(crc, &serde_json::to_vec(m).unwrap_or_default())
    });
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(c) = cache.as_ref().filter(|c| c.fingerprint == fingerprint) {
        return Ok(c.tables.clone());
    }
    let tables = Arc::new(SqlTables::from_runs(root, &runs)?);
    *cache = Some(Cached {
        fingerprint,
        tables: tables.clone(),
    });
    Ok(tables)
}

fn timed_out(timeout: Duration) -> EngineError {
    EngineError::TimedOut(format!(
        "the query ran past its {} s timeout (--sql-timeout) and was cancelled",
        timeout.as_secs_f64()
    ))
}

/// The types of a query's `$1`, `$2`, … placeholders, in order (`None`
/// where the query does not fix one).
pub fn parameter_types(df: &DataFrame) -> Result<Vec<Option<DataType>>> {
    let types = df.logical_plan().get_parameter_types()?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .map(|(id, t)| {
            id.trim_start_matches('$')
                .parse::<usize>()
                .map(|n| (n, t))
                .map_err(|_| {
                    EngineError::Invalid(format!(
                        "parameter {id}: only positional parameters ($1, $2, …) are supported"
                    ))
                })
        })
        .collect::<Result<_>>()?;
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered.into_iter().map(|(_, t)| t).collect())
}

fn refused(rule: &str) -> EngineError {
    EngineError::Forbidden(format!(
        "refused ({rule}): weir's SQL is read-only and answers one SELECT, WITH or EXPLAIN over {}",
        TABLE_NAMES.join(", ")
    ))
}

/// Checks that `sql` is one read-only query over weir's tables (see the
/// module docs); the error names the rule broken.
pub fn check_read_only(sql: &str) -> Result<()> {
    let mut statements = DFParser::parse_sql(sql)
        .map_err(|e| EngineError::Invalid(format!("SQL syntax error: {e}")))?;
    if statements.len() != 1 {
        return Err(refused(&format!(
            "one statement per query, {} given",
            statements.len()
        )));
    }
    let statement = statements.pop_front().expect("one statement");
    check_statement(&statement)?;
    let (tables, _ctes) = resolve_table_references(&statement, true)?;
    for t in tables {
        check_table(&t)?;
    }
    Ok(())
}

fn check_statement(s: &DfStatement) -> Result<()> {
    match s {
        DfStatement::Statement(s) => match s.as_ref() {
            SqlStatement::Query(_) => Ok(()),
            SqlStatement::Explain { statement, .. } => match statement.as_ref() {
                SqlStatement::Query(_) => Ok(()),
                other => Err(refused(&format!("EXPLAIN of {}", kind(other)))),
            },
            other => Err(refused(kind(other))),
        },
        DfStatement::Explain(e) => check_statement(&e.statement),
        DfStatement::CreateExternalTable(_) => Err(refused("DDL: CREATE EXTERNAL TABLE")),
        DfStatement::CopyTo(_) => Err(refused("COPY")),
        DfStatement::Reset(_) => Err(refused("RESET")),
    }
}

/// The rule a non-query statement breaks.
fn kind(s: &SqlStatement) -> &'static str {
    use SqlStatement as S;
    match s {
        S::Insert(_) => "DML: INSERT",
        S::Update { .. } => "DML: UPDATE",
        S::Delete(_) => "DML: DELETE",
        S::Merge { .. } => "DML: MERGE",
        S::Truncate { .. } => "DML: TRUNCATE",
        S::Copy { .. } | S::CopyIntoSnowflake { .. } => "COPY",
        S::CreateTable(_) => "DDL: CREATE TABLE",
        S::CreateView { .. } => "DDL: CREATE VIEW",
        S::CreateSchema { .. } | S::CreateDatabase { .. } => "DDL: CREATE SCHEMA",
        S::CreateFunction(_) => "DDL: CREATE FUNCTION",
        S::CreateIndex(_) => "DDL: CREATE INDEX",
        S::Drop { .. } | S::DropFunction { .. } => "DDL: DROP",
        S::AlterTable { .. } => "DDL: ALTER",
        S::Prepare { .. } | S::Execute { .. } | S::Deallocate { .. } => {
            "PREPARE/EXECUTE statements (use Flight SQL prepared statements)"
        }
        S::Set(_) => "SET",
        S::ShowTables { .. } | S::ShowColumns { .. } | S::ShowVariable { .. } => {
            "SHOW (use the Flight SQL metadata calls)"
        }
        _ => "a statement that is not a query",
    }
}

fn check_table(t: &TableReference) -> Result<()> {
    let qualified_ok = match t {
        TableReference::Bare { .. } => true,
        TableReference::Partial { schema, .. } => schema.as_ref() == SCHEMA,
        TableReference::Full {
            catalog, schema, ..
        } => catalog.as_ref() == CATALOG && schema.as_ref() == SCHEMA,
    };
    let name = t.table();
    if qualified_ok && TABLE_NAMES.contains(&name) {
        return Ok(());
    }
    let looks_like_file = name.contains('/') || name.contains(':') || name.contains('.');
    Err(refused(&if looks_like_file {
        format!("file and URL tables: '{t}' is not one of weir's tables")
    } else {
        format!("unknown table or table function '{t}'")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(sql: &str) -> String {
        match check_read_only(sql) {
            Err(EngineError::Forbidden(m)) => m,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn queries_over_weir_tables_pass() {
        for sql in [
            "SELECT * FROM runs",
            "select span, mean from statistics where feature = 'fare'",
            "WITH s AS (SELECT * FROM drift) SELECT count(*) FROM s JOIN runs USING (span)",
            "EXPLAIN SELECT * FROM histograms",
            "SELECT * FROM weir.public.top_values",
            "SELECT * FROM anomalies WHERE span = $1",
        ] {
            check_read_only(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    #[test]
    fn every_other_statement_names_its_rule() {
        for (sql, rule) in [
            ("CREATE TABLE t (a INT)", "DDL: CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "DDL: CREATE VIEW"),
            ("DROP TABLE runs", "DDL: DROP"),
            ("INSERT INTO runs VALUES (1)", "DML: INSERT"),
            ("DELETE FROM runs", "DML: DELETE"),
            ("UPDATE runs SET span = 1", "DML: UPDATE"),
            ("COPY runs TO '/tmp/x.csv'", "COPY"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "CREATE EXTERNAL TABLE",
            ),
            ("SET datafusion.execution.batch_size = 1", "SET"),
            ("SELECT * FROM '/etc/passwd'", "file and URL tables"),
            (
                "SELECT * FROM 's3://bucket/x.parquet'",
                "file and URL tables",
            ),
            (
                "SELECT * FROM read_csv('/etc/passwd')",
                "unknown table or table function",
            ),
            ("SELECT * FROM other.public.runs", "unknown table"),
            ("SELECT 1; SELECT 2", "one statement per query"),
            ("EXPLAIN DROP TABLE runs", "DDL: DROP"),
        ] {
            let m = refusal(sql);
            assert!(m.contains(rule), "{sql}: {m}");
        }
    }
}
