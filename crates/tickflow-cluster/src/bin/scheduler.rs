//! `tickflow-scheduler`: Ballista's scheduler with tickflow's functions and codecs.
//!
//! Every flag is Ballista's (`tickflow-scheduler --help`); `--flight-sql` serves Arrow Flight SQL
//! on the scheduler port, planned with tickflow's functions. That endpoint has no authentication:
//! keep it on a trusted network.

use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{Config, SchedulerConfig};
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;
use tickflow_cluster::{Logging, scheduler_config};

fn main() -> Result<()> {
    // Ballista's stock scheduler plans deep expression trees on 32 MB stacks; so does this one.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()?;
    runtime.block_on(run(Config::parse()))
}

async fn run(opt: Config) -> Result<()> {
    Logging {
        level: &opt.log_level_setting,
        dir: opt.log_dir.as_deref(),
        file_prefix: format!(
            "scheduler_{}_{}_{}",
            opt.namespace, opt.external_host, opt.bind_port
        ),
        rotation: opt.log_rotation_policy,
        thread_info: opt.print_thread_info,
    }
    .init();
    let addr = format!("{}:{}", opt.bind_host, opt.bind_port)
        .parse()
        .map_err(|e: std::net::AddrParseError| BallistaError::Configuration(e.to_string()))?;
    let config = scheduler_config(SchedulerConfig::try_from(opt)?);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    start_server(cluster, addr, Arc::new(config)).await
}
