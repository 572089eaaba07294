//! Builds the [`SessionContext`] every tickflow entry point uses: DataFusion with tickflow's
//! functions registered, `information_schema` on (for `\d` and completion), files queryable by
//! path (local or in object storage, [`crate::storage`]), the user's parallelism and batch size, and aggregation without a hash table over
//! key-sorted input ([`crate::sorted_aggregate`]).

use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::sorted_aggregate::with_sorted_aggregation;

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
        // distinct numbers, which dictionaries do not shrink, and writing 2.0M one-minute bars
        // was 40% of the job's wall time (1.38 s with the COPY, 0.81 s without). With these
        // settings: 1.00 s and 32.9 MB, against 1.37 s and 30.6 MB with DataFusion's zstd(3) +
        // dictionaries (DuckDB's default snappy: 46.4 MB). `SET
        // datafusion.execution.parquet.compression` and `.dictionary_enabled` change them.
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

/// A local session with every tickflow function registered.
pub fn local_context(config: &EngineConfig) -> Result<SessionContext> {
    let session = config.session_config();
    let state = tickflow_functions::gap_fill::with_gap_fill(with_sorted_aggregation(
        SessionStateBuilder::new()
            .with_default_features()
            .with_runtime_env(crate::storage::runtime_env(&session)?)
            .with_config(session),
    ))
    .build();
    // `SELECT * FROM 'trades.parquet'` works as in DuckDB and datafusion-cli.
    let ctx = SessionContext::new_with_state(state).enable_url_table();
    tickflow_functions::register_all(&ctx)?;
    Ok(ctx)
}

/// A session on the engine `config` names: local, in-process Ballista, or a Ballista cluster
/// (which must answer within a few seconds).
pub async fn context(config: &EngineConfig) -> Result<SessionContext> {
    match &config.engine {
        Engine::Local => local_context(config),
        Engine::Standalone => {
            let slots = config
                .target_partitions
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            crate::cluster::standalone_context(config.session_config(), slots).await
        }
        Engine::Cluster(url) => crate::cluster::remote_context(url, config.session_config()).await,
    }
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
