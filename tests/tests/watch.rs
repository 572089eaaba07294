//! `tickflow watch` as a process: files fed one by one, the watcher killed with SIGKILL at
//! seeded random points and restarted, and at the end its bar table equals a batch run of
//! `sql/01_bars.sql` over every file: no file lost, none counted twice. Between kills the table
//! never holds a bar twice. Late trades are diverted to `OUT/_late/` and counted.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use rand::{Rng, SeedableRng};
use tickflow_engine::{EngineConfig, session::local_context};
use tickflow_tests::cli::workspace;
use tickflow_tests::cluster::binary;

/// Kill-and-restart cycles of the fuzz test.
const ITERATIONS: usize = 60;

fn tickflow(args: &[&str], dir: &Path) -> String {
    tickflow_tests::cli::tickflow(args, dir, &[])
}

/// Generated TAQ-style trades, each day's file cut into `parts` files in time order
/// (`trades_YYYYMMDD_pNN.csv`, each with the header): the files that "arrive".
fn arriving_files(dir: &Path, days: &str, parts: usize) -> Vec<(String, String)> {
    tickflow(
        &[
            "gen",
            "--rows",
            "24K",
            "--days",
            days,
            "--symbols",
            "4",
            "--format",
            "csv",
            "--out",
            "gen",
        ],
        dir,
    );
    let mut days: Vec<PathBuf> = std::fs::read_dir(dir.join("gen"))
        .expect("generated files")
        .flatten()
        .map(|e| e.path())
        .collect();
    days.sort();
    let mut out = Vec::new();
    for day in days {
        let text = std::fs::read_to_string(&day).expect("a generated day");
        let mut lines = text.lines();
        let header = lines.next().expect("a header");
        let mut rows: Vec<&str> = lines.collect();
        // By time of day (the second column), keeping the file order of equal times.
        rows.sort_by_key(|r| r.split(',').nth(1).unwrap_or_default().to_string());
        let stem = day
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let chunk = rows.len().div_ceil(parts);
        for (i, part) in rows.chunks(chunk).enumerate() {
            out.push((
                format!("{stem}_p{i:02}.csv"),
                format!("{header}\n{}\n", part.join("\n")),
            ));
        }
    }
    out
}

/// Puts a file into the watched directory whole (written aside, then renamed).
fn feed(source: &Path, (name, text): &(String, String)) {
    let tmp = source.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).expect("write an arriving file");
    std::fs::rename(&tmp, source.join(name)).expect("move it in");
}

async fn text(ctx: &SessionContext, sql: &str) -> String {
    match async { ctx.sql(sql).await?.collect().await }.await {
        Ok(batches) => pretty_format_batches(&batches)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| format!("cannot print: {e}")),
        Err(e) => panic!("{sql}: {e}"),
    }
}

/// A fresh session with `files` ingested in a batch as the table `trades`, after running
/// `statements` (which must copy what they need: the ingested files are removed).
async fn batch_session(
    dir: &Path,
    files: &[(String, String)],
    statements: &[String],
) -> SessionContext {
    let csv = dir.join("batch-csv");
    std::fs::create_dir_all(&csv).expect("batch dir");
    for file in files {
        feed(&csv, file);
    }
    tickflow(&["ingest", "batch-csv", "--out", "batch-trades", "-q"], dir);
    let ctx = local_context(&EngineConfig {
        target_partitions: Some(2),
        ..EngineConfig::default()
    })
    .expect("session");
    text(
        &ctx,
        &format!(
            "CREATE EXTERNAL TABLE trades STORED AS PARQUET LOCATION '{}/' \
             WITH ORDER (symbol ASC, ts ASC)",
            dir.join("batch-trades").display()
        ),
    )
    .await;
    for statement in statements {
        text(&ctx, statement).await;
    }
    std::fs::remove_dir_all(&csv).ok();
    std::fs::remove_dir_all(dir.join("batch-trades")).ok();
    ctx
}

/// `01_bars.sql` over `files` ingested in a batch, in a fresh session: its `bars` table, sorted.
async fn batch_bars(dir: &Path, files: &[(String, String)]) -> String {
    let script =
        std::fs::read_to_string(workspace().join("sql/01_bars.sql")).expect("sql/01_bars.sql");
    let script = tickflow_engine::params::substitute(&script, &Default::default(), "01_bars.sql")
        .expect("defaults");
    // Its statements, without the comment lines (which hold semicolons).
    let code: Vec<&str> = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    let statements: Vec<String> = code
        .join("\n")
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect();
    let ctx = batch_session(dir, files, &statements).await;
    text(&ctx, "SELECT * FROM bars ORDER BY ticker, start").await
}

/// A bar definition's SELECT over `files` ingested in a batch, sorted as [`watched_bars`] sorts.
async fn batch_select(dir: &Path, files: &[(String, String)], select: &str) -> String {
    let create = format!("CREATE TABLE result AS {select}");
    let ctx = batch_session(dir, files, &[create]).await;
    text(&ctx, "SELECT * FROM result ORDER BY ticker, start").await
}

/// The watcher's bar table, sorted as [`batch_bars`] sorts.
async fn watched_bars(out: &Path) -> String {
    let ctx = SessionContext::new().enable_url_table();
    text(
        &ctx,
        &format!("SELECT * FROM '{}/' ORDER BY ticker, start", out.display()),
    )
    .await
}

/// The live view (`--emit complete`) as the README queries it, without `_open`, sorted as
/// [`batch_bars`] sorts.
async fn live_bars(out: &Path) -> String {
    let ctx = SessionContext::new().enable_url_table();
    let live = tickflow_engine::watch::live::live_query(out);
    text(
        &ctx,
        &format!("SELECT * EXCLUDE (_open) FROM ({live}) ORDER BY ticker, start"),
    )
    .await
}

/// Bars that appear more than once in the table (there must be none, at any moment).
async fn duplicated_bars(out: &Path) -> String {
    if !std::fs::read_dir(out)
        .map(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "parquet"))
        })
        .unwrap_or(false)
    {
        return String::new();
    }
    let ctx = SessionContext::new().enable_url_table();
    let found = text(
        &ctx,
        &format!(
            "SELECT ticker, start, count(*) AS n FROM '{}/' GROUP BY 1, 2 HAVING count(*) > 1",
            out.display()
        ),
    )
    .await;
    if found.lines().count() > 3 {
        found
    } else {
        String::new()
    }
}

/// Milliseconds within which to kill a watcher: twice what a whole run over one file takes on
/// this machine now (at least 120), so that kills land before, during and after a trigger's
/// commit however fast or loaded the machine is.
fn kill_window(dir: &Path, file: &(String, String)) -> u64 {
    let source = dir.join("calibrate-in");
    let out = dir.join("calibrate-out");
    std::fs::create_dir_all(&source).expect("calibration source dir");
    feed(&source, file);
    let started = std::time::Instant::now();
    let status = watch(&source, &out, &[])
        .status()
        .expect("run tickflow watch once");
    assert!(status.success(), "the calibration run failed: {status}");
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    millis.saturating_mul(2).max(120)
}

fn watch(source: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(binary("tickflow"));
    command
        .arg("watch")
        .arg(source)
        .arg("--out")
        .arg(out)
        .args(["--once", "--files-per-trigger", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_the_watcher_counts_every_file_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "2", 30);
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(20261124);
    let kill_window = kill_window(dir.path(), &files[0]);
    let mut fed = 0;
    let mut killed_running = 0;
    for iteration in 0..ITERATIONS {
        for _ in 0..rng.random_range(1..=2) {
            if fed < files.len() {
                feed(&source, &files[fed]);
                fed += 1;
            }
        }
        let mut child = watch(&source, &out, &[])
            .spawn()
            .expect("start tickflow watch");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..kill_window)));
        if child.try_wait().expect("poll the watcher").is_none() {
            killed_running += 1;
        }
        child.kill().ok(); // SIGKILL
        let status = child.wait().expect("reap the watcher");
        if let Some(code) = status.code() {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                e.read_to_string(&mut stderr).ok();
            }
            assert_eq!(
                code, 0,
                "iteration {iteration}: the watcher failed:\n{stderr}"
            );
        }
        let duplicated = duplicated_bars(&out).await;
        assert!(
            duplicated.is_empty(),
            "iteration {iteration}: bars counted twice:\n{duplicated}"
        );
    }
    assert!(
        killed_running >= ITERATIONS / 4,
        "only {killed_running} of {ITERATIONS} kills hit a running watcher"
    );
    // The killed runs made progress (how much depends on the machine's speed: 37 and 26 of 60
    // files on a 2-core machine, alone and beside two other tests).
    let checkpoint: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("_watch/checkpoint.json")).expect("a checkpoint"),
    )
    .expect("checkpoint JSON");
    let committed = checkpoint["files"].as_array().map_or(0, |f| f.len());
    assert!(committed >= 5, "{committed} of {fed} files committed");
    for file in &files[fed..] {
        feed(&source, file);
    }
    let status = watch(&source, &out, &["--flush"])
        .status()
        .expect("the last watcher run");
    assert!(status.success());
    let watched = watched_bars(&out).await;
    let expected = batch_bars(dir.path(), &files).await;
    assert!(expected.lines().count() > 100, "{expected}");
    assert_eq!(watched, expected);
    println!(
        "{ITERATIONS} restarts, {killed_running} of them killed mid-run; {committed} of {fed} \
         files committed by the killed runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_trades_are_diverted_and_counted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "2", 4);
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    for file in &files {
        feed(&source, file);
    }
    let status = watch(&source, &out, &[]).status().expect("watch");
    assert!(status.success());
    // A copy of the first morning's file arrives last: its buckets were written long ago.
    let (_, first) = &files[0];
    let late_rows = first.lines().count() - 1;
    feed(&source, &("zz_late.csv".to_string(), first.clone()));
    let before = watched_bars(&out).await;
    let run = watch(&source, &out, &["--flush"])
        .stdout(Stdio::piped())
        .output()
        .expect("watch");
    let progress = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{progress}");
    assert!(
        progress.contains(&format!("({late_rows} late)")),
        "{progress}"
    );
    let ctx = SessionContext::new().enable_url_table();
    let diverted = text(
        &ctx,
        &format!("SELECT count(*) AS n FROM '{}/_late/'", out.display()),
    )
    .await;
    assert!(diverted.contains(&format!("| {late_rows} ")), "{diverted}");
    let checkpoint =
        std::fs::read_to_string(out.join("_watch/checkpoint.json")).expect("checkpoint");
    assert!(
        checkpoint.contains(&format!("\"late_rows\": {late_rows}")),
        "{checkpoint}"
    );
    // The bars already written are unchanged, and the table equals the batch run without the
    // late file.
    let after = watched_bars(&out).await;
    for line in before.lines().filter(|l| l.starts_with("| ")) {
        assert!(after.contains(line), "bar changed or lost: {line}");
    }
    assert_eq!(after, batch_bars(dir.path(), &files).await);
}

/// Parquet trade files arriving in an S3 bucket (moto): the bars equal the batch run's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_files_arriving_in_s3() {
    use tickflow_tests::object_servers::S3Server;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "2", 3);
    let csv = dir.path().join("csv");
    std::fs::create_dir_all(&csv).expect("csv dir");
    for file in &files {
        feed(&csv, file);
    }
    tickflow(&["ingest", "csv", "--out", "pq", "-q"], dir.path());
    let server = S3Server::start();
    server.create_bucket("ticks");
    let mut uploaded = 0;
    for day in std::fs::read_dir(dir.path().join("pq"))
        .expect("ingested")
        .flatten()
    {
        if !day.file_name().to_string_lossy().starts_with("date=") {
            continue;
        }
        for file in std::fs::read_dir(day.path()).expect("a day").flatten() {
            let name = file.file_name().to_string_lossy().to_string();
            // trades_20240304_p01-1a2b3c4d.parquet -> trades_20240304_p01.parquet (time order)
            let stem = name.rsplit_once('-').map_or(name.as_str(), |(s, _)| s);
            let bytes = std::fs::read(file.path()).expect("a parquet file");
            server.put_object("ticks", &format!("incoming/{stem}.parquet"), &bytes);
            uploaded += 1;
        }
    }
    assert_eq!(uploaded, files.len());
    let out = dir.path().join("bars");
    let run = Command::new(binary("tickflow"))
        .args(["watch", "s3://ticks/incoming/", "--out"])
        .arg(&out)
        .args(["--once", "--flush", "--files-per-trigger", "2"])
        .envs(server.cli_env())
        .output()
        .expect("watch");
    let progress = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{progress}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(progress.contains("trigger 3: 2 file(s)"), "{progress}");
    assert_eq!(
        watched_bars(&out).await,
        batch_bars(dir.path(), &files).await
    );
}

/// With `--allowed-lateness`, a file that arrives out of order (older trades after newer ones)
/// is merged into its bars instead of diverted: the table equals the batch run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_lateness_merges_out_of_order_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files = arriving_files(dir.path(), "1", 4);
    // The first part arrives last, under a name that sorts last.
    let first = files.remove(0);
    files.push((format!("zz_{}", first.0), first.1));
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    let lateness = ["--allowed-lateness", "8h"];
    for file in &files[..files.len() - 1] {
        feed(&source, file);
    }
    assert!(
        watch(&source, &out, &lateness)
            .status()
            .expect("watch")
            .success()
    );
    feed(&source, &files[files.len() - 1]);
    let mut args = lateness.to_vec();
    args.push("--flush");
    assert!(
        watch(&source, &out, &args)
            .status()
            .expect("watch")
            .success()
    );
    let checkpoint =
        std::fs::read_to_string(out.join("_watch/checkpoint.json")).expect("checkpoint");
    assert!(checkpoint.contains("\"late_rows\": 0"), "{checkpoint}");
    assert_eq!(
        watched_bars(&out).await,
        batch_bars(dir.path(), &files).await
    );
}

/// `--emit complete`: after each run, the live view (closed bars and the open ones at their
/// current values) equals a batch run of `01_bars.sql` over exactly the files that arrived,
/// with no bar twice, while `OUT/` still holds the closed bars only. A reader whose listing
/// caught a trigger half published sees the trigger before or the trigger itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_view_equals_a_batch_run_over_the_files_that_arrived() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "1", 4);
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    let complete = ["--emit", "complete"];
    let mut previous: Option<String> = None;
    for arrived in 1..=files.len() {
        feed(&source, &files[arrived - 1]);
        let run = watch(&source, &out, &complete).output().expect("watch");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let live = live_bars(&out).await;
        let expected = batch_bars(dir.path(), &files[..arrived]).await;
        assert!(expected.lines().count() > 20, "{expected}");
        assert_eq!(live, expected, "after {arrived} file(s)");
        let ctx = SessionContext::new().enable_url_table();
        let view = tickflow_engine::watch::live::live_query(&out);
        let twice = text(
            &ctx,
            &format!(
                "SELECT ticker, start, count(*) AS n FROM ({view}) GROUP BY 1, 2 \
                 HAVING count(*) > 1"
            ),
        )
        .await;
        assert!(twice.lines().count() <= 3, "bars twice:\n{twice}");
        let open = text(
            &ctx,
            &format!("SELECT count(*) AS n FROM ({view}) WHERE _open"),
        )
        .await;
        assert!(!open.contains("| 0 "), "open bars are shown: {open}");
        // The closed-bar table keeps its meaning: the open bars are not in it.
        let closed = watched_bars(&out).await;
        assert!(closed.lines().count() < live.lines().count());
        for line in closed.lines().filter(|l| l.starts_with("| ")) {
            assert!(
                live.contains(line),
                "a closed bar differs in the live view: {line}"
            );
        }
        // A listing that missed the newest snapshot sees the previous trigger's state; one that
        // missed the newest closed bars sees this trigger's.
        let mut snapshots: Vec<String> = std::fs::read_dir(out.join("_live"))
            .expect("the live view")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("open-"))
            .collect();
        snapshots.sort();
        let newest = snapshots.pop().expect("a snapshot");
        let closed_now = newest.replace("open-", "closed-");
        assert!(
            out.join("_live").join(&closed_now).exists(),
            "each run closes bars"
        );
        let torn = dir.path().join("torn");
        for (hidden, state) in [(&newest, previous.as_ref()), (&closed_now, Some(&live))] {
            let Some(state) = state else {
                continue;
            };
            std::fs::remove_dir_all(&torn).ok();
            std::fs::create_dir_all(torn.join("_live")).expect("torn dir");
            for entry in std::fs::read_dir(out.join("_live"))
                .expect("live")
                .flatten()
            {
                if entry.file_name().to_string_lossy() != hidden.as_str() {
                    std::fs::copy(entry.path(), torn.join("_live").join(entry.file_name()))
                        .expect("copy a live file");
                }
            }
            assert_eq!(&live_bars(&torn).await, state, "without {hidden}");
        }
        previous = Some(live);
    }
    // Closing every bar: the live view and the table agree with the batch run.
    let run = watch(&source, &out, &["--emit", "complete", "--flush"])
        .status()
        .expect("watch");
    assert!(run.success());
    let expected = batch_bars(dir.path(), &files).await;
    assert_eq!(live_bars(&out).await, expected);
    assert_eq!(watched_bars(&out).await, expected);
    // A restart in another mode is refused: the live view would miss bars.
    let run = watch(&source, &out, &[]).output().expect("watch");
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--emit complete"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `--bars FILE.sql`: a definition of its own (a subset of the columns, `count(*)`,
/// `max(price) - min(price)`) gives, after `--once --flush`, exactly its batch query's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_bar_file_gives_its_batch_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "2", 3);
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    let select = "SELECT symbol AS ticker, time_bucket(INTERVAL '${bar_width}', ts) AS start, \
                  count(*) AS trades, max(price) - min(price) AS price_range, \
                  vwap(price, size) AS vwap, total_volume(size) AS volume, \
                  ohlc(ts, price, seq)['close'] AS close \
                  FROM trades GROUP BY 1, 2";
    let file = dir.path().join("range_bars.sql");
    std::fs::write(&file, format!("-- my bars\n{select};\n")).expect("write the bar file");
    for file in &files {
        feed(&source, file);
    }
    let run = watch(
        &source,
        &out,
        &[
            "--bars",
            &file.display().to_string(),
            "--bar-width",
            "5 minutes",
            "--flush",
        ],
    )
    .output()
    .expect("watch");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let watched = watched_bars(&out).await;
    let expected = batch_select(
        dir.path(),
        &files,
        &select.replace("${bar_width}", "5 minutes"),
    )
    .await;
    assert!(expected.lines().count() > 50, "{expected}");
    assert!(expected.contains("| price_range |"), "{expected}");
    assert_eq!(watched, expected);
    // The table cannot be continued with another definition.
    let run = watch(&source, &out, &["--bar-width", "5 minutes"])
        .output()
        .expect("watch");
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("another definition"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `--emit complete` under seeded SIGKILLs: after every kill the live view is exactly one
/// committed trigger's state (a batch run of `01_bars.sql` over the files that trigger had
/// taken, one file per trigger), with no bar twice; after the last run, every file's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_the_live_view_is_always_a_committed_state() {
    const KILLS: usize = 12;
    let dir = tempfile::tempdir().expect("temp dir");
    let files = arriving_files(dir.path(), "1", 12);
    let source = dir.path().join("incoming");
    let out = dir.path().join("bars");
    std::fs::create_dir_all(&source).expect("source dir");
    let mut rng = rand::rngs::SmallRng::seed_from_u64(20261208);
    let kill_window = kill_window(dir.path(), &files[0]);
    let complete = ["--emit", "complete"];
    let mut fed = 0;
    let mut states_checked = 0;
    for iteration in 0..KILLS {
        if fed < files.len() {
            feed(&source, &files[fed]);
            fed += 1;
        }
        let mut child = watch(&source, &out, &complete)
            .spawn()
            .expect("start tickflow watch");
        std::thread::sleep(Duration::from_millis(rng.random_range(0..kill_window)));
        child.kill().ok(); // SIGKILL
        child.wait().expect("reap the watcher");
        let snapshots = std::fs::read_dir(out.join("_live"))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("open-"))
                    .count()
            })
            .unwrap_or(0);
        if snapshots == 0 {
            continue;
        }
        let ctx = SessionContext::new().enable_url_table();
        let view = tickflow_engine::watch::live::live_query(&out);
        let snapshot = text(
            &ctx,
            &format!("SELECT max(_snapshot) AS v FROM '{}/_live/'", out.display()),
        )
        .await;
        let taken: usize = snapshot
            .lines()
            .filter_map(|l| l.trim_matches(|c| c == '|' || c == ' ').parse().ok())
            .next()
            .unwrap_or_else(|| panic!("no snapshot number in {snapshot}"));
        let twice = text(
            &ctx,
            &format!(
                "SELECT ticker, start, count(*) AS n FROM ({view}) GROUP BY 1, 2 \
                 HAVING count(*) > 1"
            ),
        )
        .await;
        assert!(
            twice.lines().count() <= 3,
            "iteration {iteration}: bars twice:\n{twice}"
        );
        assert_eq!(
            live_bars(&out).await,
            batch_bars(dir.path(), &files[..taken]).await,
            "iteration {iteration}: the live view of trigger {taken}"
        );
        states_checked += 1;
    }
    assert!(
        states_checked >= KILLS / 3,
        "{states_checked} states checked"
    );
    for file in &files[fed..] {
        feed(&source, file);
    }
    assert!(
        watch(&source, &out, &complete)
            .status()
            .expect("the last watcher run")
            .success()
    );
    assert_eq!(live_bars(&out).await, batch_bars(dir.path(), &files).await);
}
