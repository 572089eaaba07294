//! The scheduler's port as Ballista 55 serves it (gRPC, Flight SQL or the Flight proxy, REST,
//! `/healthz` and `/readyz`), with the cluster's token checked on every request but the probes.
//!
//! Ballista's `start_grpc_service_with_listener` builds this router and serves it at once, with
//! no way to put a check in front of it; so [`serve`] builds the same router from Ballista's
//! public parts, in the same order and with the same message size limits, and wraps it with
//! [`require_token`]. What it leaves out: the `Server` / `X-Powered-By` version headers
//! (they only tell a prober the versions) and the KEDA scaler (a Ballista feature tickflow does
//! not build).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use arrow_flight::flight_service_server::FlightServiceServer;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ballista_core::error::BallistaError;
use ballista_core::extension::BallistaConfigGrpcEndpoint;
use ballista_core::flight_proxy_service::BallistaFlightProxyService;
use ballista_core::serde::protobuf::scheduler_grpc_server::SchedulerGrpcServer;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use http::StatusCode;
use tonic::service::RoutesBuilder;

use crate::auth::{self, AuthToken};

/// The scheduler Ballista builds for tickflow's plans.
pub type Scheduler = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Serves `scheduler` on `listener` until the process ends; with a `token`, only requests that
/// carry it are served (the probes excepted).
pub async fn serve(
    listener: tokio::net::TcpListener,
    scheduler: Scheduler,
    token: Option<AuthToken>,
) -> Result<(), BallistaError> {
    let config = scheduler.state.config.clone();
    let max_decoding = config.grpc_server_max_decoding_message_size as usize;
    let max_encoding = config.grpc_server_max_encoding_message_size as usize;

    let mut grpc = RoutesBuilder::default();
    grpc.add_service(
        SchedulerGrpcServer::new(scheduler.clone())
            .max_encoding_message_size(max_encoding)
            .max_decoding_message_size(max_decoding),
    );
    let customize_endpoint = config
        .override_create_grpc_client_endpoint
        .clone()
        .map(|f| Arc::new(BallistaConfigGrpcEndpoint::new(f)));
    let flight_proxy = BallistaFlightProxyService::new(
        max_decoding,
        max_encoding,
        config.use_tls,
        customize_endpoint,
    );
    let scheduler = Arc::new(scheduler);
    // As Ballista: Flight SQL replaces the proxy (it forwards Ballista's own partition tickets).
    if config.flight_sql_enabled() {
        let flight_sql =
            ballista_flight_sql::BallistaFlightSqlService::new(scheduler.clone(), flight_proxy)
                .with_authenticator(Arc::new(Sessions {
                    anonymous: token.is_none(),
                }));
        grpc.add_service(
            FlightServiceServer::new(flight_sql)
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(max_encoding),
        );
    } else if config.enable_embedded_flight_proxy {
        grpc.add_service(
            FlightServiceServer::new(flight_proxy)
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(max_encoding),
        );
    }
    let grpc = grpc
        .routes()
        .into_axum_router()
        .fallback(|| async { StatusCode::NOT_FOUND });
    let rest = if config.disable_rest_api {
        axum::Router::new().route(
            "/api/{*path}",
            axum::routing::any(|| async {
                (
                    StatusCode::NOT_FOUND,
                    "REST API has been disabled at startup",
                )
            }),
        )
    } else {
        ballista_scheduler::api::get_routes(scheduler.clone())
    };
    let app = rest
        .merge(grpc)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(Gate {
                token,
                sessions: Mutex::new(SessionTokens::default()),
            }),
            require_token,
        ))
        .merge(probes(scheduler));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
    .map_err(BallistaError::from)
}

/// `/healthz` (the process answers) and `/readyz` (enough executors registered), open to
/// everyone as Ballista's are: orchestrators probe without credentials, and they tell nothing
/// but a count.
fn probes(scheduler: Arc<Scheduler>) -> axum::Router {
    async fn readyz(State(scheduler): State<Arc<Scheduler>>) -> Response {
        // Ballista's own probe also counts the executors, through a method it keeps to itself.
        let required = scheduler.state.config.min_ready_executors;
        if scheduler.is_ready() {
            (
                StatusCode::OK,
                format!("ready: at least {required} executors registered\n"),
            )
                .into_response()
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: fewer than {required} executors registered\n"),
            )
                .into_response()
        }
    }
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(readyz))
        .with_state(scheduler)
}

/// Flight SQL sessions: a client that authenticates with the Flight handshake (ADBC's
/// `username` / `password`) gets a session of its own, its settings, tables and views invisible
/// to other clients. With a cluster token the handshake's `Basic` password must be the token
/// ([`require_token`] checks it before the handshake gets here) and every client must
/// handshake; without one, clients that skip it share one anonymous session, as in Ballista.
#[derive(Debug)]
struct Sessions {
    anonymous: bool,
}

#[async_trait::async_trait]
impl ballista_flight_sql::Authenticator for Sessions {
    async fn authenticate(
        &self,
        _headers: &tonic::metadata::MetadataMap,
    ) -> Result<ballista_flight_sql::Identity, tonic::Status> {
        Ok(ballista_flight_sql::Identity::anonymous())
    }

    fn allows_anonymous(&self) -> bool {
        self.anonymous
    }
}

/// The Flight SQL handshake's path, whose response carries a new session's token.
const HANDSHAKE: &str = "/arrow.flight.protocol.FlightService/Handshake";

/// Session tokens the Flight SQL service handed out (to clients that had the cluster token),
/// the most recent [`SessionTokens::CAPACITY`]; the service itself expires idle ones.
#[derive(Debug, Default)]
struct SessionTokens {
    known: HashSet<String>,
    order: VecDeque<String>,
}

impl SessionTokens {
    const CAPACITY: usize = 100_000;

    fn insert(&mut self, token: String) {
        if self.known.insert(token.clone()) {
            self.order.push_back(token);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.known.remove(&old);
            }
        }
    }
}

/// What [`require_token`] checks against.
#[derive(Debug)]
struct Gate {
    token: Option<AuthToken>,
    sessions: Mutex<SessionTokens>,
}

impl Gate {
    fn is_session(&self, authorization: Option<&[u8]>) -> bool {
        let Some(bearer) = authorization
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
        else {
            return false;
        };
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .known
            .contains(bearer)
    }
}

/// Refuses a request without the token (or a Flight SQL session token handed out to a client
/// that had it): `Unauthenticated` to gRPC and Flight SQL clients, 401 to REST ones. A request
/// with the cluster token goes on without its `authorization: Bearer TOKEN` header: Ballista's
/// Flight SQL service reads a bearer token as the id of a session it handed out, and would
/// refuse the cluster's.
async fn require_token(
    State(gate): State<Arc<Gate>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = gate.token.as_ref() else {
        return next.run(request).await;
    };
    let headers = request.headers();
    let header = |name: http::header::HeaderName| headers.get(name).map(|v| v.as_bytes());
    let authorization = header(http::header::AUTHORIZATION);
    if !token.accepts(authorization, header(http::header::USER_AGENT))
        && !gate.is_session(authorization)
    {
        let grpc = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"application/grpc"));
        return if grpc {
            auth::refusal().into_http::<axum::body::Body>()
        } else {
            (
                StatusCode::UNAUTHORIZED,
                [(http::header::WWW_AUTHENTICATE, "Bearer")],
                "this tickflow scheduler requires its token: send `authorization: Bearer TOKEN`\n",
            )
                .into_response()
        };
    }
    if request
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| token.is_bearer(v.as_bytes()))
    {
        request.headers_mut().remove(http::header::AUTHORIZATION);
    }
    let handshake = request.uri().path() == HANDSHAKE;
    let response = next.run(request).await;
    if handshake
        && let Some(session) = response
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
    {
        gate.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.to_string());
    }
    response
}
