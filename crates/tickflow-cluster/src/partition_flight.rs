//! The executors' Arrow Flight service: Ballista's, except that a shuffle partition fetched with
//! `DoGet` keeps its dictionary columns.
//!
//! A Flight SQL client (ADBC, JDBC) gets a query's result from the executors through the
//! scheduler: the scheduler announces the schema of the job's final stage, and the client's
//! `DoGet` is passed on to the executor holding each partition. Ballista 55's executor encodes
//! that stream with arrow-flight's default, which *hydrates* dictionaries: a hive partition
//! column (`date` of `date=2024-01-02/`, `Dictionary(UInt16, Utf8)` in DataFusion, locally and on
//! the cluster) is announced as a dictionary and sent as plain `Utf8`, so ADBC refuses the result
//! (`endpoint 0 returned inconsistent schema`). Announcing `Utf8` instead would give the client a
//! different type than a local query gives; so the partition is sent as it is stored, with its
//! dictionaries ([`DictionaryHandling::Resend`]), and the client gets the type a local query has.
//!
//! Only `DoGet` of a whole shuffle partition whose schema has a dictionary column is served
//! here; everything else (other partitions, byte ranges, the block transport Ballista's own
//! shuffle reads use, which moves the files' bytes and so keeps dictionaries already) is
//! Ballista's [`BallistaFlightService`], unchanged.

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use ballista_core::error::BallistaError;
use ballista_core::execution_plans::create_shuffle_path;
use ballista_core::execution_plans::range_shuffle::{is_ipc_file, open_ipc_file};
use ballista_core::execution_plans::sort_shuffle::{
    get_index_path, is_sort_shuffle_output, stream_sort_shuffle_partition,
};
use ballista_core::serde::decode_protobuf;
use ballista_core::serde::scheduler::{Action as BallistaAction, ShuffleFileKind, ShuffleLayout};
use ballista_core::utils::{GrpcServerConfig, create_grpc_server};
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::shutdown::Shutdown;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use futures::stream::BoxStream;
use futures::{SinkExt, Stream, StreamExt, TryStreamExt};
use tonic::{Request, Response, Status, Streaming};

type BoxedFlightStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Batches of one shuffle partition, as read from its file.
type Batches = BoxStream<'static, Result<RecordBatch, FlightError>>;

/// The executor's Flight server (Ballista's `override_arrow_flight_service`): Ballista's server
/// settings and message size limits, serving [`PartitionFlightService`].
pub fn flight_server(
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
) -> Arc<ballista_executor::ArrowFlightServerProvider> {
    Arc::new(
        move |work_dir: String,
              address: SocketAddr,
              mut shutdown: Shutdown,
              config: GrpcServerConfig| {
            tokio::spawn(async move {
                tracing::info!("arrow flight server listening on: {address:?}");
                create_grpc_server(&config)
                    .add_service(
                        FlightServiceServer::new(PartitionFlightService::new(work_dir))
                            .max_decoding_message_size(max_decoding_message_size)
                            .max_encoding_message_size(max_encoding_message_size),
                    )
                    .serve_with_shutdown(address, shutdown.recv())
                    .await
                    .map_err(BallistaError::TonicError)
            })
        },
    )
}

/// Ballista's executor Flight service, with dictionary columns kept by `DoGet`.
pub struct PartitionFlightService {
    inner: BallistaFlightService,
    work_dir: String,
}

impl std::fmt::Debug for PartitionFlightService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionFlightService")
            .field("work_dir", &self.work_dir)
            .finish_non_exhaustive()
    }
}

impl PartitionFlightService {
    /// The service over the shuffle files in `work_dir`.
    pub fn new(work_dir: String) -> Self {
        Self {
            inner: BallistaFlightService::new(work_dir.clone()),
            work_dir,
        }
    }
}

/// Whether `data_type` is or holds a dictionary, which hydrating would change.
fn has_dictionary(data_type: &DataType) -> bool {
    match data_type {
        DataType::Dictionary(..) => true,
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => has_dictionary(f.data_type()),
        DataType::Struct(fields) => fields.iter().any(|f| has_dictionary(f.data_type())),
        DataType::Union(fields, _) => fields.iter().any(|(_, f)| has_dictionary(f.data_type())),
        DataType::RunEndEncoded(_, values) => has_dictionary(values.data_type()),
        _ => false,
    }
}

/// The partition a `DoGet` ticket names, opened, when this service serves it: a whole data file
/// whose schema has a dictionary column. `None` leaves the ticket to Ballista's service,
/// including every ticket that is not valid (Ballista's service reports why).
fn dictionary_partition(
    work_dir: &str,
    ticket: &Ticket,
) -> Result<Option<(SchemaRef, Batches)>, Status> {
    let Ok(action) = decode_protobuf(&ticket.ticket) else {
        return Ok(None);
    };
    let (job_id, stage_id, partition_id, file_id, layout) = match action {
        BallistaAction::FetchPartition {
            job_id,
            stage_id,
            partition_id,
            file_id,
            layout,
            file_kind,
            byte_ranges,
            ..
        } => {
            if !byte_ranges.is_empty() || file_kind != ShuffleFileKind::Data {
                return Ok(None);
            }
            (job_id, stage_id, partition_id, file_id, layout)
        }
    };
    let Ok(path) = create_shuffle_path(
        work_dir,
        &job_id,
        stage_id,
        partition_id,
        file_id,
        matches!(layout, ShuffleLayout::Sort),
    ) else {
        return Ok(None);
    };
    if !path.exists() {
        return Ok(None);
    }
    open_partition(&path, partition_id).map_err(|e| {
        Status::internal(format!(
            "cannot read shuffle partition {}: {e}",
            path.display()
        ))
    })
}

/// Opens the shuffle file at `path` (any of Ballista's three formats, told apart as Ballista's
/// own service tells them apart) when its schema has a dictionary column.
fn open_partition(
    path: &Path,
    partition_id: usize,
) -> Result<Option<(SchemaRef, Batches)>, BallistaError> {
    if is_sort_shuffle_output(path) {
        let stream = stream_sort_shuffle_partition(path, &get_index_path(path), partition_id)?;
        let schema = stream.schema();
        if !schema_has_dictionary(&schema) {
            return Ok(None);
        }
        let batches = stream
            .map_err(|e| FlightError::from(ArrowError::from(e)))
            .boxed();
        return Ok(Some((schema, batches)));
    }
    if is_ipc_file(path) {
        let reader = open_ipc_file(path)?;
        let schema = reader.schema();
        if !schema_has_dictionary(&schema) {
            return Ok(None);
        }
        return Ok(Some((schema, read_in_background(reader))));
    }
    let reader = StreamReader::try_new(BufReader::new(File::open(path)?), None)?;
    let schema = reader.schema();
    if !schema_has_dictionary(&schema) {
        return Ok(None);
    }
    Ok(Some((schema, read_in_background(reader))))
}

fn schema_has_dictionary(schema: &SchemaRef) -> bool {
    schema
        .fields()
        .iter()
        .any(|f| has_dictionary(f.data_type()))
}

/// The batches of a blocking file reader, read on a blocking thread two batches ahead.
fn read_in_background<R>(reader: R) -> Batches
where
    R: Iterator<Item = Result<RecordBatch, ArrowError>> + Send + 'static,
{
    let (mut tx, rx) = futures::channel::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        for batch in reader {
            let failed = batch.is_err();
            // A closed channel means the client went away: stop reading.
            if futures::executor::block_on(tx.send(batch.map_err(FlightError::from))).is_err()
                || failed
            {
                return;
            }
        }
    });
    rx.boxed()
}

#[tonic::async_trait]
impl FlightService for PartitionFlightService {
    type HandshakeStream = BoxedFlightStream<HandshakeResponse>;
    type ListFlightsStream = BoxedFlightStream<FlightInfo>;
    type DoGetStream = BoxedFlightStream<FlightData>;
    type DoPutStream = BoxedFlightStream<PutResult>;
    type DoExchangeStream = BoxedFlightStream<FlightData>;
    type DoActionStream = BoxedFlightStream<arrow_flight::Result>;
    type ListActionsStream = BoxedFlightStream<ActionType>;

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let Some((schema, batches)) = dictionary_partition(&self.work_dir, request.get_ref())?
        else {
            return self.inner.do_get(request).await;
        };
        // The compression Ballista's own service sends partitions with.
        let options = IpcWriteOptions::default()
            .try_with_compression(Some(CompressionType::LZ4_FRAME))
            .map_err(|e| Status::internal(format!("IPC write options: {e}")))?;
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .with_options(options)
            .with_dictionary_handling(DictionaryHandling::Resend)
            .build(batches)
            .map_err(|e| Status::from_error(Box::new(e)));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        self.inner.handshake(request).await
    }

    async fn list_flights(
        &self,
        request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        self.inner.list_flights(request).await
    }

    async fn get_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.inner.get_flight_info(request).await
    }

    async fn poll_flight_info(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        self.inner.poll_flight_info(request).await
    }

    async fn get_schema(
        &self,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        self.inner.get_schema(request).await
    }

    async fn do_put(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        self.inner.do_put(request).await
    }

    async fn do_exchange(
        &self,
        request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        self.inner.do_exchange(request).await
    }

    async fn do_action(
        &self,
        request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        self.inner.do_action(request).await
    }

    async fn list_actions(
        &self,
        request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        self.inner.list_actions(request).await
    }
}
