//! The plumbing tickflow's physical rules share.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_plan::ExecutionPlan;

/// `plan` with every node for which `replace` returns a new node replaced by it, bottom up.
pub fn replace_nodes(
    plan: Arc<dyn ExecutionPlan>,
    mut replace: impl FnMut(&Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match replace(&node)? {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}
