//! The executors' Arrow Flight service: Ballista's, except that a shuffle partition fetched for
//! a Flight SQL client keeps its dictionary columns.
//!
//! A Flight SQL client (ADBC, JDBC) gets a query's result from the executors through the
//! scheduler: the scheduler announces the schema of the job's final stage, and the client's
//! `DoGet` is passed on by the scheduler's Flight proxy to the executor holding each partition.
//! Ballista 55's executor encodes that stream with arrow-flight's default, which *hydrates*
//! dictionaries: a hive partition column (`date` of `date=2024-01-02/`, `Dictionary(UInt16,
//! Utf8)` in DataFusion, locally and on the cluster) is announced as a dictionary and sent as
//! plain `Utf8`, so ADBC refuses the result (`endpoint 0 returned inconsistent schema`).
//! Announcing `Utf8` instead would give the client a different type than a local query gives; so
//! the partition is sent as it is stored, with its dictionaries ([`DictionaryHandling::Resend`]),
//! and the client gets the type a local query has.
//!
//! Only for the scheduler's proxy, though: Ballista's own client (`tickflow --cluster`, which
//! fetches a job's result with `DoGet` straight from the executors) cannot decode dictionary
//! messages (`Unable to convert flight data header to a record batch`), so it keeps getting
//! Ballista's hydrated stream. The scheduler's connections to the executors carry the user agent
//! [`SCHEDULER_AGENT`] (set by `tickflow-scheduler`, [`crate::process::scheduler_config`]), and only a
//! `DoGet` with it is served here, when it fetches a whole shuffle partition whose schema has a
//! dictionary column. Everything else (other requests, byte ranges, the block transport
//! Ballista's shuffle reads use, which moves the files' bytes and keeps dictionaries already) is
//! Ballista's [`BallistaFlightService`], unchanged. A Ballista client configured to fetch through
//! the scheduler (`--advertise-flight-endpoint` naming the scheduler's own port) would get
//! dictionaries it cannot read: leave that flag unset with `--flight-sql` (the README says so).

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
use tonic::service::interceptor::InterceptedService;

use crate::auth::{self, AuthToken};
use tonic::{Request, Response, Status, Streaming};

/// The user agent of the scheduler's gRPC clients to the executors (tonic appends its own; with
/// a token, [`crate::auth`] puts it in between), by which an executor knows a `DoGet` from the
/// scheduler's Flight proxy.
pub const SCHEDULER_AGENT: &str = "tickflow-scheduler";

/// Whether `request` comes from the scheduler's Flight proxy (so, a Flight SQL client).
fn from_scheduler<T>(request: &Request<T>) -> bool {
    request
        .metadata()
        .get("user-agent")
        .and_then(|agent| agent.to_str().ok())
        .is_some_and(|agent| agent.starts_with(SCHEDULER_AGENT))
}

type BoxedFlightStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Batches of one shuffle partition, as read from its file.
type Batches = BoxStream<'static, Result<RecordBatch, FlightError>>;

/// The executor's Flight server (Ballista's `override_arrow_flight_service`): Ballista's server
/// settings and message size limits, serving [`PartitionFlightService`]; with a `token`, only
/// to requests that carry it ([`crate::auth`]).
pub fn flight_server(
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
    token: Option<AuthToken>,
) -> Arc<ballista_executor::ArrowFlightServerProvider> {
    Arc::new(
        move |work_dir: String,
              address: SocketAddr,
              mut shutdown: Shutdown,
              config: GrpcServerConfig| {
            let token = token.clone();
            tokio::spawn(async move {
                tracing::info!("arrow flight server listening on: {address:?}");
                let service = FlightServiceServer::new(PartitionFlightService::new(work_dir))
                    .max_decoding_message_size(max_decoding_message_size)
                    .max_encoding_message_size(max_encoding_message_size);
                let check = move |request: Request<()>| {
                    auth::check(token.as_ref(), request.metadata()).map(|()| request)
                };
                create_grpc_server(&config)
                    .add_service(InterceptedService::new(service, check))
                    .serve_with_shutdown(address, shutdown.recv())
                    .await
                    .map_err(BallistaError::TonicError)
            })
        },
    )
}

/// Ballista's executor Flight service, with dictionary columns kept by a `DoGet` from the
/// scheduler's Flight proxy.
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
        if !from_scheduler(&request) {
            return self.inner.do_get(request).await;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_flight::decode::FlightRecordBatchStream;
    use ballista_core::JobId;
    use ballista_core::serde::protobuf;
    use datafusion::arrow::array::{ArrayRef, DictionaryArray, Int64Array};
    use datafusion::arrow::datatypes::UInt16Type;
    use datafusion::arrow::ipc::writer::StreamWriter;
    use prost::Message;

    /// A hash-shuffle output file as Ballista writes it (an IPC stream), with a hive partition
    /// column, and the `DoGet` ticket that fetches it.
    fn shuffle_partition(work_dir: &Path) -> Ticket {
        let job_id = JobId::new("job-1");
        let path = create_shuffle_path(work_dir, &job_id, 2, 0, None, false).expect("path");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        let dates: DictionaryArray<UInt16Type> = vec!["2024-01-02", "2024-01-02", "2024-01-03"]
            .into_iter()
            .collect();
        let batch = RecordBatch::try_from_iter([
            ("date", Arc::new(dates) as ArrayRef),
            ("n", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ])
        .expect("batch");
        let mut writer = StreamWriter::try_new(File::create(&path).expect("file"), &batch.schema())
            .expect("writer");
        writer.write(&batch).expect("write");
        writer.finish().expect("finish");
        let action = BallistaAction::FetchPartition {
            job_id,
            stage_id: 2,
            partition_id: 0,
            host: "127.0.0.1".into(),
            port: 1,
            file_id: None,
            layout: ShuffleLayout::default(),
            file_kind: ShuffleFileKind::Data,
            byte_ranges: vec![],
        };
        let action: protobuf::Action = action.try_into().expect("encode the action");
        Ticket {
            ticket: action.encode_to_vec().into(),
        }
    }

    async fn fetch<S: FlightService>(
        service: &S,
        ticket: Ticket,
        agent: Option<&'static str>,
    ) -> Vec<RecordBatch>
    where
        S::DoGetStream: Unpin,
    {
        let mut request = Request::new(ticket);
        if let Some(agent) = agent {
            request
                .metadata_mut()
                .insert("user-agent", agent.parse().expect("agent"));
        }
        let stream = service
            .do_get(request)
            .await
            .expect("do_get")
            .into_inner()
            .map_err(FlightError::from);
        FlightRecordBatchStream::new_from_flight_data(stream)
            .try_collect()
            .await
            .expect("decode")
    }

    #[tokio::test]
    async fn a_partition_keeps_its_dictionary_column_for_the_scheduler_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let work_dir = dir.path().to_str().expect("utf-8").to_string();
        let ticket = shuffle_partition(dir.path());
        let dictionary = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));

        // Ballista's own service hydrates it: the cause of ADBC's "inconsistent schema".
        let ballista = BallistaFlightService::new(work_dir.clone());
        let hydrated = fetch(
            &ballista,
            ticket.clone(),
            Some("tickflow-scheduler tonic/0.14"),
        )
        .await;
        assert_eq!(hydrated[0].schema().field(0).data_type(), &DataType::Utf8);

        // So does this one for Ballista's client, which cannot decode dictionary messages.
        let service = PartitionFlightService::new(work_dir);
        let hydrated = fetch(&service, ticket.clone(), Some("tonic/0.14.9")).await;
        assert_eq!(hydrated[0].schema().field(0).data_type(), &DataType::Utf8);
        let hydrated = fetch(&service, ticket.clone(), None).await;
        assert_eq!(hydrated[0].schema().field(0).data_type(), &DataType::Utf8);

        // The scheduler's proxy gets the partition as it is stored.
        let batches = fetch(&service, ticket, Some("tickflow-scheduler tonic/0.14.9")).await;
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].schema().field(0).data_type(), &dictionary);
        assert_eq!(
            datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .expect("format")
                .to_string(),
            "+------------+---+\n\
             | date       | n |\n\
             +------------+---+\n\
             | 2024-01-02 | 1 |\n\
             | 2024-01-02 | 2 |\n\
             | 2024-01-03 | 3 |\n\
             +------------+---+"
        );
    }

    #[test]
    fn nested_dictionaries_are_found() {
        let dictionary = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
        let list = DataType::new_list(dictionary.clone(), true);
        assert!(has_dictionary(&dictionary));
        assert!(has_dictionary(&list));
        assert!(!has_dictionary(&DataType::new_list(DataType::Utf8, true)));
        assert!(!has_dictionary(&DataType::Decimal128(12, 4)));
    }
}
