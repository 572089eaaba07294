//! Client sessions that run queries on Ballista: `--cluster df://HOST:PORT` (a running
//! `tickflow-scheduler`) and `--standalone` (a scheduler and an executor inside this process).
//!
//! The client plans the SQL (so it needs tickflow's functions) and ships the logical plan with
//! tickflow's codec. Ballista 55 replaces the functions of the state it is handed with its own
//! list, so tickflow's are registered on the context afterwards.

use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::protobuf::GetJobStatusParams;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;

use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::execution::SessionState;

use datafusion::prelude::{SessionConfig, SessionContext};
use tonic::Code;

use crate::auth::{self, AuthToken};
use crate::roles::{self, ClusterRole, logical_codec, physical_codec};
use tickflow_engine::error_chain::error_chain;

/// The user agent of a client's connections to the executors (tonic appends its own).
pub const CLIENT_AGENT: &str = "tickflow";

/// Port of a `df://HOST` URL without one (Ballista's default scheduler port).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How long to wait for a scheduler to accept a connection before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The scheduler's gRPC address (`http://HOST:PORT`) for a `df://HOST[:PORT]` URL.
pub fn scheduler_address(url: &str) -> Result<String> {
    let Some(rest) = url.strip_prefix("df://") else {
        return plan_err!(
            "--cluster expects df://HOST:PORT (e.g. df://localhost:50050), got '{url}'"
        );
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => match port.parse::<u16>() {
            Ok(port) => (host, port),
            Err(_) => {
                return plan_err!("--cluster {url}: '{port}' is not a port number (1-65535)");
            }
        },
        None => (rest, DEFAULT_SCHEDULER_PORT),
    };
    if host.is_empty() || host.contains('/') {
        return plan_err!(
            "--cluster expects df://HOST:PORT (e.g. df://localhost:50050), got '{url}'"
        );
    }
    Ok(format!("http://{host}:{port}"))
}

/// Fails within [`CONNECT_TIMEOUT`] with a message naming the URL unless a scheduler answers a
/// gRPC call there. Ballista's client connects lazily, at the first query, and would otherwise
/// report an unreachable scheduler only then; a TCP connect alone would also accept any port
/// that merely listens.
///
/// With a `token`, the call carries it; a scheduler that refuses the call (no token, or not its
/// token) is reported as such.
pub async fn check_scheduler(url: &str, token: Option<&AuthToken>) -> Result<()> {
    let address = scheduler_address(url)?;
    let unreachable = |why: Unreachable| {
        DataFusionError::Execution(format!(
            "cannot reach the Ballista scheduler at {url} ({why}); is tickflow-scheduler running \
             there? Start one with `tickflow-scheduler --bind-port PORT`, or use --standalone"
        ))
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, ask_scheduler(address, token)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Unreachable::Refused(why))) => Err(DataFusionError::Execution(format!(
            "the Ballista scheduler at {url} refused this client ({why}): {}",
            if token.is_some() {
                "its token differs from the one of --auth-token-file"
            } else {
                "it requires the cluster's token, pass --auth-token-file FILE"
            }
        ))),
        Ok(Err(why)) => Err(unreachable(why)),
        Err(_) => Err(unreachable(Unreachable::Transport(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        )))),
    }
}

/// Why a scheduler did not answer: the transport error and its causes, on one line; or its
/// refusal of this client.
#[derive(Debug, thiserror::Error)]
enum Unreachable {
    #[error("{0}")]
    Transport(String),
    #[error("{0}")]
    Refused(String),
}

/// One round trip to the scheduler: the status of a job that does not exist. Any reply from the
/// scheduler itself, "no such job" included, means it is there; transport failures mean it is not.
async fn ask_scheduler(
    address: String,
    token: Option<&AuthToken>,
) -> std::result::Result<(), Unreachable> {
    let mut client = SchedulerGrpcClient::connect(address)
        .await
        .map_err(|e| Unreachable::Transport(error_chain(&e)))?;
    let mut probe = tonic::Request::new(GetJobStatusParams {
        job_id: "tickflow-connection-check".to_string(),
    });
    if let Some(token) = token {
        let value = token
            .bearer()
            .parse()
            .map_err(|_| Unreachable::Transport("the token is not a header value".into()))?;
        probe.metadata_mut().insert("authorization", value);
    }
    match client.get_job_status(probe).await {
        Ok(_) => Ok(()),
        Err(status) if matches!(status.code(), Code::Unavailable | Code::Unknown) => {
            Err(Unreachable::Transport(error_chain(&status)))
        }
        Err(status) if status.code() == Code::Unauthenticated => {
            Err(Unreachable::Refused(status.message().to_string()))
        }
        Err(_) => Ok(()),
    }
}

/// The error of a failed cluster job, as a person wants to read it.
///
/// Ballista reports a task's error as the Debug form of the executor's error, wrapped in the
/// job's and the stage's: `Execution error: Job 038G.. failed: Job failed due to stage 0 failed:
/// Task failed due to runtime execution error: DataFusionError(Shared(External(DataFusionError(
/// Execution("vwap: overflow ..")))))`. This returns `job 038G.. failed on an executor: vwap:
/// overflow ..`; any other text is returned as it is.
pub fn readable_error(text: &str) -> String {
    const TASK_FAILED: &str = "Task failed due to runtime execution error: ";
    let Some(at) = text.find(TASK_FAILED) else {
        return text.to_string();
    };
    let detail = &text[at + TASK_FAILED.len()..];
    let job = text
        .split_whitespace()
        .skip_while(|w| *w != "Job")
        .nth(1)
        .unwrap_or("?");
    // The executor's message is the one quoted string of the Debug form.
    let message = match (detail.find("(\""), detail.rfind("\")")) {
        (Some(a), Some(b)) if b > a + 2 => detail[a + 2..b]
            .replace("\\\"", "\"")
            .replace("\\n", "\n")
            .replace("\\\\", "\\"),
        _ => detail.to_string(),
    };
    format!("job {job} failed on an executor: {message}")
}

/// A state with the client's settings and tickflow's codecs, ready for Ballista to upgrade.
///
/// Ballista's adaptive planner (`ballista.planner.adaptive.enabled`) is off by default here: on
/// Ballista 55 it returns wrong window results over a table sorted by its partition key (its
/// shuffle between the bars and the window scatters a symbol's rows), and it plans with its own
/// rule list instead of tickflow's. Its static planner, in turn, never finishes a join whose
/// build side feeds a dynamic filter, so dynamic filter pushdown is off too
/// (`datafusion.optimizer.enable_dynamic_filter_pushdown`). Both can be set back per session;
/// the README's cluster section says the same to users.
fn client_state(config: SessionConfig) -> Result<SessionState> {
    let mut config = tickflow_engine::storage::with_storage_options(config)
        .with_ballista_adaptive_query_planner(false)
        .with_ballista_logical_extension_codec(logical_codec())
        .with_ballista_physical_extension_codec(physical_codec());
    config
        .options_mut()
        .set(
            "datafusion.optimizer.enable_dynamic_filter_pushdown",
            "false",
        )
        .expect("a DataFusion 55 setting");
    // One partition per map task, so each map task's share of a hash shuffle is one sorted run
    // that the reduce stage can merge instead of sorting (`shuffle_merge`).
    config
        .options_mut()
        .set("ballista.scheduler.max_partitions_per_task", "1")
        .expect("a Ballista 55 setting");
    // The in-process scheduler and executor of `--standalone` plan and run with this state.
    roles::session_state(ClusterRole::Client, config)
}

/// `ctx` as Ballista made it for a client, with tickflow's functions registered again
/// (Ballista replaced them with its own list) and files queryable by path.
fn client_context(ctx: SessionContext) -> Result<SessionContext> {
    let ctx = tickflow_engine::url_tables::enable_url_tables(ctx);
    let extensions = tickflow_engine::session::extensions(Some(roles::extension()));
    tickflow_engine::session::register_functions(&mut ctx.state_ref().write(), &extensions)?;
    super::empty_relation::register(&ctx);
    Ok(ctx)
}

/// A context whose queries run on the Ballista cluster whose scheduler is at `url`
/// (`df://HOST:PORT`); with a `token`, every call to the scheduler (Ballista's gRPC metadata)
/// and every result fetch from an executor (its user agent, [`crate::auth`]) carries it.
pub async fn remote_context(
    url: &str,
    config: SessionConfig,
    token: Option<&AuthToken>,
) -> Result<SessionContext> {
    check_scheduler(url, token).await?;
    let address = scheduler_address(url)?;
    let config = match token {
        Some(token) => config
            .with_ballista_grpc_metadata([("authorization".to_string(), token.bearer())].into())
            .with_ballista_override_create_grpc_client_endpoint(auth::endpoint_override(
                CLIENT_AGENT,
                Some(token.clone()),
            )),
        None => config,
    };
    let ctx = SessionContext::remote_with_state(&address, client_state(config)?).await?;
    client_context(ctx)
}

/// A context whose queries run on a Ballista scheduler and executor started inside this process,
/// with `parallelism` task slots.
pub async fn standalone_context(
    config: SessionConfig,
    parallelism: usize,
) -> Result<SessionContext> {
    let config = config.with_ballista_standalone_parallelism(parallelism.max(1));
    // The in-process scheduler and executor take their functions from this state.
    let ctx = SessionContext::standalone_with_state(client_state(config)?).await?;
    client_context(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls() {
        assert_eq!(
            scheduler_address("df://localhost:50051").ok().as_deref(),
            Some("http://localhost:50051")
        );
        assert_eq!(
            scheduler_address("df://10.0.0.7").ok().as_deref(),
            Some("http://10.0.0.7:50050")
        );
        for bad in [
            "localhost:50050",
            "http://x:1",
            "df://",
            "df://h:port",
            "df://h:70000",
        ] {
            let err = scheduler_address(bad).expect_err(bad).to_string();
            assert!(err.contains("--cluster"), "{bad}: {err}");
        }
    }

    #[test]
    fn job_errors_read_like_local_ones() {
        let raw = "Execution error: Job 038GA6YE2G000 failed: Job failed due to stage 0 failed: \
                   Task failed due to runtime execution error: DataFusionError(Shared(External(\
                   DataFusionError(Execution(\"vwap: \\\"x\\\" overflows\")))))";
        assert_eq!(
            readable_error(raw),
            "job 038GA6YE2G000 failed on an executor: vwap: \"x\" overflows"
        );
        assert_eq!(
            readable_error("Error during planning: x"),
            "Error during planning: x"
        );
    }

    /// A host that accepts TCP but never speaks gRPC (a wrong port, a firewall that holds
    /// connections): the connect timeout, not a hang.
    #[tokio::test]
    async fn a_silent_server_times_out() {
        let Ok(listener) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
            panic!("cannot bind a local port");
        };
        let Ok(addr) = listener.local_addr() else {
            panic!("no local address");
        };
        let url = format!("df://{addr}");
        let started = std::time::Instant::now();
        let err = check_scheduler(&url, None)
            .await
            .expect_err("nothing answers there");
        let took = started.elapsed();
        drop(listener);
        let err = err.to_string();
        assert!(err.contains("cannot reach the Ballista scheduler"), "{err}");
        assert!(
            took < CONNECT_TIMEOUT + Duration::from_secs(2),
            "took {took:?}: {err}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_scheduler_is_a_clear_error() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let url = format!("df://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        let Err(err) = remote_context(&url, SessionConfig::new(), None).await else {
            panic!("nothing listens on {url}");
        };
        let err = err.to_string();
        assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(1));
        assert!(err.contains("cannot reach the Ballista scheduler"), "{err}");
        assert!(err.contains(&url), "{err}");
    }
}
