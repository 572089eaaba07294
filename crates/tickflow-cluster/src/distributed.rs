//! [`DistributedPlanning`]: what planning for a Ballista cluster adds to tickflow's plan
//! extensions, as one [`PlanExtension`].

use std::sync::Arc;

use datafusion::optimizer::OptimizerRule;
use tickflow_plan::{PhysicalRule, PhysicalStage, PlanExtension};

use crate::final_after_merge::FinalAfterMerge;
use crate::ignore_nulls::KeepIgnoreNulls;
use crate::shuffle_order::ResortAfterShuffle;

/// The rules of a session that plans for Ballista: [`KeepIgnoreNulls`], because a window
/// function's `IGNORE NULLS` is lost on the wire otherwise; [`FinalAfterMerge`], because a
/// shuffle costs more than finishing a sorted aggregation in the task that takes its result; and
/// [`ResortAfterShuffle`], because the shuffle between stages loses order. Both physical rules
/// run after DataFusion's and before sorted aggregation's last rule, which they must see
/// DataFusion's `AggregateExec` for.
#[derive(Debug, Default)]
pub struct DistributedPlanning;

impl PlanExtension for DistributedPlanning {
    fn name(&self) -> &'static str {
        "distributed_planning"
    }

    fn optimizer_rules(&self) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
        vec![Arc::new(KeepIgnoreNulls)]
    }

    fn physical_rules(&self) -> Vec<(PhysicalStage, PhysicalRule)> {
        vec![
            (PhysicalStage::AfterDataFusion, Arc::new(FinalAfterMerge)),
            (PhysicalStage::AfterDataFusion, Arc::new(ResortAfterShuffle)),
        ]
    }
}
