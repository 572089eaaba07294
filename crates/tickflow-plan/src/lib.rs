//! tickflow's DataFusion plan extensions, and the one query planner they share.
//!
//! | extension | SQL | what it adds |
//! |---|---|---|
//! | [`gap_fill::GapFillExtension`] | `time_bucket_gapfill(..)` in GROUP BY, `locf(agg)`, `interpolate(agg)` | a row for every bucket of the WHERE range, empty ones filled |
//! | [`sorted_aggregate::SortedAggregateExtension`] | any GROUP BY over input sorted on its keys | aggregation without a hash table |
//! | [`rows_window::RowsWindowExtension`] | `sum`/`avg`/`count`/`min`/`max`/`var`/`stddev` `OVER (.. ROWS BETWEEN ..)` | sliding frames in one pass per partition |
//!
//! Each extension is a folder (placeholder, rule, node, exec) implementing [`PlanExtension`];
//! [`Extensions`] applies a list of them to a session with one [`ExtensionQueryPlanner`]. This
//! crate depends on DataFusion and tickflow's functions only, so any DataFusion application can
//! take gap filling. The map of the whole project is `ARCHITECTURE.md`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::common::Result<()> {
//! let ctx = tickflow_plan::session_context(datafusion::prelude::SessionConfig::new())?;
//! let rows = ctx.sql("SELECT time_bucket_gapfill(INTERVAL '1 hour', ts) AS hour, count(*) AS n
//!     FROM (VALUES (TIMESTAMP '2024-01-02 10:15:00')) t(ts)
//!     WHERE ts >= TIMESTAMP '2024-01-02 09:00:00' AND ts < TIMESTAMP '2024-01-02 12:00:00'
//!     GROUP BY 1").await?.collect().await?;
//! assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
//! # Ok(()) }
//! ```

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

mod extension;
pub mod gap_fill;
mod replace;
pub mod rows_window;
pub mod sorted_aggregate;

pub use extension::{
    ExtensionQueryPlanner, Extensions, PhysicalRule, PhysicalStage, PlanExtension,
};
pub use replace::replace_nodes;

/// Gap filling alone: what a DataFusion application needs for every SQL form tickflow
/// documents (sorted aggregation changes only how fast a query runs).
pub fn sql_extensions() -> Extensions {
    Extensions::new().with(Arc::new(gap_fill::GapFillExtension))
}

/// A new [`SessionContext`] with DataFusion's defaults, `config`, every tickflow function and
/// [`sql_extensions`]: the shortest way to use tickflow's SQL in an application.
pub fn session_context(config: SessionConfig) -> Result<SessionContext> {
    session_context_with(config, sql_extensions())
}

/// [`session_context`] with `extensions` instead of [`sql_extensions`].
pub fn session_context_with(
    config: SessionConfig,
    extensions: Extensions,
) -> Result<SessionContext> {
    let state = extensions
        .apply(
            SessionStateBuilder::new()
                .with_default_features()
                .with_config(config),
        )
        .build();
    let ctx = SessionContext::new_with_state(state);
    tickflow_functions::register_all(&ctx)?;
    extensions.register(&mut *ctx.state_ref().write())?;
    Ok(ctx)
}

/// `(name, kind, documentation)` of every documented function, tickflow's functions and the
/// extensions' SQL alike, in reference order.
pub fn documented_functions() -> Vec<(
    String,
    &'static str,
    datafusion::logical_expr::Documentation,
)> {
    let mut functions = tickflow_functions::docs::documented_functions();
    if let Some(doc) = gap_fill::time_bucket_gapfill_udf().documentation() {
        let at = functions
            .iter()
            .position(|(name, _, _)| name == "time_bucket")
            .map_or(functions.len(), |i| i + 1);
        functions.insert(
            at,
            (
                gap_fill::placeholder::NAME.to_string(),
                "scalar",
                doc.clone(),
            ),
        );
    }
    functions
}

/// The function reference as Markdown, [`documented_functions`] and the table functions: the
/// README's reference section.
pub fn reference_markdown() -> String {
    tickflow_functions::docs::reference_markdown(documented_functions())
}
