//! The Flight SQL edge of `weir serve` over a pipeline root: statements,
//! prepared statements with parameters, and the metadata calls, answered
//! by `weir_engine::pipeline::sql_service` (read-only, confined, memory-
//! and time-limited). Requests reach it through `WeirFlight`, which sends
//! every message typed `arrow.flight.protocol.sql.*` here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionBeginSavepointRequest, ActionBeginSavepointResult, ActionBeginTransactionRequest,
    ActionBeginTransactionResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult,
    ActionEndSavepointRequest, ActionEndTransactionRequest, Any, CommandGetCatalogs,
    CommandGetDbSchemas, CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables,
    CommandGetXdbcTypeInfo, CommandPreparedStatementQuery, CommandPreparedStatementUpdate,
    CommandStatementIngest, CommandStatementQuery, CommandStatementUpdate,
    DoPutPreparedStatementResult, Nullable, ProstMessageExt, Searchable, SqlInfo,
    TicketStatementQuery, XdbcDataType,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use tonic::{Request, Response, Status, Streaming};
use weir_engine::pipeline::sql_service::{SqlService, CATALOG, SCHEMA};
use weir_engine::EngineError;

/// Prepared statements kept open at once; the oldest is dropped beyond.
const MAX_PREPARED: usize = 1024;

/// True when `bytes` (a descriptor's command or a ticket) is a Flight SQL
/// message.
pub fn is_flight_sql(bytes: &[u8]) -> bool {
    Any::decode(bytes)
        .map(|a| {
            a.type_url
                .starts_with("type.googleapis.com/arrow.flight.protocol.sql.")
        })
        .unwrap_or(false)
}

/// An engine error as the status a SQL client gets: the server's mapping
/// (`flight::status`), except that a query's other errors (reading the
/// tables, DataFusion's) are reported as the query's, not as internal.
fn status(e: EngineError) -> Status {
    match e {
        EngineError::Dataset(_) | EngineError::Validate(_) => {
            Status::invalid_argument(e.to_string())
        }
        e => super::flight::status(e),
    }
}

fn read_only(what: &str) -> Status {
    Status::permission_denied(format!("weir's Flight SQL is read-only: {what} is refused"))
}

fn schema_bytes(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}

/// One prepared statement: its query and the parameters bound to it.
#[derive(Clone)]
struct Prepared {
    query: String,
    params: Vec<ScalarValue>,
}

/// The Flight SQL service.
pub struct WeirFlightSql {
    sql: Arc<SqlService>,
    prepared: Mutex<HashMap<u64, Prepared>>,
    next_handle: AtomicU64,
    sql_info: SqlInfoData,
    xdbc: XdbcTypeInfoData,
}

impl WeirFlightSql {
    /// A Flight SQL service answering from `sql`.
    pub fn new(sql: Arc<SqlService>) -> anyhow::Result<Self> {
        let mut info = SqlInfoDataBuilder::new();
        info.append(SqlInfo::FlightSqlServerName, "weir");
        info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        info.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        info.append(SqlInfo::FlightSqlServerReadOnly, true);
        info.append(SqlInfo::FlightSqlServerSql, true);
        info.append(SqlInfo::FlightSqlServerSubstrait, false);
        info.append(SqlInfo::FlightSqlServerTransaction, 0i32);
        info.append(SqlInfo::FlightSqlServerCancel, false);
        info.append(
            SqlInfo::FlightSqlServerStatementTimeout,
            sql.limits().timeout.as_millis().min(i32::MAX as u128) as i32,
        );
        info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        info.append(SqlInfo::SqlDdlCatalog, false);
        info.append(SqlInfo::SqlDdlSchema, false);
        info.append(SqlInfo::SqlDdlTable, false);
        let mut xdbc = XdbcTypeInfoDataBuilder::new();
        for (name, t) in [
            ("BOOLEAN", XdbcDataType::XdbcBit),
            ("BIGINT", XdbcDataType::XdbcBigint),
            ("DOUBLE", XdbcDataType::XdbcDouble),
            ("VARCHAR", XdbcDataType::XdbcVarchar),
            ("DATE", XdbcDataType::XdbcDate),
            ("TIMESTAMP", XdbcDataType::XdbcTimestamp),
        ] {
            xdbc.append(XdbcTypeInfo {
                type_name: name.into(),
                data_type: t,
                column_size: None,
                literal_prefix: (t == XdbcDataType::XdbcVarchar).then(|| "'".into()),
                literal_suffix: (t == XdbcDataType::XdbcVarchar).then(|| "'".into()),
                create_params: None,
                nullable: Nullable::NullabilityNullable,
                case_sensitive: t == XdbcDataType::XdbcVarchar,
                searchable: Searchable::Full,
                unsigned_attribute: None,
                fixed_prec_scale: false,
                auto_increment: None,
                local_type_name: Some(name.into()),
                minimum_scale: None,
                maximum_scale: None,
                sql_data_type: t,
                datetime_subcode: None,
                num_prec_radix: None,
                interval_precision: None,
            });
        }
        Ok(Self {
            sql,
            prepared: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
            sql_info: info.build()?,
            xdbc: xdbc.build()?,
        })
    }

    fn prepared(&self, handle: &[u8]) -> Result<(u64, Prepared), Status> {
        let id = std::str::from_utf8(handle)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| Status::invalid_argument("not a prepared statement handle"))?;
        let map = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        let p = map.get(&id).cloned().ok_or_else(|| {
            Status::not_found(format!(
                "prepared statement {id} is not open (closed, or dropped after {MAX_PREPARED} newer ones)"
            ))
        })?;
        Ok((id, p))
    }

    /// Plans a query and returns its result schema.
    async fn schema_of(&self, query: &str, params: &[ScalarValue]) -> Result<SchemaRef, Status> {
        let df = self.sql.plan(query, params).await.map_err(status)?;
        Ok(df.schema().inner().clone())
    }

    /// Plans and runs a query as Flight data.
    async fn run(
        &self,
        query: &str,
        params: &[ScalarValue],
    ) -> Result<Response<BoxStream<'static, Result<arrow_flight::FlightData, Status>>>, Status>
    {
        let df = self.sql.plan(query, params).await.map_err(status)?;
        let schema = df.schema().inner().clone();
        let batches = self.sql.execute(df).await.map_err(status)?;
        let sql = self.sql.clone();
        let batches =
            batches.map_err(move |e| FlightError::Tonic(Box::new(status(sql.query_error(e)))));
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(batches)
            .map_err(Status::from);
        Ok(Response::new(stream.boxed()))
    }

    fn info(
        &self,
        schema: &Schema,
        descriptor: FlightDescriptor,
        ticket: Vec<u8>,
    ) -> Result<Response<FlightInfo>, Status> {
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(ticket)))
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }
}

fn one_batch<E: Into<FlightError>>(
    schema: SchemaRef,
    batch: Result<RecordBatch, E>,
) -> Response<BoxStream<'static, Result<arrow_flight::FlightData, Status>>> {
    let batch = batch.map_err(Into::into);
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async move { batch }))
        .map_err(Status::from);
    Response::new(stream.boxed())
}

#[tonic::async_trait]
impl FlightSqlService for WeirFlightSql {
    type FlightService = WeirFlightSql;

    /// The bearer token is checked on every call; the handshake confirms.
    async fn do_handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<BoxStream<'static, Result<HandshakeResponse, Status>>>, Status> {
        Ok(super::flight::handshake_reply())
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self.schema_of(&query.query, &[]).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        self.info(
            &schema,
            request.into_inner(),
            ticket.as_any().encode_to_vec(),
        )
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let query = String::from_utf8(ticket.statement_handle.to_vec())
            .map_err(|_| Status::invalid_argument("the statement ticket is not UTF-8"))?;
        self.run(&query, &[]).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let df = self.sql.plan(&query.query, &[]).await.map_err(status)?;
        let dataset = df.schema().inner().clone();
        let params = weir_engine::pipeline::sql_service::parameter_types(&df).map_err(status)?;
        let param_schema = Schema::new(
            params
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    Field::new(
                        format!("${}", i + 1),
                        t.clone().unwrap_or(DataType::Utf8),
                        true,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let id = self.next_handle.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() >= MAX_PREPARED {
                if let Some(oldest) = map.keys().min().copied() {
                    map.remove(&oldest);
                }
            }
            map.insert(
                id,
                Prepared {
                    query: query.query,
                    params: Vec::new(),
                },
            );
        }
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: id.to_string().into_bytes().into(),
            dataset_schema: schema_bytes(&dataset)?,
            parameter_schema: schema_bytes(&param_schema)?,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let (id, _) = self.prepared(&query.prepared_statement_handle)?;
        let batches: Vec<RecordBatch> =
            arrow_flight::decode::FlightRecordBatchStream::new_from_flight_data(
                request.into_inner().map_err(FlightError::from),
            )
            .try_collect()
            .await
            .map_err(|e| Status::invalid_argument(format!("reading the bound parameters: {e}")))?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        if rows > 1 {
            return Err(Status::invalid_argument(format!(
                "bind one row of parameters to a query, not {rows}"
            )));
        }
        let params = match batches.iter().find(|b| b.num_rows() == 1) {
            Some(b) => b
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, 0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Status::invalid_argument(e.to_string()))?,
            None => Vec::new(),
        };
        let mut map = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = map.get_mut(&id) {
            p.params = params;
        }
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(query.prepared_statement_handle),
        })
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let (_, p) = self.prepared(&cmd.prepared_statement_handle)?;
        let schema = self.schema_of(&p.query, &p.params).await?;
        self.info(&schema, request.into_inner(), cmd.as_any().encode_to_vec())
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let (_, p) = self.prepared(&cmd.prepared_statement_handle)?;
        self.run(&p.query, &p.params).await
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        if let Ok((id, _)) = self.prepared(&query.prepared_statement_handle) {
            let mut map = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
            map.remove(&id);
        }
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append(CATALOG, SCHEMA);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let ctx = self.sql.session().await.map_err(status)?;
        let mut builder = query.into_builder();
        for name in weir_engine::pipeline::sql::TABLE_NAMES {
            let Ok(table) = ctx.table_provider(*name).await else {
                continue;
            };
            let kind = match table.table_type() {
                datafusion::datasource::TableType::View => "VIEW",
                _ => "TABLE",
            };
            builder
                .append(CATALOG, SCHEMA, name, kind, table.schema().as_ref())
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let mut builder = query.into_builder();
        builder.append("TABLE");
        builder.append("VIEW");
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.sql_info).schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let builder = query.into_builder(&self.sql_info);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder(&self.xdbc).schema();
        self.info(
            &schema,
            request.into_inner(),
            query.as_any().encode_to_vec(),
        )
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let builder = query.into_builder(&self.xdbc);
        Ok(one_batch(builder.schema(), builder.build()))
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("an update statement"))
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("bulk ingestion"))
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only("a prepared update"))
    }

    async fn do_action_begin_transaction(
        &self,
        _query: ActionBeginTransactionRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginTransactionResult, Status> {
        Err(read_only("a transaction"))
    }

    async fn do_action_end_transaction(
        &self,
        _query: ActionEndTransactionRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        Err(read_only("a transaction"))
    }

    async fn do_action_begin_savepoint(
        &self,
        _query: ActionBeginSavepointRequest,
        _request: Request<Action>,
    ) -> Result<ActionBeginSavepointResult, Status> {
        Err(read_only("a savepoint"))
    }

    async fn do_action_end_savepoint(
        &self,
        _query: ActionEndSavepointRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        Err(read_only("a savepoint"))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
