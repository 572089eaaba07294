//! Faults on a real cluster: an error inside an executor reaches the client and the cluster
//! keeps working; an executor killed in the middle of a query makes the job either finish on
//! the other executor with the right answer or fail with a clear error, within a bounded time.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use tickflow_engine::{Engine, EngineConfig};
use tickflow_tests::cluster::{Cluster, binary};

/// Longest a query may take once an executor is gone before the test calls it a hang.
const BOUND: Duration = Duration::from_secs(120);

async fn cluster_context(cluster: &Cluster) -> SessionContext {
    tickflow_cluster::context(&EngineConfig {
        target_partitions: Some(4),
        batch_size: None,
        engine: Engine::Cluster(cluster.url.clone()),
    })
    .await
    .expect("cluster session")
}

async fn rows(ctx: &SessionContext, sql: &str) -> datafusion::common::Result<Vec<String>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let text = pretty_format_batches(&batches)?.to_string();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    Ok(lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_executor_error_reaches_the_client_and_the_next_query_runs() {
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "symbol,price\nAAA,12.5\nAAA,abc\nBBB,7\n").expect("write csv");
    let ctx = cluster_context(&cluster).await;

    let sql = format!(
        "SELECT symbol, sum(CAST(price AS DOUBLE)) FROM '{}' GROUP BY symbol",
        bad.display()
    );
    let err = rows(&ctx, &sql).await.expect_err("'abc' is not a number");
    let message = tickflow_cluster::readable_error(&err.to_string());
    assert!(
        message.contains("failed on an executor") && message.contains("abc"),
        "the executor's cast error should reach the client: {message}"
    );

    let sql = format!(
        "SELECT symbol, count(*) AS n FROM '{}' GROUP BY symbol",
        bad.display()
    );
    let ok = rows(&ctx, &sql).await.expect("the next query runs");
    assert!(
        ok.iter().any(|l| l.contains("AAA") && l.contains(" 2 ")),
        "{ok:?}"
    );
    assert!(
        ok.iter().any(|l| l.contains("BBB") && l.contains(" 1 ")),
        "{ok:?}"
    );
}

fn generate(dir: &Path, rows: &str) {
    let out = Command::new(binary("tickflow"))
        .args([
            "gen",
            "--rows",
            rows,
            "--days",
            "2",
            "--symbols",
            "20",
            "--out",
            "data",
        ])
        .current_dir(dir)
        .output()
        .expect("run tickflow gen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_an_executor_mid_query_completes_or_fails_within_a_bound() {
    // Heartbeats every second; an executor silent for 6 s is dead.
    let mut cluster = Cluster::start_with(
        2,
        &[
            "--executor-timeout-seconds",
            "6",
            "--expire-dead-executor-interval-seconds",
            "1",
        ],
        &["--executor-heartbeat-interval-seconds", "1"],
    );
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), "400K");
    let data = dir.path().join("data");
    // One-second bars, then a second aggregation over them: several stages and shuffles.
    let sql = format!(
        "SELECT symbol, count(*) AS bars, sum(n) AS trades, max(v) AS max_vwap, min(o['low']) AS low \
         FROM (SELECT symbol, time_bucket(INTERVAL '1 second', ts) AS b, count(*) AS n, \
                      vwap(price, size) AS v, ohlc(ts, price, seq) AS o \
               FROM '{}/' GROUP BY 1, 2) GROUP BY symbol",
        data.display()
    );
    let local = tickflow_engine::local_context(&EngineConfig::default()).expect("local session");
    let expected = rows(&local, &sql).await.expect("local answer");

    let ctx = cluster_context(&cluster).await;
    let before = cluster.tasks_run(1);
    let query = {
        let ctx = ctx.clone();
        let sql = sql.clone();
        tokio::spawn(async move { rows(&ctx, &sql).await })
    };
    // Kill executor 1 as soon as it has started a task of this query.
    let started = Instant::now();
    while cluster.tasks_run(1) == before && !query.is_finished() {
        assert!(started.elapsed() < BOUND, "executor 1 never started a task");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed_mid_query = !query.is_finished();
    cluster.kill_executor(1);
    let killed_at = Instant::now();

    let outcome = tokio::time::timeout(BOUND, query)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the query hung for {BOUND:?} after an executor died\n{}",
                cluster.logs()
            )
        })
        .expect("query task");
    let took = killed_at.elapsed();
    match outcome {
        Ok(got) => assert_eq!(
            got, expected,
            "a job that completes must give the full answer"
        ),
        Err(e) => {
            let message = tickflow_cluster::readable_error(&e.to_string());
            assert!(!message.trim().is_empty(), "empty error");
            println!("the job failed cleanly after {took:?}: {message}");
        }
    }
    println!("killed mid-query: {killed_mid_query}; outcome after {took:?}");

    // The surviving executor takes the next query.
    let next = rows(
        &ctx,
        &format!("SELECT count(*) AS n FROM '{}/'", data.display()),
    )
    .await
    .unwrap_or_else(|e| panic!("the next query failed: {e}\n{}", cluster.logs()));
    assert!(next.iter().any(|l| l.contains("400000")), "{next:?}");
}
