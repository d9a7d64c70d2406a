//! The Arrow Flight edge of `weir serve`: typed commands and tickets in,
//! Flight messages out; the logic is `weir_engine::serve`'s.
//!
//! - `ListFlights`: every dataset and split with schema and record count.
//! - `GetFlightInfo(cmd)`: cmd is an [`EpochRequest`] as JSON; one endpoint
//!   per rank, total records; held-back records in the info's
//!   `app_metadata`.
//! - `DoGet(ticket)`: that rank's batches, each with the token that resumes
//!   after it as `app_metadata`.
//! - Nothing writes: `DoPut`, `DoExchange` and actions are refused.
//! - Served over a pipeline root, Flight SQL messages (commands, tickets,
//!   `DoPut` of parameters, the prepared-statement actions) go to
//!   [`WeirFlightSql`].

use std::sync::Arc;

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaAsIpc, SchemaResult, Ticket,
};
use datafusion::arrow::ipc::writer::{
    DictionaryTracker, IpcDataGenerator, IpcWriteContext, IpcWriteOptions,
};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::{mpsc, Semaphore};
use tonic::{Request, Response, Status, Streaming};
use weir_engine::serve::{open_stream, plan_epoch, Catalog, EpochPlan, EpochRequest, RankStream};
use weir_engine::EngineError;

use super::flight_sql::{is_flight_sql, WeirFlightSql};

/// Messages buffered per stream ahead of the network: with gRPC's flow
/// control this bounds a stream's memory to a few batches and a window.
const AHEAD: usize = 2;

/// The Flight service over a catalog.
pub struct WeirFlight {
    catalog: Arc<Catalog>,
    streams: Arc<Semaphore>,
    max_streams: usize,
    sql: Option<Arc<WeirFlightSql>>,
}

impl WeirFlight {
    /// A service over `catalog` with at most `max_streams` `DoGet`s at once.
    pub fn new(catalog: Arc<Catalog>, max_streams: usize) -> Self {
        Self {
            catalog,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
            sql: None,
        }
    }

    /// Also answers Flight SQL with `sql`.
    pub fn with_sql(mut self, sql: WeirFlightSql) -> Self {
        self.sql = Some(Arc::new(sql));
        self
    }

    /// The Flight SQL service when `bytes` is a Flight SQL message and the
    /// server answers SQL.
    fn sql_for(&self, bytes: &[u8]) -> Option<&WeirFlightSql> {
        self.sql.as_deref().filter(|_| is_flight_sql(bytes))
    }
}

impl WeirFlight {
    /// Plans the epoch a descriptor's JSON command asks for (off the
    /// runtime: a first request may decode a TFRecord split).
    async fn plan(&self, descriptor: &FlightDescriptor) -> Result<EpochPlan, Status> {
        let epoch = EpochRequest::parse(&descriptor.cmd).map_err(status)?;
        let catalog = self.catalog.clone();
        tokio::task::spawn_blocking(move || plan_epoch(&catalog, &epoch))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)
    }
}

/// An engine error as a gRPC status with its message: the one mapping of
/// the server (Flight SQL's differs only in what it does with the rest).
pub fn status(e: EngineError) -> Status {
    match e {
        EngineError::NotFound(m) => Status::not_found(m),
        EngineError::Invalid(m) => Status::invalid_argument(m),
        EngineError::Stale(m) => Status::failed_precondition(m),
        EngineError::Forbidden(m) => Status::permission_denied(m),
        EngineError::OverLimit(m) => Status::resource_exhausted(m),
        EngineError::TimedOut(m) => Status::deadline_exceeded(m),
        other => Status::internal(other.to_string()),
    }
}

fn flight_info(
    schema: &datafusion::arrow::datatypes::Schema,
    descriptor: FlightDescriptor,
    total: u64,
) -> Result<FlightInfo, Status> {
    Ok(FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_descriptor(descriptor)
        .with_total_records(total as i64))
}

/// Encodes a rank's stream as Flight messages on a blocking thread, a few
/// batches ahead; stops when the client goes away (the receiver drops).
fn spawn_encoder(
    stream: RankStream,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> mpsc::Receiver<Result<FlightData, Status>> {
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let options = IpcWriteOptions::default();
        let schema = stream.schema();
        let first: FlightData = SchemaAsIpc::new(&schema, &options).into();
        if tx.blocking_send(Ok(first)).is_err() {
            return;
        }
        let generator = IpcDataGenerator::default();
        let mut tracker = DictionaryTracker::new(false);
        let mut context = IpcWriteContext::default();
        for item in stream {
            let messages = item.map_err(status).and_then(|(batch, token)| {
                let (dictionaries, data) = generator
                    .encode(&batch, &mut tracker, &options, &mut context)
                    .map_err(|e| Status::internal(e.to_string()))?;
                let mut out: Vec<FlightData> =
                    dictionaries.into_iter().map(FlightData::from).collect();
                out.push(FlightData::from(data).with_app_metadata(token.encode()));
                Ok(out)
            });
            match messages {
                Ok(messages) => {
                    for m in messages {
                        if tx.blocking_send(Ok(m)).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// The handshake's one reply: authentication is the bearer token checked
/// on every call (by the interceptor), so the handshake only confirms it.
pub(super) fn handshake_reply() -> Response<BoxStream<'static, Result<HandshakeResponse, Status>>> {
    let reply = HandshakeResponse {
        protocol_version: 0,
        payload: bytes::Bytes::from_static(b"weir"),
    };
    Response::new(futures::stream::iter([Ok(reply)]).boxed())
}

fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> BoxStream<'static, T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }).boxed()
}

#[tonic::async_trait]
impl FlightService for WeirFlight {
    type HandshakeStream = BoxStream<'static, Result<HandshakeResponse, Status>>;
    type ListFlightsStream = BoxStream<'static, Result<FlightInfo, Status>>;
    type DoGetStream = BoxStream<'static, Result<FlightData, Status>>;
    type DoPutStream = BoxStream<'static, Result<PutResult, Status>>;
    type DoActionStream = BoxStream<'static, Result<arrow_flight::Result, Status>>;
    type ListActionsStream = BoxStream<'static, Result<ActionType, Status>>;
    type DoExchangeStream = BoxStream<'static, Result<FlightData, Status>>;

    /// Authentication is the bearer token checked on every call (by the
    /// interceptor); the handshake only confirms it.
    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Ok(handshake_reply())
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        let catalog = self.catalog.clone();
        let infos = tokio::task::spawn_blocking(move || {
            let mut infos = Vec::new();
            for (dataset, splits) in catalog.names() {
                for split in splits {
                    // One unreadable split does not hide the others: it is
                    // logged here and reported in full when requested.
                    let data = match catalog.split(&dataset, &split) {
                        Ok(d) => d,
                        Err(e) => {
                            tracing::warn!("{dataset}/{split} is not listed: {e}");
                            continue;
                        }
                    };
                    let path = vec![dataset.clone(), split.clone()];
                    let info =
                        flight_info(&data.schema, FlightDescriptor::new_path(path), data.rows())?
                            .with_app_metadata(data.version.clone().into_bytes());
                    infos.push(Ok(info));
                }
            }
            Ok::<_, Status>(infos)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))??;
        Ok(Response::new(futures::stream::iter(infos).boxed()))
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        if let Some(sql) = self.sql_for(&request.get_ref().cmd) {
            return sql.get_flight_info(request).await;
        }
        let descriptor = request.into_inner();
        let plan = self.plan(&descriptor).await?;
        let mut info = flight_info(&plan.schema, descriptor.clone(), plan.total_records)?;
        for (token, batches, rows) in &plan.ranks {
            let meta = serde_json::json!({"rank": token.rank, "batches": batches, "records": rows});
            info = info.with_endpoint(
                FlightEndpoint::new()
                    .with_ticket(Ticket::new(token.encode()))
                    .with_app_metadata(meta.to_string().into_bytes()),
            );
        }
        let meta = serde_json::json!({
            "total_records": plan.total_records,
            "delivered": plan.delivered,
            "held_back": plan.held_back,
        });
        Ok(Response::new(
            info.with_app_metadata(meta.to_string().into_bytes()),
        ))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented(
            "weir serve answers GetFlightInfo at once; PollFlightInfo is not needed",
        ))
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        if self.sql_for(&request.get_ref().cmd).is_some() {
            return Err(Status::unimplemented(
                "GetSchema of a Flight SQL command: use GetFlightInfo, whose schema it is",
            ));
        }
        let descriptor = request.into_inner();
        let plan = self.plan(&descriptor).await?;
        let options = IpcWriteOptions::default();
        let result: SchemaResult = SchemaAsIpc::new(&plan.schema, &options)
            .try_into()
            .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(Response::new(result))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        if let Some(sql) = self.sql_for(&request.get_ref().ticket) {
            return sql.do_get(request).await;
        }
        let permit = self.streams.clone().try_acquire_owned().map_err(|_| {
            Status::resource_exhausted(format!(
                "the server already streams to {} clients (--max-streams); retry later",
                self.max_streams
            ))
        })?;
        let ticket = request.into_inner().ticket;
        let catalog = self.catalog.clone();
        let stream = tokio::task::spawn_blocking(move || open_stream(&catalog, &ticket))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(status)?;
        Ok(Response::new(receiver_stream(spawn_encoder(
            stream, permit,
        ))))
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        // Flight SQL binds parameters by DoPut (and refuses its updates).
        if let Some(sql) = &self.sql {
            return sql.do_put(request).await;
        }
        Err(Status::permission_denied(
            "weir serve is read-only: DoPut is refused",
        ))
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        if let Some(sql) = &self.sql {
            return sql.do_action(request).await;
        }
        Err(Status::permission_denied(format!(
            "weir serve has no actions: '{}' is refused",
            request.into_inner().r#type
        )))
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        if let Some(sql) = &self.sql {
            return sql.list_actions(request).await;
        }
        Ok(Response::new(futures::stream::empty().boxed()))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::permission_denied(
            "weir serve is read-only: DoExchange is refused",
        ))
    }
}
