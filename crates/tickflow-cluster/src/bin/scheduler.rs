//! `tickflow-scheduler`: Ballista's scheduler with tickflow's functions and codecs.
//!
//! Every flag of Ballista's scheduler is here (`tickflow-scheduler --help`); `--flight-sql`
//! serves Arrow Flight SQL on the scheduler port, planned with tickflow's functions. tickflow
//! changes Ballista's defaults for safety and adds its own flags ([`tickflow_cluster::server_flags`]):
//! `--bind-host` defaults to 127.0.0.1, `--auth-token-file` requires a shared secret of every
//! request (gRPC, Flight SQL, REST; not `/healthz`, `/readyz`), and binding another address
//! without a token needs `--allow-unauthenticated`; `--allow-path` / `--allow-url` limit what its
//! sessions list and read ([`tickflow_cluster::data_policy`]).

use std::sync::Arc;

use ballista_core::error::{BallistaError, Result};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::{Config, SchedulerConfig};
use ballista_scheduler::scheduler_process::create_scheduler;
use clap::{CommandFactory, FromArgMatches, Parser};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tickflow_cluster::data_policy::PolicyFlags;
use tickflow_cluster::server_flags::{self, SecurityFlags, ServerSecurity};
use tickflow_cluster::{Logging, scheduler_config};

/// Ballista's flags and tickflow's.
#[derive(Debug, Parser)]
#[command(name = "tickflow-scheduler", about = "tickflow's Ballista scheduler")]
struct Args {
    #[command(flatten)]
    ballista: Config,
    #[command(flatten)]
    security: SecurityFlags,
    #[command(flatten)]
    data: PolicyFlags,
}

fn main() -> Result<()> {
    let matches = server_flags::with_secure_defaults(Args::command()).get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // Ballista's stock scheduler plans deep expression trees on 32 MB stacks; so does this one.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()?;
    runtime.block_on(run(args, &matches))
}

async fn run(args: Args, matches: &clap::ArgMatches) -> Result<()> {
    let Args {
        ballista: mut opt,
        security,
        data,
    } = args;
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
    let token = security.token()?;
    security.check_bind(&opt.bind_host, token.as_ref())?;
    let server = ServerSecurity {
        token: token.clone(),
        policy: data.policy()?,
    };
    opt.scheduler_policy = server_flags::scheduling_policy(
        matches,
        "scheduler_policy",
        opt.scheduler_policy,
        token.as_ref(),
    )?;
    let addr: std::net::SocketAddr = format!("{}:{}", opt.bind_host, opt.bind_port)
        .parse()
        .map_err(|e: std::net::AddrParseError| {
            BallistaError::Configuration(format!("--bind-host {}: {e}", opt.bind_host))
        })?;
    let config = scheduler_config(SchedulerConfig::try_from(opt)?, &server);
    config.validate()?;
    let config = Arc::new(config);
    let cluster = BallistaCluster::new_from_config(&config).await?;
    tracing::info!(
        "tickflow-scheduler listening on {addr} ({})",
        if token.is_some() {
            "requests must carry the --auth-token-file token"
        } else {
            "no token: anyone who reaches this port can run queries"
        }
    );
    let scheduler = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tickflow_cluster::scheduler_service::serve(listener, scheduler, token).await
}
