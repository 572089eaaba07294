//! The plan codecs every Ballista role (client, scheduler, executor) uses.
//!
//! A plan travels twice: the client ships the logical plan to the scheduler, and the scheduler
//! ships physical stages to the executors. Both hops go through protobuf, and anything the stock
//! encoding does not know goes through an "extension codec". Ballista's own codecs carry its
//! shuffle nodes and the file formats (Parquet, CSV, ...), so tickflow's codecs *wrap* them and
//! only add what tickflow brings:
//!
//! - tickflow's functions are resolved by name in the codec too, so a plan that names `ohlc` or
//!   `time_bucket` decodes even where the role's function registry was built without them (the
//!   stock decoder asks the registry first and the codec second);
//! - in-memory tables (what `CREATE TABLE .. AS SELECT` makes) travel as Arrow IPC
//!   ([`super::memory_table`]), which DataFusion's plan encoding cannot do;
//! - a stage plan is prepared for the executor as it is decoded ([`super::stage_plan`]): the
//!   sorts a shuffle made necessary, and sorted aggregation;
//! - tickflow's own plan nodes: gap filling's `GapFill` and `GapFillExec`
//!   ([`super::gap_fill_codec`]), the sorted aggregation, rows window and shuffle merge
//!   ([`super::node_codec`]).
//!
//! The `time_bucket` table function needs nothing here: it returns a view that DataFusion's
//! analyzer inlines into `unnest(time_buckets(..))` before the plan leaves the client.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::MemTable;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;

use super::{
    file_format_options, gap_fill_codec, ignore_nulls, memory_table, node_codec, stage_plan,
};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

/// tickflow's scalar function named `name`, if it is one.
fn tickflow_udf(name: &str) -> Option<Arc<ScalarUDF>> {
    tickflow_functions::all_udfs()
        .into_iter()
        .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
}

/// tickflow's aggregate function named `name`, if it is one.
fn tickflow_udaf(name: &str) -> Option<Arc<AggregateUDF>> {
    tickflow_functions::all_udafs()
        .into_iter()
        .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
}

/// tickflow's window function named `name`, if it is one.
fn tickflow_udwf(name: &str) -> Option<Arc<WindowUDF>> {
    tickflow_functions::all_udwfs()
        .into_iter()
        .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
}

/// Ballista's logical codec plus tickflow's functions.
#[derive(Debug, Default)]
pub struct TickflowLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for TickflowLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        if let Some(node) = gap_fill_codec::decode_logical(buf, inputs, ctx, self)? {
            return Ok(node);
        }
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if gap_fill_codec::encode_logical(node, buf, self)? {
            return Ok(());
        }
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if memory_table::is_encoded(buf) {
            return Ok(Arc::new(memory_table::decode(buf, schema)?));
        }
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(table) = node.downcast_ref::<MemTable>() {
            return memory_table::encode(table, buf);
        }
        self.inner
            .try_encode_table_provider(table_ref, node, buf)
            .map_err(|_| {
                DataFusionError::Plan(format!(
                    "table '{table_ref}' cannot be read on a Ballista cluster: only file tables \
                     (Parquet, CSV, JSON, Avro, Arrow; not UNBOUNDED), views and tables made by \
                     CREATE TABLE .. AS can be shipped to the executors"
                ))
            })
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        let (buf, marked) = file_format_options::strip(buf);
        let factory = self.inner.try_decode_file_format(buf, ctx)?;
        Ok(file_format_options::restore(factory, marked))
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        file_format_options::mark(&node, buf);
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        tickflow_udf(name).map_or_else(|| self.inner.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        tickflow_udaf(name).map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        match ignore_nulls::decode(name, buf)? {
            Some(udwf) => Ok(udwf),
            None => tickflow_udwf(name).map_or_else(|| self.inner.try_decode_udwf(name, buf), Ok),
        }
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        if ignore_nulls::encode(node, buf) {
            return Ok(());
        }
        self.inner.try_encode_udwf(node, buf)
    }
}

/// Ballista's physical codec plus tickflow's functions.
#[derive(Debug, Default)]
pub struct TickflowPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for TickflowPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // Every stage plan is rooted in one of Ballista's shuffle writers, so each stage body
        // passes through here as the input of some extension node.
        let inputs = inputs
            .iter()
            .map(|input| stage_plan::prepare(Arc::clone(input)))
            .collect::<Result<Vec<_>>>()?;
        if let Some(node) = node_codec::decode(buf, &inputs, ctx, self, proto_converter)? {
            return Ok(node);
        }
        if let Some(node) = gap_fill_codec::decode_physical(buf, &inputs)? {
            return Ok(node);
        }
        self.inner.try_decode(buf, &inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if node_codec::encode(&node, buf, self, proto_converter)?
            || gap_fill_codec::encode_physical(&node, buf)?
        {
            return Ok(());
        }
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        tickflow_udf(name).map_or_else(|| self.inner.try_decode_udf(name, buf), Ok)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        tickflow_udaf(name).map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        match ignore_nulls::decode(name, buf)? {
            Some(udwf) => Ok(udwf),
            None => tickflow_udwf(name).map_or_else(|| self.inner.try_decode_udwf(name, buf), Ok),
        }
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        if ignore_nulls::encode(node, buf) {
            return Ok(());
        }
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_proto::bytes::{
        logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    };
    use tickflow_engine::session::{EngineConfig, local_context};

    /// A plan naming tickflow's functions round-trips through the codec into a context that
    /// has only DataFusion's own functions: the codec is what resolves them.
    #[tokio::test]
    async fn tickflow_functions_decode_without_a_registry() -> Result<()> {
        let ctx = local_context(&EngineConfig::default())?;
        let sql = "SELECT time_bucket(INTERVAL '1 minute', ts) AS b, ohlc(ts, p), vwap(p, v) \
                   FROM (VALUES (TIMESTAMP '2024-01-02 09:30:01', 10.0, 5)) t(ts, p, v) \
                   GROUP BY 1";
        let plan = ctx.sql(sql).await?.into_optimized_plan()?;
        let codec = TickflowLogicalCodec::default();
        let bytes = logical_plan_to_bytes_with_extension_codec(&plan, &codec)?;

        let bare = datafusion::prelude::SessionContext::new();
        let decoded =
            logical_plan_from_bytes_with_extension_codec(&bytes, &bare.task_ctx(), &codec)?;
        assert_eq!(format!("{plan}"), format!("{decoded}"));

        let stock = BallistaLogicalExtensionCodec::default();
        let err = logical_plan_from_bytes_with_extension_codec(&bytes, &bare.task_ctx(), &stock)
            .expect_err("Ballista's codec alone cannot resolve tickflow's functions");
        assert!(err.to_string().contains("time_bucket"), "{err}");
        Ok(())
    }

    /// A sorted aggregation travels as DataFusion's aggregate and comes back sorted, over an
    /// input that is still sorted on the other side; a shuffle merge travels as a sort and
    /// comes back a shuffle merge; the results are the same.
    #[tokio::test]
    async fn a_sorted_aggregate_round_trips() -> Result<()> {
        use crate::shuffle_merge::ShuffleMergeExec;
        use crate::test_tables::sorted_table;
        use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr, expressions::col};
        use datafusion::physical_plan::{collect, displayable};
        use datafusion_proto::bytes::{
            physical_plan_from_bytes_with_extension_codec,
            physical_plan_to_bytes_with_extension_codec,
        };
        let dir = tempfile::tempdir()?;
        let ctx = local_context(&EngineConfig::default())?;
        let rows = "('A', 1, 10), ('A', 1, 5), ('A', 2, 7), ('B', 1, 1)";
        sorted_table(
            &ctx,
            dir.path(),
            "sym, minute, size",
            "sym, minute",
            &[rows],
        )
        .await?;
        let df = ctx
            .sql("SELECT sym, minute, total_volume(size) v, count(*) n FROM t GROUP BY 1, 2 ORDER BY 1, 2")
            .await?;
        let plan = df.create_physical_plan().await?;
        let by_volume =
            LexOrdering::new([PhysicalSortExpr::new_default(col("v", &plan.schema())?).desc()])
                .expect("one key");
        let plan: Arc<dyn ExecutionPlan> = Arc::new(ShuffleMergeExec::new(by_volume, plan));
        let text = displayable(plan.as_ref()).indent(false).to_string();
        assert!(text.contains("SortedAggregateExec"), "{text}");
        assert!(
            text.starts_with("ShuffleMergeExec: expr=[v@2 DESC]"),
            "{text}"
        );

        let codec = TickflowPhysicalCodec::default();
        let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &codec)?;
        let decoded =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec)?;
        assert_eq!(
            displayable(decoded.as_ref()).indent(false).to_string(),
            text
        );
        let format = |batches: &[datafusion::arrow::array::RecordBatch]| {
            datafusion::arrow::util::pretty::pretty_format_batches(batches).map(|t| t.to_string())
        };
        let expected = format(&collect(plan, ctx.task_ctx()).await?)?;
        assert_eq!(format(&collect(decoded, ctx.task_ctx()).await?)?, expected);
        assert!(
            expected.contains("| A   | 1      | 15 | 2 |\n| A   | 2      | 7  | 1 |"),
            "{expected}"
        );
        Ok(())
    }
}
