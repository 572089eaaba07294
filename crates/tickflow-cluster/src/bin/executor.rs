//! `tickflow-executor`: Ballista's executor with tickflow's functions and codecs.
//!
//! Every flag is Ballista's (`tickflow-executor --help`), including the `/healthz` and `/readyz`
//! probes on `--bind-health-port`.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_executor::config::Config;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_executor::health::spawn_health_server;
use clap::Parser;
use tickflow_cluster::{Logging, executor_config};

#[tokio::main]
async fn main() -> Result<()> {
    let opt = Config::parse();
    let health_addr: SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_health_port)
        .parse()
        .map_err(|e| BallistaError::General(format!("invalid --bind-health-port address: {e}")))?;
    let config = executor_config(ExecutorProcessConfig::try_from(opt)?)?;
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
