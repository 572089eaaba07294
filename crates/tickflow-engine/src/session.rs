//! Builds the [`SessionContext`] every tickflow entry point uses: DataFusion with tickflow's
//! functions registered, `information_schema` on (for `\d` and completion), files queryable by
//! path, and the user's parallelism and batch size.

use datafusion::common::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Knobs of a local session. `None` keeps DataFusion's default.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Partitions a query is split into (DataFusion's `target_partitions`; default: the cores).
    pub target_partitions: Option<usize>,
    /// Rows per batch (DataFusion's `batch_size`; default 8192).
    pub batch_size: Option<usize>,
}

/// A local session with every tickflow function registered.
pub fn local_context(config: &EngineConfig) -> Result<SessionContext> {
    let mut session = SessionConfig::new().with_information_schema(true);
    if let Some(n) = config.target_partitions {
        session = session.with_target_partitions(n.max(1));
    }
    if let Some(n) = config.batch_size {
        session = session.with_batch_size(n.max(1));
    }
    // `SELECT * FROM 'trades.parquet'` works as in DuckDB and datafusion-cli.
    let ctx = SessionContext::new_with_config(session).enable_url_table();
    tickflow_functions::register_all(&ctx)?;
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn functions_are_registered() -> Result<()> {
        let ctx = local_context(&EngineConfig {
            target_partitions: Some(2),
            batch_size: None,
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
