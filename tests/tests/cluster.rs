//! The same SQL gives the same answer locally and on a real Ballista cluster (1 scheduler and 2
//! executors as processes on 127.0.0.1):
//!
//! 1. the whole `sql/` pipeline, through `tickflow sql --cluster`, on date-partitioned Parquet
//!    written by `tickflow gen`, including every table it creates (and the REPL on the cluster);
//! 2. tickflow's bar query (all the bar functions, three bar widths, a zone) on that Parquet;
//! 3. every statement and query of the `.slt` suite, run in order on a local session and on a
//!    cluster session side by side (EXPLAIN output is compared only for success: the cluster's
//!    plan is a distributed one).
//!
//! Results must be identical: same schema, same rows as printed. Parts 1 and 2 (DECIMAL prices,
//! as exchanges quote them) must match to the last bit, floats included: every tickflow
//! aggregate is exact on DECIMAL input. Part 3 has one allowance, for the `.slt` files' DOUBLE
//! prices: a float computed from partial states merged in a different order (`bar_std`'s
//! Welford/Chan merge, DOUBLE sums, which are not associative) may differ by at most 1e-10
//! relative. (Welford's error on a bar of a 160.00 stock with a 0.015 standard deviation is about
//! eps * mean / std = 1e-12 relative, and the merge order decides its sign.) Decimals, integers,
//! timestamps and text must match exactly everywhere. A string column may be
//! `Utf8View` locally (DataFusion's Parquet reader) and `Utf8` from the cluster (Ballista's
//! shuffle files): the same values, so the two type names are treated as one.
//! Rows are compared sorted (the printed lines of a statement form a multiset).
//!
//! Both executors must have run tasks.

use std::path::{Path, PathBuf};
use std::process::Command;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use sqllogictest::{DefaultColumnType, Record};
use tickflow_engine::{Engine, EngineConfig};
use tickflow_tests::cli::workspace;
use tickflow_tests::cluster::{Cluster, binary};

/// Runs the `tickflow` binary; returns stdout, failing the test on a non-zero exit.
fn tickflow(args: &[&str], dir: &Path) -> String {
    tickflow_tests::cli::tickflow(args, dir, &[])
}

/// The REPL on the cluster: statements piped in, results out (the same session code as
/// `tickflow sql`, reached through the REPL's reader).
fn repl(cluster: &Cluster, dir: &Path) {
    use std::io::Write;
    let mut child = Command::new(binary("tickflow"))
        .args(["--catalog", "catalog.json", "--cluster", &cluster.url])
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the REPL");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            b"SELECT count(*) AS trades FROM trades;\n\
              SELECT ohlc(ts, price, seq)['close'] AS last_close FROM trades WHERE symbol = 'AAA';\n\
              \\q\n",
        )
        .expect("write to the REPL");
    let out = child.wait_with_output().expect("REPL output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "REPL failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| 60000 "), "{stdout}");
    assert!(stdout.contains("last_close"), "{stdout}");
}

/// Largest relative difference allowed between two printed floats computed from DOUBLE input
/// (see the module docs).
const FLOAT_TOLERANCE: f64 = 1e-10;

/// Whether two printed rows are the same, up to [`FLOAT_TOLERANCE`] in float cells. Cells are
/// split at `,` and `|`; a cell only counts as a float if it has an exponent or more than 10
/// digits after the point (DECIMALs print their scale and must match exactly).
fn same_row(a: &str, b: &str, tolerance: f64) -> bool {
    if a == b {
        return true;
    }
    let cells = |s: &str| {
        s.split([',', '|'])
            .map(str::trim)
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let (ca, cb) = (cells(a), cells(b));
    ca.len() == cb.len()
        && ca.iter().zip(&cb).all(|(x, y)| {
            x == y
                || match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(fx), Ok(fy)) if is_float_text(x) && is_float_text(y) => {
                        (fx - fy).abs() <= tolerance * fx.abs().max(fy.abs())
                    }
                    _ => false,
                }
        })
}

fn is_float_text(s: &str) -> bool {
    s.contains(['e', 'E']) || s.split_once('.').is_some_and(|(_, frac)| frac.len() > 10)
}

/// Panics with the first differing rows unless `local` and `cluster` are the same rows.
fn assert_same_rows(what: &str, local: &[String], cluster: &[String], tolerance: f64) {
    let differing: Vec<String> = local
        .iter()
        .zip(cluster)
        .filter(|(a, b)| !same_row(a, b, tolerance))
        .take(5)
        .map(|(a, b)| format!("local:   {a}\ncluster: {b}"))
        .collect();
    assert!(
        local.len() == cluster.len() && differing.is_empty(),
        "{what}: results differ ({} local rows, {} cluster rows):\n{}",
        local.len(),
        cluster.len(),
        differing.join("\n")
    );
}

fn sorted_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.sort();
    lines
}

/// Schema and sorted rows of a result, as text.
fn canonical(batches: &[RecordBatch]) -> String {
    let schema = batches
        .first()
        .map(|b| {
            b.schema()
                .fields()
                .iter()
                .map(|f| format!("{}:{}", f.name(), f.data_type()).replace("Utf8View", "Utf8"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let rows: Vec<RecordBatch> = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .cloned()
        .collect();
    let text = match pretty_format_batches(&rows) {
        Ok(t) => t.to_string(),
        Err(e) => format!("cannot print: {e}"),
    };
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('+')).collect();
    lines.sort();
    format!("{schema}\n{}", lines.join("\n"))
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<String, String> {
    let df = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    let batches = df.collect().await.map_err(|e| e.to_string())?;
    Ok(canonical(&batches))
}

/// Part 1: `sql/01..04` and a dump of every table they create, local vs `--cluster`.
fn pipeline(cluster: &Cluster, dir: &Path) {
    let sql = workspace().join("sql");
    let dump = dir.join("dump.sql");
    std::fs::write(
        &dump,
        "SELECT * FROM bars; SELECT * FROM sessions; SELECT * FROM filled; SELECT * FROM daily; \
         SELECT * FROM daily_returns; SELECT * FROM features;",
    )
    .expect("write dump.sql");
    let files: Vec<String> = [
        "01_bars.sql",
        "02_fill.sql",
        "03_prepare.sql",
        "04_analytics.sql",
    ]
    .iter()
    .map(|f| sql.join(f).display().to_string())
    .chain(std::iter::once(dump.display().to_string()))
    .collect();
    let mut common: Vec<&str> = vec![
        "--catalog",
        "catalog.json",
        "--table",
        "trades=data",
        "--partitions",
        "4",
        "sql",
        "--format",
        "csv",
        "--param",
        "bar_width=5 minutes",
    ];
    for f in &files {
        common.push("-f");
        common.push(f);
    }
    let local = tickflow(&common, dir);
    let mut remote_args = vec!["--cluster", cluster.url.as_str()];
    remote_args.extend(&common);
    let remote = tickflow(&remote_args, dir);
    assert!(
        local.lines().count() > 1000,
        "the pipeline printed too little:\n{local}"
    );
    assert_same_rows(
        "the sql/ pipeline",
        &sorted_lines(&local),
        &sorted_lines(&remote),
        0.0,
    );
}

/// Writes `data`'s trades sorted by (symbol, ts) within each date to `ordered`, as ingest
/// does, and registers them `WITH ORDER` as `ordered_trades` in both sessions.
async fn ordered_copy(
    local: &SessionContext,
    remote: &SessionContext,
    data: &Path,
    ordered: &Path,
) {
    for day in std::fs::read_dir(data).expect("data dir") {
        let day = day.expect("date dir").file_name();
        let day = day.to_string_lossy();
        let sql = format!(
            "COPY (SELECT * FROM '{}/{day}/' ORDER BY symbol, ts) TO '{}/{day}/part-0.parquet' \
             STORED AS PARQUET",
            data.display(),
            ordered.display()
        );
        run(local, &sql).await.expect("ordered copy");
    }
    for ctx in [local, remote] {
        let sql = format!(
            "CREATE EXTERNAL TABLE ordered_trades STORED AS PARQUET LOCATION '{}/' \
             WITH ORDER (symbol ASC, ts ASC)",
            ordered.display()
        );
        run(ctx, &sql).await.expect("register ordered_trades");
    }
}

/// Part 2: the bar query over the Parquet, for several widths, local vs cluster; over the
/// generated (time-ordered) files and over a (symbol, ts)-ordered copy, where the aggregation is
/// tickflow's `SortedAggregateExec` (shipped to the executors by the codec).
async fn bar_queries(local: &SessionContext, remote: &SessionContext, data: &Path) {
    let ordered = data.with_file_name("ordered");
    ordered_copy(local, remote, data, &ordered).await;
    let data = format!("'{}/'", data.display());
    let explain = "EXPLAIN SELECT symbol, time_bucket(INTERVAL '1 minute', ts), count(*) \
                   FROM ordered_trades GROUP BY 1, 2";
    let plan = run(local, explain).await.expect("explain");
    assert!(plan.contains("SortedAggregateExec"), "{plan}");
    for (source, width, zone) in ["1 minute", "9 minutes", "1 hour"]
        .into_iter()
        .flat_map(|w| ["", ", 'America/New_York'"].map(|z| (w, z)))
        .flat_map(|(w, z)| [(data.as_str(), w, z), ("ordered_trades", w, z)])
    {
        let sql = format!(
            "SELECT symbol, time_bucket(INTERVAL '{width}', ts{zone}) AS b, \
                    ohlc(ts, price, seq) AS o, vwap(price, size) AS v, bar_std(price) AS s, \
                    total_volume(size) AS vol, count(*) AS n \
             FROM {source} WHERE size > 0 GROUP BY 1, 2"
        );
        let l = run(local, &sql).await.expect("local bar query");
        let r = run(remote, &sql).await.expect("cluster bar query");
        assert!(l.lines().count() > 100, "{sql}: too few bars");
        assert_same_rows(&sql, &sorted_lines(&l), &sorted_lines(&r), 0.0);
    }
    // A window over bars of the ordered table: the order the window relies on must survive
    // Ballista's shuffle (it did not: cluster::stage_plan), with the session's default planner.
    let sql = "SELECT symbol, b, c, avg(c) OVER w AS ma, c / lag(c) OVER w AS r, \
                      row_number() OVER (PARTITION BY symbol ORDER BY b) AS n \
               FROM (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS b, \
                            CAST(ohlc(ts, price, seq)['close'] AS DOUBLE) AS c \
                     FROM ordered_trades GROUP BY 1, 2) \
               WINDOW w AS (PARTITION BY symbol ORDER BY b ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)";
    let l = run(local, sql).await.expect("local window query");
    let r = run(remote, sql).await.expect("cluster window query");
    assert!(l.lines().count() > 100, "{sql}: too few bars");
    assert_same_rows(sql, &sorted_lines(&l), &sorted_lines(&r), 1e-10);
    // The scheduler's stages are the ones the executors run (no sort had to be added on an
    // executor), so the cluster's EXPLAIN ANALYZE lines up every stage's metrics.
    let analyzed = run(remote, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .expect("cluster EXPLAIN ANALYZE");
    assert!(
        analyzed.contains("BoundedWindowAggExec") && analyzed.contains("output_rows="),
        "{analyzed}"
    );
    // After each shuffle the map tasks' sorted outputs are merged, not sorted again.
    assert!(
        analyzed.contains("ShuffleMergeExec") && analyzed.contains("merged_runs="),
        "{analyzed}"
    );
    // Moving average and volatility alone: the rows window (tickflow_plan::rows_window) runs
    // on the executors, shipped as the window it replaces, with the local results.
    let sql = "SELECT symbol, b, c, avg(c) OVER w AS ma, stddev(c) OVER w AS vol, \
                      count(c) OVER w AS n, min(c) OVER w AS lo, max(c) OVER w AS hi \
               FROM (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS b, \
                            CAST(ohlc(ts, price, seq)['close'] AS DOUBLE) AS c \
                     FROM ordered_trades GROUP BY 1, 2) \
               WINDOW w AS (PARTITION BY symbol ORDER BY b ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)";
    let plan = run(local, &format!("EXPLAIN {sql}"))
        .await
        .expect("local rows window explain");
    assert!(plan.contains("RowsWindowExec"), "{plan}");
    let l = run(local, sql).await.expect("local rows window query");
    let r = run(remote, sql).await.expect("cluster rows window query");
    assert!(l.lines().count() > 100, "{sql}: too few bars");
    assert_same_rows(sql, &sorted_lines(&l), &sorted_lines(&r), 0.0);
    let analyzed = run(remote, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .expect("cluster rows window EXPLAIN ANALYZE");
    assert!(
        analyzed.contains("RowsWindowExec") && !analyzed.contains("BoundedWindowAggExec"),
        "{analyzed}"
    );
    // IGNORE NULLS reaches the executors (cluster::ignore_nulls): empty bars take the last value.
    let sql = "SELECT symbol, b, c, last_value(c) IGNORE NULLS OVER w AS locf, \
                      lag(c) IGNORE NULLS OVER w AS prev \
               FROM (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS b, \
                            CASE WHEN count(*) % 3 = 0 THEN NULL \
                                 ELSE CAST(vwap(price, size) AS DOUBLE) END AS c \
                     FROM ordered_trades GROUP BY 1, 2) \
               WINDOW w AS (PARTITION BY symbol ORDER BY b)";
    let l = run(local, sql).await.expect("local IGNORE NULLS query");
    let r = run(remote, sql).await.expect("cluster IGNORE NULLS query");
    assert!(l.lines().count() > 100, "{sql}: too few bars");
    assert_same_rows(sql, &sorted_lines(&l), &sorted_lines(&r), 1e-10);
    // A window partitioned by a column the WHERE clause makes constant: the order after the
    // shuffle must still cover the partition key (it failed on the executors: "All partition
    // by columns should have an ordering").
    let sql = "SELECT symbol, b, c, row_number() OVER w AS n, avg(c) OVER w AS ma \
               FROM (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS b, \
                            CAST(vwap(price, size) AS DOUBLE) AS c \
                     FROM ordered_trades WHERE symbol = 'AAA' GROUP BY 1, 2) \
               WINDOW w AS (PARTITION BY symbol ORDER BY b ROWS BETWEEN 4 PRECEDING AND CURRENT ROW)";
    let l = run(local, sql)
        .await
        .expect("local constant-key window query");
    let r = run(remote, sql)
        .await
        .expect("cluster constant-key window query");
    assert!(l.lines().count() > 100, "{sql}: too few bars");
    assert_same_rows(sql, &sorted_lines(&l), &sorted_lines(&r), 1e-10);
    gap_filled_session(local, remote).await;
    bars_to_one_file(local, remote, &ordered).await;
}

/// `time_bucket_gapfill` over the first day's NYSE session: the same candles as local, every
/// symbol with exactly the session's minutes, and `GapFillExec` running on the executors.
async fn gap_filled_session(local: &SessionContext, remote: &SessionContext) {
    let day = run(
        local,
        "SELECT CAST(CAST(min(ts) AS DATE) AS VARCHAR) AS day FROM ordered_trades",
    )
    .await
    .expect("first day");
    let day = day
        .lines()
        .find(|l| l.starts_with("| 2"))
        .and_then(|l| l.split('|').nth(1))
        .map(str::trim)
        .expect("a date")
        .to_string();
    let sql = format!(
        "SELECT symbol, time_bucket_gapfill(INTERVAL '1 minute', ts, 'XNYS') AS minute, \
                coalesce(first_value(price ORDER BY ts), locf(last_value(price ORDER BY ts))) AS open, \
                locf(last_value(price ORDER BY ts)) AS close, interpolate(vwap(price, size)) AS v, \
                coalesce(total_volume(size), 0) AS volume \
         FROM ordered_trades \
         WHERE ts >= TIMESTAMP '{day} 00:00:00' AND ts < TIMESTAMP '{day} 00:00:00' + INTERVAL '1 day' \
           AND in_session(ts) \
         GROUP BY symbol, minute"
    );
    let l = run(local, &sql).await.expect("local gap fill");
    let r = run(remote, &sql).await.expect("cluster gap fill");
    assert_same_rows(&sql, &sorted_lines(&l), &sorted_lines(&r), 1e-10);
    let per_symbol = format!(
        "SELECT count(*) AS n, count(DISTINCT minute) AS minutes FROM ({sql}) GROUP BY symbol"
    );
    let session = run(
        local,
        &format!(
            "SELECT count(*) AS n FROM session_buckets(INTERVAL '1 minute', DATE '{day}', DATE '{day}')"
        ),
    )
    .await
    .expect("session buckets");
    let minutes = session
        .lines()
        .filter_map(|l| l.split('|').nth(1)?.trim().parse::<usize>().ok())
        .next()
        .expect("a count");
    assert!(minutes == 390 || minutes == 210, "{day}: {minutes} minutes");
    let counts = run(remote, &per_symbol)
        .await
        .expect("cluster per-symbol counts");
    let rows: Vec<&str> = counts
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains(" n "))
        .collect();
    assert!(!rows.is_empty(), "{counts}");
    for row in rows {
        let cells: Vec<usize> = row
            .split('|')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        assert_eq!(cells, vec![minutes, minutes], "{day}: {counts}");
    }
    let analyzed = run(remote, &format!("EXPLAIN ANALYZE {sql}"))
        .await
        .expect("cluster EXPLAIN ANALYZE of the gap fill");
    assert!(
        analyzed.contains("GapFillExec") && analyzed.contains("filled_rows="),
        "{analyzed}"
    );
}

/// The bars of the ordered table written to one Parquet file by the cluster, as the benchmark
/// does: the same rows as local, in (symbol, bar) order in the file, with the session's Parquet
/// settings, in two stages; the cluster's `EXPLAIN ANALYZE` of the COPY lines up (the merge of
/// the map outputs adds no sort on the executor).
async fn bars_to_one_file(local: &SessionContext, remote: &SessionContext, ordered: &Path) {
    let bars = "SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS b, vwap(price, size) AS v, \
                count(*) AS n FROM ordered_trades GROUP BY 1, 2";
    let out = ordered.with_file_name("bars.parquet");
    let copy = format!("COPY ({bars}) TO '{}' STORED AS PARQUET", out.display());
    run(remote, &copy).await.expect("cluster COPY of the bars");
    let one_partition = SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_target_partitions(1),
    )
    .enable_url_table();
    let file = format!("SELECT symbol, b, v, n FROM '{}'", out.display());
    let batches = one_partition
        .sql(&file)
        .await
        .expect("read the bars back")
        .collect()
        .await
        .expect("read the bars back");
    // The file's rows in file order, as (symbol, bar) text: sorted, with no pair twice.
    let keys: Vec<String> = pretty_format_batches(&batches)
        .expect("printable")
        .to_string()
        .lines()
        .filter(|l| l.starts_with("| "))
        .skip(1)
        .map(|l| l.split('|').take(3).collect::<Vec<_>>().join("|"))
        .collect();
    assert!(keys.len() > 100, "too few bars: {}", keys.len());
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "the cluster's bars file is not in (symbol, bar) order"
    );
    let written = canonical(&batches);
    let expected = run(local, bars).await.expect("local bars");
    assert_same_rows(bars, &sorted_lines(&expected), &sorted_lines(&written), 0.0);
    // Written with the session's Parquet settings (tickflow's: no dictionaries), as locally.
    use datafusion::parquet::basic::Encoding;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(&out).expect("the bars file"))
        .expect("a Parquet file");
    let column = reader.metadata().row_group(0).column(2).clone();
    assert!(
        !column.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
        "the cluster ignored the session's dictionary_enabled = false: {column:?}"
    );
    let analyzed = run(remote, &format!("EXPLAIN ANALYZE {copy}"))
        .await
        .expect("cluster EXPLAIN ANALYZE of the COPY");
    // Two stages: the partial bars of each file, then their merge, the final aggregation and
    // the write, in one task (cluster::final_after_merge); no second shuffle of the bars.
    assert!(
        analyzed.contains("SuccessfulStage[stage_id=2")
            && !analyzed.contains("stage_id=3")
            && analyzed.contains("SortPreservingMergeExec"),
        "{analyzed}"
    );
}

/// The heart of an error message: on its first line, the text after the last DataFusion error
/// kind, up to the first quote (the cluster may escape quotes), at most 60 characters.
fn core_message(error: &str) -> String {
    let first = error.lines().next().unwrap_or_default();
    let start = [
        "Error during planning: ",
        "Execution error: ",
        "Arrow error: ",
    ]
    .iter()
    .filter_map(|kind| first.rfind(kind).map(|at| at + kind.len()))
    .max()
    .unwrap_or(0);
    first[start..]
        .chars()
        .take_while(|c| !matches!(c, '"' | '\''))
        .take(60)
        .collect()
}

/// A local session and a session on `cluster`, both with 4 partitions and `batch_size` rows per
/// batch (DataFusion's default if None).
async fn sessions(
    cluster: &Cluster,
    batch_size: Option<usize>,
) -> (SessionContext, SessionContext) {
    let config = EngineConfig {
        target_partitions: Some(4),
        batch_size,
        engine: Engine::Local,
    };
    let local = tickflow_cluster::context(&config)
        .await
        .expect("local session");
    let remote = tickflow_cluster::context(&EngineConfig {
        engine: Engine::Cluster(cluster.url.clone()),
        ..config
    })
    .await
    .expect("cluster session");
    (local, remote)
}

/// Part 3: every record of every `.slt` file, local vs cluster.
async fn slt_suite(cluster: &Cluster) -> usize {
    let slt = workspace().join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&slt)
        .expect("tests/slt")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    let mut compared = 0;
    let mut unsupported = 0;
    for file in files {
        let test_dir = tempfile::tempdir().expect("temp dir");
        let (local, remote) = sessions(cluster, Some(3)).await;
        let records = sqllogictest::parse_file::<DefaultColumnType>(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for record in records {
            let (sql, loc) = match record {
                Record::Statement { sql, loc, .. } | Record::Query { sql, loc, .. } => (sql, loc),
                _ => continue,
            };
            let sql = sql
                .replace("${SLT_DIR}", &slt.display().to_string())
                .replace("${__TEST_DIR__}", &test_dir.path().display().to_string());
            let l = run(&local, &sql).await;
            let r = run(&remote, &sql).await;
            let is_explain = sql.trim_start().to_uppercase().starts_with("EXPLAIN");
            match (&l, &r) {
                (Ok(_), Ok(_)) if is_explain => {}
                (Ok(a), Ok(b)) => assert_same_rows(
                    &format!("{loc}: {sql}"),
                    &sorted_lines(a),
                    &sorted_lines(b),
                    FLOAT_TOLERANCE,
                ),
                (Err(a), Err(b)) => {
                    // The same message, where Ballista kept one: it forwards an executor's
                    // error in Debug form, which for an Arrow error is only its variant name
                    // (`ArrowError(DivideByZero)`).
                    let core = core_message(a);
                    let has_message = !b.contains("Task failed") || b.contains("(\"");
                    let b = tickflow_cluster::readable_error(b);
                    assert!(
                        b.contains(&core) || !has_message,
                        "{loc}: {sql}\nlocal:   {a}\ncluster: {b}"
                    );
                }
                // Unbounded (streaming) tables are a local feature; the cluster must say so.
                (Ok(_), Err(e)) if e.contains("cannot be read on a Ballista cluster") => {
                    unsupported += 1;
                }
                _ => panic!(
                    "{loc}: {sql}\nlocal:   {l:?}\ncluster: {r:?}\n{}",
                    cluster.logs()
                ),
            }
            compared += 1;
        }
    }
    // time_bucket.slt's one UNBOUNDED table: its EXPLAIN and its query.
    assert!(
        unsupported <= 3,
        "{unsupported} .slt records cannot run on the cluster"
    );
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_results_equal_local_results() {
    let cluster = Cluster::start(2);
    let dir = tempfile::tempdir().expect("temp dir");
    tickflow(
        &[
            "gen",
            "--rows",
            "60K",
            "--days",
            "3",
            "--symbols",
            "6",
            "--out",
            "data",
        ],
        dir.path(),
    );

    pipeline(&cluster, dir.path());
    repl(&cluster, dir.path());

    let (local, remote) = sessions(&cluster, None).await;
    bar_queries(&local, &remote, &dir.path().join("data")).await;

    let compared = slt_suite(&cluster).await;
    assert!(compared > 200, "only {compared} .slt records compared");

    for i in 0..2 {
        assert!(
            cluster.tasks_run(i) > 0,
            "executor {i} ran no task\n{}",
            cluster.logs()
        );
    }
    println!(
        "compared {compared} .slt records; tasks run: executor0 {}, executor1 {}",
        cluster.tasks_run(0),
        cluster.tasks_run(1)
    );
}

/// The cluster with its data on an S3 server (moto): `tickflow ingest --out s3://…`, then the
/// bar queries on the cluster equal local ones. The executors get the endpoint and credentials
/// only from the client's `SET s3.…` (shipped with each job), read through the disk cache
/// (a second run sends no GET, counted by the server) and log its counters; `COPY … TO
/// 's3://…'` on the cluster writes a table a local session reads back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_reads_and_writes_s3() {
    use tickflow_tests::object_servers::S3Server;
    let server = S3Server::start();
    server.create_bucket("ticks");
    let dir = tempfile::tempdir().expect("temp dir");
    tickflow(
        &[
            "gen",
            "--rows",
            "40K",
            "--days",
            "2",
            "--symbols",
            "6",
            "--format",
            "csv",
            "--out",
            "csv",
        ],
        dir.path(),
    );
    let ingest = Command::new(binary("tickflow"))
        .args(["ingest", "csv", "--out", "s3://ticks/trades"])
        .current_dir(dir.path())
        .envs(server.cli_env())
        .output()
        .expect("tickflow ingest");
    assert!(
        ingest.status.success(),
        "{}",
        String::from_utf8_lossy(&ingest.stderr)
    );

    let cluster = Cluster::start(2);
    let (local, remote) = sessions(&cluster, None).await;
    let cache = dir.path().join("cache");
    for ctx in [&local, &remote] {
        for (key, value) in [
            ("s3.access_key_id", S3Server::ACCESS_KEY_ID.to_string()),
            (
                "s3.secret_access_key",
                S3Server::SECRET_ACCESS_KEY.to_string(),
            ),
            ("s3.region", S3Server::REGION.to_string()),
            ("s3.endpoint", server.endpoint()),
            ("s3.allow_http", "true".to_string()),
            ("cache.dir", cache.display().to_string()),
        ] {
            run(ctx, &format!("SET {key} = '{value}'"))
                .await
                .expect("SET");
        }
        run(
            ctx,
            "CREATE EXTERNAL TABLE trades STORED AS PARQUET LOCATION 's3://ticks/trades/' \
             WITH ORDER (symbol ASC, ts ASC)",
        )
        .await
        .expect("create table");
    }
    let gets = || server.requests("GET", "/ticks/trades/date=");
    let mut first = 0;
    for round in 0..2 {
        for (width, zone) in [("1 minute", ""), ("5 minutes", ", 'America/New_York'")] {
            let sql = format!(
                "SELECT symbol, time_bucket(INTERVAL '{width}', ts{zone}) AS b, \
                        ohlc(ts, price, seq) AS o, vwap(price, size) AS v, bar_std(price) AS s, \
                        total_volume(size) AS vol, count(*) AS n \
                 FROM trades GROUP BY 1, 2"
            );
            let r = run(&remote, &sql).await.expect("cluster bar query on S3");
            let l = run(&local, &sql).await.expect("local bar query on S3");
            assert!(l.lines().count() > 100, "{sql}: too few bars");
            assert_same_rows(&sql, &sorted_lines(&l), &sorted_lines(&r), 0.0);
        }
        if round == 0 {
            first = gets();
            assert!(first > 0, "{}", server.log());
        } else {
            assert_eq!(gets(), first, "the second round sent GETs");
        }
    }
    for i in 0..2 {
        assert!(cluster.tasks_run(i) > 0, "executor {i} ran no task");
    }
    assert!(
        cluster.logs().contains("object cache"),
        "the executors did not log the cache counters\n{}",
        cluster.logs()
    );

    // The cluster writes to S3; a local session reads it back.
    let bars = "SELECT symbol, time_bucket(INTERVAL '5 minutes', ts) AS b, \
                total_volume(size) AS vol FROM trades GROUP BY 1, 2";
    run(
        &remote,
        &format!("COPY ({bars}) TO 's3://ticks/bars/' STORED AS PARQUET"),
    )
    .await
    .expect("COPY on the cluster");
    let written = run(&local, "SELECT symbol, b, vol FROM 's3://ticks/bars/'")
        .await
        .expect("read back");
    let expected = run(&local, bars).await.expect("local bars");
    assert_same_rows(
        "COPY TO s3://ticks/bars/",
        &sorted_lines(&expected),
        &sorted_lines(&written),
        0.0,
    );
}
