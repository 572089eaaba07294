//! Gap filling against a plain loop, and its plan errors.

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

fn context(partitions: usize, batch_size: usize) -> Result<SessionContext> {
    let state = super::with_gap_fill(
        SessionStateBuilder::new()
            .with_default_features()
            .with_config(
                SessionConfig::new()
                    .with_target_partitions(partitions)
                    .with_batch_size(batch_size),
            ),
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    crate::register_all(&ctx)?;
    Ok(ctx)
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<String> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

#[tokio::test]
async fn smoke() -> Result<()> {
    let ctx = context(4, 2)?;
    ctx.sql(
        "CREATE TABLE t (sym VARCHAR, ts TIMESTAMP, price DOUBLE) AS VALUES \
        ('A', '2024-01-02T14:30:05', 10.0), ('A', '2024-01-02T14:33:10', 10.5), \
        ('B', '2024-01-02T14:31:00', 20.0)",
    )
    .await?;
    let sql = "SELECT sym, time_bucket_gapfill(INTERVAL '1 minute', ts) AS minute, count(*) AS n, \
        avg(price) AS raw, locf(avg(price)) AS close, interpolate(avg(price)) AS lin \
        FROM t WHERE ts >= TIMESTAMP '2024-01-02 14:30:00' AND ts < TIMESTAMP '2024-01-02 14:35:00' \
        GROUP BY sym, minute ORDER BY sym, minute";
    println!("{}", run(&ctx, &format!("EXPLAIN {sql}")).await?);
    println!("{}", run(&ctx, sql).await?);
    Ok(())
}
