//! `tickflow-executor`: Ballista's executor with tickflow's functions and codecs.
//!
//! Every flag of Ballista's executor is here (`tickflow-executor --help`), including the
//! `/healthz` and `/readyz` probes on `--bind-health-port`. tickflow changes Ballista's defaults
//! for safety and adds its own flags ([`tickflow_cluster::server_flags`]): `--bind-host`
//! defaults to 127.0.0.1, `--auth-token-file` makes the executor send the cluster's shared
//! secret and require it on its Flight (shuffle) service, and binding another address without a
//! token needs `--allow-unauthenticated`; `--allow-path` / `--allow-url` limit what its tasks read
//! and write ([`tickflow_cluster::data_policy`]).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_executor::config::Config;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::spawn_health_server;
use clap::{CommandFactory, FromArgMatches, Parser};
use tickflow_cluster::data_policy::PolicyFlags;
use tickflow_cluster::server_flags::{self, SecurityFlags, ServerSecurity};
use tickflow_cluster::{Logging, executor_config};

/// Ballista's flags and tickflow's.
#[derive(Debug, Parser)]
#[command(name = "tickflow-executor", about = "tickflow's Ballista executor")]
struct Args {
    #[command(flatten)]
    ballista: Config,
    #[command(flatten)]
    security: SecurityFlags,
    #[command(flatten)]
    data: PolicyFlags,
}

#[tokio::main]
async fn main() -> Result<()> {
    let matches = server_flags::with_secure_defaults(Args::command()).get_matches();
    let Args {
        ballista: mut opt,
        security,
        data,
    } = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let token = security.token()?;
    security.check_bind(&opt.bind_host, token.as_ref())?;
    let server = ServerSecurity {
        token: token.clone(),
        policy: data.policy()?,
    };
    opt.task_scheduling_policy = server_flags::scheduling_policy(
        &matches,
        "task_scheduling_policy",
        opt.task_scheduling_policy,
        token.as_ref(),
    )?;
    let health_addr: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_health_port)
        .parse()
        .map_err(|e| BallistaError::General(format!("invalid --bind-health-port address: {e}")))?;
    let config = executor_config(ExecutorProcessConfig::try_from(opt)?, &server)?;
    Logging {
        level: &config.special_mod_log_level,
        dir: config.log_dir.as_deref(),
        file_prefix: config.log_file_name_prefix(),
        rotation: config.log_rotation_policy,
        thread_info: config.print_thread_info,
    }
    .init();

    let (stop_health, health_stopped) = tokio::sync::oneshot::channel();
    let health = spawn_health_server(health_addr, config.health.clone(), health_stopped);
    let result = start_executor_process(Arc::new(config)).await;
    let _ = stop_health.send(());
    if let Err(e) = health.await {
        tracing::warn!("health server task join error: {e}");
    }
    result
}
