//! `tickflow`: market tick data to bars and features, with SQL.
//!
//! Without a subcommand it starts the REPL; `tickflow sql` runs statements from the command line
//! or a file. Every error is one line on stderr and a non-zero exit, never a panic. The map of the
//! whole project is `ARCHITECTURE.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use datafusion::common::Result;
use tickflow_engine::{Catalog, Engine, EngineConfig};

mod demo;
mod exec;
#[cfg(test)]
mod flag_fuzz;
mod r#gen; // `gen` is a reserved keyword in edition 2024
mod ingest;
mod print;
mod repl;
mod watch;

/// Market tick data to bars and features, with SQL (DataFusion + tickflow's functions).
#[derive(Debug, Parser)]
#[command(name = "tickflow", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    session: SessionArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Options of the session every subcommand runs in.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Catalog file of registered tables [default: .tickflow/catalog.json if a .tickflow directory
    /// exists here, else ~/.config/tickflow/catalog.json]
    #[arg(long, global = true, env = "TICKFLOW_CATALOG", value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Register a Parquet or CSV table (file, directory or glob) and remember it in the catalog;
    /// repeatable
    #[arg(long = "table", global = true, value_name = "NAME=PATH")]
    tables: Vec<String>,
    /// Partitions a query is split into [default: the number of cores]
    #[arg(long, global = true, value_name = "N")]
    partitions: Option<usize>,
    /// Rows per batch [default: 8192]
    #[arg(long, global = true, value_name = "N")]
    batch_size: Option<usize>,
    /// Run queries on the Ballista cluster whose tickflow-scheduler is at this URL
    #[arg(
        long,
        global = true,
        env = "TICKFLOW_CLUSTER",
        value_name = "df://HOST:PORT"
    )]
    cluster: Option<String>,
    /// File holding the --cluster's shared secret (the scheduler's --auth-token-file); only
    /// read with --cluster
    #[arg(
        long,
        global = true,
        env = "TICKFLOW_AUTH_TOKEN_FILE",
        value_name = "FILE"
    )]
    auth_token_file: Option<PathBuf>,
    /// Run queries on a Ballista scheduler and executor started inside this process
    #[arg(long, global = true, conflicts_with = "cluster")]
    standalone: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL statements from the command line (-c) or a file (-f)
    Sql(exec::SqlArgs),
    /// Generate synthetic trades (seeded): hive-partitioned Parquet, TAQ-style CSV or minute bars
    Gen(r#gen::GenArgs),
    /// Ingest CSV files (trades, minute bars, daily bars, any CSV) into date-partitioned Parquet
    /// sorted by (symbol, ts)
    #[command(after_help = ingest::SHAPES_HELP)]
    Ingest(ingest::IngestArgs),
    /// Keep a bar table current as trade files arrive (incremental, exactly once)
    Watch(watch::WatchArgs),
    /// Generate a small data set, ingest it, and run the sql/ pipeline step by step
    Demo(demo::DemoArgs),
}

/// A session: the context with tickflow's functions and the catalog's tables.
pub struct Session {
    pub ctx: datafusion::prelude::SessionContext,
    pub catalog: Catalog,
    /// Where queries run.
    pub engine: Engine,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("catalog", &self.catalog)
            .finish_non_exhaustive()
    }
}

impl SessionArgs {
    async fn open(&self) -> Result<Session> {
        let engine = match (&self.cluster, self.standalone) {
            (Some(url), _) => Engine::Cluster(url.clone()),
            (None, true) => Engine::Standalone,
            (None, false) => Engine::Local,
        };
        let config = EngineConfig {
            target_partitions: self.partitions,
            batch_size: self.batch_size,
            engine,
        };
        let token = self
            .auth_token_file
            .as_deref()
            .filter(|_| matches!(config.engine, Engine::Cluster(_)))
            .map(tickflow_cluster::auth::AuthToken::read)
            .transpose()
            .map_err(|e| datafusion::error::DataFusionError::Execution(e.to_string()))?;
        let ctx = tickflow_cluster::context_with_token(&config, token.as_ref()).await?;
        let engine = config.engine;
        let mut catalog =
            Catalog::open(self.catalog.clone().unwrap_or_else(Catalog::default_path))?;
        for warning in catalog.attach(&ctx).await? {
            eprintln!("warning: {warning}");
        }
        let mut session = Session {
            ctx,
            catalog,
            engine,
        };
        for table in &self.tables {
            exec::register_table_arg(&mut session, table).await?;
        }
        Ok(session)
    }
}

async fn run(cli: Cli) -> Result<()> {
    // A bad TICKFLOW_CACHE* variable is refused by every subcommand, remote data or not.
    tickflow_engine::storage::check_environment()?;
    match cli.command {
        // Writing files needs no session (and no cluster).
        Some(Command::Gen(args)) => r#gen::run(args).await,
        Some(Command::Ingest(args)) => ingest::run(args).await,
        Some(Command::Watch(args)) => watch::run(args).await,
        Some(Command::Sql(args)) => {
            exec::run_sql_command(&mut cli.session.open().await?, args).await
        }
        Some(Command::Demo(args)) => demo::run(&mut cli.session.open().await?, args).await,
        None => repl::run(&mut cli.session.open().await?).await,
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("TICKFLOW_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let (Some(Command::Sql(args)), Some(("sql", sql))) = (&mut cli.command, matches.subcommand())
    {
        args.set_order(sql);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", exec::clean_error(&e));
            ExitCode::FAILURE
        }
    }
}
