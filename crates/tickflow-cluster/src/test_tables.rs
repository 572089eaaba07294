//! Tables for unit tests.

use std::path::Path;

use datafusion::common::Result;
use datafusion::prelude::SessionContext;

use tickflow_engine::session::{EngineConfig, local_context};

/// A local tickflow session that splits queries into `partitions`.
pub(crate) fn local(partitions: usize) -> Result<SessionContext> {
    local_context(&EngineConfig {
        target_partitions: Some(partitions),
        ..EngineConfig::default()
    })
}

/// Registers table `t` over one Parquet file per entry of `files` in `dir` — each a `VALUES`
/// list of rows with `columns` (`"sym, minute, size"`), written sorted by `order` (`"sym,
/// minute"`) — declared `WITH ORDER` (`order`, ascending), as `tickflow ingest` registers its
/// output.
pub(crate) async fn sorted_table(
    ctx: &SessionContext,
    dir: &Path,
    columns: &str,
    order: &str,
    files: &[&str],
) -> Result<()> {
    for (i, rows) in files.iter().enumerate() {
        let sql = format!(
            "COPY (SELECT * FROM (VALUES {rows}) v({columns}) ORDER BY {order}) \
             TO '{}/{i}.parquet' STORED AS PARQUET",
            dir.display()
        );
        ctx.sql(&sql).await?.collect().await?;
    }
    let ascending = order
        .split(',')
        .map(|c| format!("{} ASC", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/' WITH ORDER ({ascending})",
        dir.display()
    );
    ctx.sql(&sql).await?.collect().await?;
    Ok(())
}
