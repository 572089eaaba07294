//! What a plan extension is, and how a session takes several at once.
//!
//! A plan extension brings some of: functions or expression planners its SQL names, analyzer and
//! optimizer rules, physical optimizer rules, and planners for its own logical nodes. DataFusion
//! lets a session have one [`QueryPlanner`] only, so the extensions do not install planners of
//! their own: [`Extensions::apply`] installs one [`ExtensionQueryPlanner`] that asks each
//! extension's [`ExtensionPlanner`]s in turn. A new extension implements [`PlanExtension`] in
//! its own folder and is added to the list where a session is built; no other extension's files
//! change.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::{AnalyzerRule, OptimizerRule};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

/// A physical optimizer rule of an extension.
pub type PhysicalRule = Arc<dyn PhysicalOptimizerRule + Send + Sync>;

/// Where a physical rule runs among DataFusion's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PhysicalStage {
    /// Before DataFusion's rules: the plan they settle is made around what this rule did.
    BeforeDataFusion,
    /// After DataFusion's rules, once distribution and ordering are settled.
    AfterDataFusion,
    /// After every other rule: for rules that replace nodes the others still look for.
    Last,
}

/// What one plan extension adds to a session. Each method adds nothing by default.
pub trait PlanExtension: Debug + Send + Sync {
    /// A short name, for `Debug` and error messages.
    fn name(&self) -> &'static str;

    /// Registers the functions and expression planners the extension's SQL names.
    fn register(&self, _registry: &mut dyn FunctionRegistry) -> Result<()> {
        Ok(())
    }

    /// Analyzer rules, run after DataFusion's.
    fn analyzer_rules(&self) -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
        vec![]
    }

    /// Logical optimizer rules, run after DataFusion's.
    fn optimizer_rules(&self) -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
        vec![]
    }

    /// Physical optimizer rules and where each runs.
    fn physical_rules(&self) -> Vec<(PhysicalStage, PhysicalRule)> {
        vec![]
    }

    /// Planners of the extension's logical nodes.
    fn planners(&self) -> Vec<Arc<dyn ExtensionPlanner + Send + Sync>> {
        vec![]
    }
}

/// The plan extensions of one session, in order: rules of the same stage run in the order
/// their extensions were added.
#[derive(Debug, Clone, Default)]
pub struct Extensions(Vec<Arc<dyn PlanExtension>>);

impl Extensions {
    /// No extensions.
    pub fn new() -> Self {
        Self::default()
    }

    /// These extensions and `extension` after them.
    pub fn with(mut self, extension: Arc<dyn PlanExtension>) -> Self {
        self.0.push(extension);
        self
    }

    /// `builder` with every extension's rules and one query planner that plans every
    /// extension's nodes. Physical rules are placed around DataFusion's default list, which
    /// replaces any physical rules `builder` had.
    pub fn apply(&self, mut builder: SessionStateBuilder) -> SessionStateBuilder {
        let mut physical: Vec<(PhysicalStage, PhysicalRule)> = Vec::new();
        let mut planners = Vec::new();
        for extension in &self.0 {
            for rule in extension.analyzer_rules() {
                builder = builder.with_analyzer_rule(rule);
            }
            for rule in extension.optimizer_rules() {
                builder = builder.with_optimizer_rule(rule);
            }
            physical.extend(extension.physical_rules());
            planners.extend(extension.planners());
        }
        if !physical.is_empty() {
            // A stable sort: within a stage, the extensions' order.
            physical.sort_by_key(|(stage, _)| *stage);
            let (before, after): (Vec<_>, Vec<_>) = physical
                .into_iter()
                .partition(|(stage, _)| *stage == PhysicalStage::BeforeDataFusion);
            let rules = before
                .into_iter()
                .map(|(_, rule)| rule)
                .chain(PhysicalOptimizer::new().rules)
                .chain(after.into_iter().map(|(_, rule)| rule))
                .collect();
            builder = builder.with_physical_optimizer_rules(rules);
        }
        if !planners.is_empty() {
            builder = builder.with_query_planner(Arc::new(ExtensionQueryPlanner { planners }));
        }
        builder
    }

    /// Registers every extension's functions and expression planners in `registry`.
    pub fn register(&self, registry: &mut dyn FunctionRegistry) -> Result<()> {
        for extension in &self.0 {
            extension.register(registry)?;
        }
        Ok(())
    }
}

/// DataFusion's physical planner with the planners of every extension of a session: the one
/// [`QueryPlanner`] of a session with extensions.
pub struct ExtensionQueryPlanner {
    planners: Vec<Arc<dyn ExtensionPlanner + Send + Sync>>,
}

impl Debug for ExtensionQueryPlanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionQueryPlanner")
            .field("planners", &self.planners.len())
            .finish()
    }
}

#[async_trait]
impl QueryPlanner for ExtensionQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(self.planners.clone())
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}
