//! [`UseRowsWindow`]: the physical rule that puts a [`RowsWindowExec`] where every window
//! expression of a `BoundedWindowAggExec` is a ROWS-frame aggregate it computes.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::windows::BoundedWindowAggExec;

use super::RowsWindowExec;
use crate::replace_nodes;

/// Replaces each `BoundedWindowAggExec` over sorted partitions whose every expression the rows
/// window computes with a [`RowsWindowExec`]; any other window is left as it is. Register it
/// after DataFusion's rules, which settle the window's input order and mode.
#[derive(Debug, Default)]
pub struct UseRowsWindow;

impl PhysicalOptimizerRule for UseRowsWindow {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        replace_nodes(plan, |node| {
            match node.downcast_ref::<BoundedWindowAggExec>() {
                Some(window) if RowsWindowExec::supports(window) => Ok(Some(Arc::new(
                    RowsWindowExec::try_new(Arc::new(window.clone()))?,
                ))),
                _ => Ok(None),
            }
        })
    }

    fn name(&self) -> &str {
        "use_rows_window"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
