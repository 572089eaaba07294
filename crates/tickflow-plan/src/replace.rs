//! The plumbing tickflow's physical rules share.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::physical_plan::{DisplayFormatType, ExecutionPlan, displayable};

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

/// How a node that executes a DataFusion node it wraps (`SortedAggregateExec` around an
/// `AggregateExec`, ...) shows in `EXPLAIN`: the wrapped node's line under the wrapper's `name`
/// (its own name, `inner_name`, replaced), and the wrapped node's tree rendering.
pub fn fmt_wrapped(
    name: &str,
    inner_name: &str,
    inner: &dyn ExecutionPlan,
    t: DisplayFormatType,
    f: &mut std::fmt::Formatter,
) -> std::fmt::Result {
    match t {
        DisplayFormatType::Default | DisplayFormatType::Verbose => {
            let line = displayable(inner).one_line().to_string();
            let line = line.trim_end();
            let rest = line.strip_prefix(inner_name).unwrap_or(line);
            write!(f, "{name}{rest}")
        }
        DisplayFormatType::TreeRender => inner.fmt_as(t, f),
    }
}
