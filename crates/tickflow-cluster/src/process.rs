//! What `tickflow-scheduler` and `tickflow-executor` change in Ballista's stock processes: the
//! override fields of their configurations ([`crate::roles`] fills them), and logging as
//! Ballista's stock binaries log.

use std::sync::Arc;

use crate::auth;
use crate::roles;
use crate::server_flags::ServerSecurity;
use ballista_core::config::LogRotationPolicy;
use ballista_core::error::{BallistaError, Result};
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_scheduler::config::SchedulerConfig;
use tracing_subscriber::EnvFilter;

/// The user agent of an executor's gRPC clients (tonic appends its own).
pub const EXECUTOR_AGENT: &str = "tickflow-executor";

/// The scheduler's configuration with tickflow's session builder, config and codecs; with a
/// token, its connections to the executors carry it ([`crate::auth`]); its sessions read and
/// write under the data policy ([`crate::data_policy`]).
pub fn scheduler_config(config: SchedulerConfig, security: &ServerSecurity) -> SchedulerConfig {
    let token = security.token.as_ref();
    let policy = security.policy.clone();
    let mut config = config
        .with_override_config_producer(Arc::new(roles::session_config))
        .with_override_session_builder(Arc::new(move |config| {
            roles::scheduler_session(config, policy.as_ref())
        }));
    config.override_logical_codec = Some(roles::logical_codec());
    config.override_physical_codec = Some(roles::physical_codec());
    // Marks the scheduler's requests to the executors, so that a Flight SQL client's results
    // keep their dictionary columns (see `partition_flight`).
    config.override_create_grpc_client_endpoint = Some(auth::endpoint_override(
        crate::partition_flight::SCHEDULER_AGENT,
        token.cloned(),
    ));
    config
}

/// The executor's configuration with tickflow's config, function registry and codecs; with a
/// token, its Flight service requires it and its connections (to the scheduler, and to the
/// other executors for shuffle data) carry it ([`crate::auth`]); its tasks read and write under
/// the data policy ([`crate::data_policy`]).
pub fn executor_config(
    mut config: ExecutorProcessConfig,
    security: &ServerSecurity,
) -> Result<ExecutorProcessConfig> {
    let token = security.token.as_ref();
    config.override_create_grpc_client_endpoint =
        Some(auth::endpoint_override(EXECUTOR_AGENT, token.cloned()));
    // A task's session config comes from this producer (then the job's settings): its shuffle
    // reads open their Flight connections to other executors with this endpoint override.
    let shuffle_endpoint = auth::endpoint_override(EXECUTOR_AGENT, token.cloned());
    config.override_config_producer = Some(Arc::new(move || {
        use ballista_core::extension::SessionConfigExt;
        roles::session_config()
            .with_ballista_override_create_grpc_client_endpoint(shuffle_endpoint.clone())
    }));
    // Each task's object stores follow its job's storage settings. Ballista keeps one runtime
    // per client session, built for the session's first task: a later `SET s3.endpoint` in the
    // same session would not reach it, so runtimes are built per task (cheap: the stores and the
    // disk cache they use are shared by the whole process).
    config.override_runtime_producer = Some(Arc::new(roles::task_runtime(
        config.work_dir.clone(),
        security.policy.clone(),
    )));
    config.session_runtime_cache_capacity = 0;
    config.override_function_registry = Some(Arc::new(
        roles::function_registry().map_err(BallistaError::from)?,
    ));
    // Flight SQL clients fetch results from the executors through the scheduler's proxy; the
    // executors send those partitions with their dictionary columns (see `partition_flight`);
    // everyone else gets Ballista's service as it is.
    config.override_arrow_flight_service = Some(crate::partition_flight::flight_server(
        config.grpc_max_decoding_message_size as usize,
        config.grpc_max_encoding_message_size as usize,
        token.cloned(),
    ));
    config.override_logical_codec = Some(roles::logical_codec());
    config.override_physical_codec = Some(roles::physical_codec());
    Ok(config)
}

/// Where and how a process logs: as Ballista's stock binaries do (stdout, or rolling files in
/// `--log-dir`; `RUST_LOG` overrides the level flag).
#[derive(Debug)]
pub struct Logging<'a> {
    /// The level flag's value (`--log-level-setting`).
    pub level: &'a str,
    /// `--log-dir`, if given.
    pub dir: Option<&'a str>,
    /// File name prefix inside `dir`.
    pub file_prefix: String,
    /// `--log-rotation-policy`.
    pub rotation: LogRotationPolicy,
    /// `--print-thread-info`.
    pub thread_info: bool,
}

impl Logging<'_> {
    /// Installs the global subscriber.
    pub fn init(self) {
        let filter = EnvFilter::new(
            std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_else(|_| self.level.to_string()),
        );
        let builder = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_thread_names(self.thread_info)
            .with_thread_ids(self.thread_info)
            .with_env_filter(filter);
        match self.dir {
            Some(dir) => {
                use tracing_appender::rolling;
                let prefix = self.file_prefix;
                let writer = match self.rotation {
                    LogRotationPolicy::Minutely => rolling::minutely(dir, prefix),
                    LogRotationPolicy::Hourly => rolling::hourly(dir, prefix),
                    LogRotationPolicy::Daily => rolling::daily(dir, prefix),
                    LogRotationPolicy::Never => rolling::never(dir, prefix),
                };
                builder.with_writer(writer).init();
            }
            None => builder.with_writer(std::io::stdout).init(),
        }
    }
}
