//! The one place a tickflow session is assembled, for every role: a local session, and the
//! client, scheduler and executor of a Ballista cluster (whose Ballista parts tickflow-cluster
//! supplies through [`Role::Cluster`]). Each gets DataFusion with tickflow's functions
//! registered, the plan extensions ([`extensions`]), object stores that follow the session's
//! storage settings ([`crate::storage`]), and the user's parallelism and batch size. A local
//! context also has `information_schema` on (for `\d` and completion) and files queryable by
//! path.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use tickflow_plan::gap_fill::GapFillExtension;
use tickflow_plan::rows_window::RowsWindowExtension;
use tickflow_plan::sorted_aggregate::SortedAggregateExtension;
use tickflow_plan::{Extensions, PlanExtension};
/// Where a session's queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Engine {
    /// In this process, on DataFusion.
    #[default]
    Local,
    /// On a Ballista scheduler and executor started inside this process (`--standalone`).
    Standalone,
    /// On the Ballista cluster whose scheduler is at this `df://HOST:PORT` URL (`--cluster`).
    Cluster(String),
}

/// Knobs of a session. `None` keeps DataFusion's default.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Partitions a query is split into (DataFusion's `target_partitions`; default: the cores).
    pub target_partitions: Option<usize>,
    /// Rows per batch (DataFusion's `batch_size`; default 8192).
    pub batch_size: Option<usize>,
    /// Where queries run.
    pub engine: Engine,
}

impl EngineConfig {
    /// DataFusion's settings for this configuration.
    pub fn session_config(&self) -> SessionConfig {
        // `SET s3.endpoint = ..` and the other storage options (see `crate::storage`).
        let mut session = crate::storage::with_storage_options(
            SessionConfig::new().with_information_schema(true),
        );
        // Parquet written by COPY .. TO: zstd level 1 without dictionary pages. Bars are mostly
        // distinct numbers, which dictionaries do not shrink, and the write was a large part of
        // a bar job's time (measured in benches/RESULTS.md, "Ordered layout: where tickflow wins").
        // `SET datafusion.execution.parquet.compression` and `.dictionary_enabled` change them.
        let parquet = &mut session.options_mut().execution.parquet;
        parquet.compression = Some("zstd(1)".into());
        parquet.dictionary_enabled = Some(false);
        if let Some(n) = self.target_partitions {
            session = session.with_target_partitions(n.max(1));
        }
        if let Some(n) = self.batch_size {
            session = session.with_batch_size(n.max(1));
        }
        session
    }
}

/// What a session is for.
#[derive(Debug)]
pub enum Role {
    /// Plans and runs queries in this process.
    Local,
    /// A role of a Ballista cluster: `extension` is what planning for a cluster adds to
    /// tickflow's extensions; `base` is the state the role starts from instead of DataFusion's
    /// defaults (Ballista's own, on the scheduler and the executors), built with the same config.
    Cluster {
        base: Option<Box<SessionState>>,
        extension: Arc<dyn PlanExtension>,
    },
}

/// tickflow's plan extensions with `extra` (the cluster's): gap filling, then `extra`, then
/// sorted aggregation and the rows window. Physical rules run by stage ([`tickflow_plan::PhysicalStage`]), so sorted
/// aggregation's last rule runs after any of `extra`'s.
pub fn extensions(extra: Option<Arc<dyn PlanExtension>>) -> Extensions {
    let mut extensions = Extensions::new().with(Arc::new(GapFillExtension));
    if let Some(extra) = extra {
        extensions = extensions.with(extra);
    }
    extensions
        .with(Arc::new(SortedAggregateExtension))
        .with(Arc::new(RowsWindowExtension))
}

/// The state of a session in `role`, with `config`: every role's state comes from here.
pub fn session_state(role: Role, config: SessionConfig) -> Result<SessionState> {
    // Queries list and read files through the stores the session's storage settings name.
    let runtime = crate::storage::runtime_env(&config)?;
    let (builder, extensions) = match role {
        Role::Local => (default_builder(config), extensions(None)),
        Role::Cluster { base, extension } => (
            match base {
                Some(state) => SessionStateBuilder::new_from_existing(*state),
                None => default_builder(config),
            },
            extensions(Some(extension)),
        ),
    };
    let mut state = extensions.apply(builder.with_runtime_env(runtime)).build();
    register_functions(&mut state, &extensions)?;
    Ok(state)
}

fn default_builder(config: SessionConfig) -> SessionStateBuilder {
    SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
}

/// Registers tickflow's functions (scalar, aggregate, window and table) and the `extensions`'
/// SQL in `state`. [`session_state`] does it; a client calls it again on the state Ballista
/// makes of its own, which replaces the functions it was handed.
pub fn register_functions(state: &mut SessionState, extensions: &Extensions) -> Result<()> {
    tickflow_functions::register_functions(state)?;
    for (name, function) in tickflow_functions::all_table_functions() {
        state.register_udtf(name, function);
    }
    extensions.register(state)
}

/// A local session with every tickflow function registered.
pub fn local_context(config: &EngineConfig) -> Result<SessionContext> {
    let state = session_state(Role::Local, config.session_config())?;
    // `SELECT * FROM 'trades.parquet'` works as in DuckDB and datafusion-cli.
    Ok(crate::url_tables::enable_url_tables(
        SessionContext::new_with_state(state),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn functions_are_registered() -> Result<()> {
        let ctx = local_context(&EngineConfig {
            target_partitions: Some(2),
            batch_size: None,
            engine: Engine::Local,
        })?;
        let batches = ctx
            .sql("SELECT total_volume(x) FROM (VALUES (1), (2)) t(x)")
            .await?
            .collect()
            .await?;
        assert_eq!(batches[0].num_rows(), 1);
        assert_eq!(ctx.copied_config().target_partitions(), 2);
        Ok(())
    }
}
