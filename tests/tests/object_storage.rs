//! Object storage against real servers on 127.0.0.1: moto (S3) and Azurite (Azure Blob), both
//! started here (`bash scripts/test.sh` installs them; a missing one fails with how to install it).
//!
//! - `tickflow ingest --out s3://…` / `az://…` (the CLI as a process, credentials from the
//!   standard environment variables) writes the same table as a local ingest, and queries over
//!   it (credentials from `SET s3.…` / `azure.…`) give the same rows as over the local copy;
//!   `COPY … TO 's3://…'`, `--table NAME=s3://…` and the catalog work with remote locations.
//! - The disk cache, counted on the server: a second run of a query sends no GET; a replaced
//!   object is fetched again and its new rows are read; a corrupted cache entry is detected and
//!   fetched again; a small cache stays under its bound by evicting.
//! - `tickflow ingest s3://…/` / `az://…/` as sources (a prefix with plain, gzip and Zstandard
//!   objects, an object, a glob): the same table as a local ingest of the same files; a file of
//!   another extension is reported; a rerun is skipped; a missing bucket, an empty prefix and an
//!   unreachable endpoint are errors naming the URL.
//! - Faults, through a proxy in front of moto: transient 503s are retried and the query succeeds;
//!   a server that stops mid-query or hangs fails the query with an error naming the location,
//!   within the retry bound.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use tickflow_engine::storage::block_cache;
use tickflow_engine::{EngineConfig, session::local_context};
use tickflow_tests::cli::tickflow;
use tickflow_tests::cluster::binary;
use tickflow_tests::object_servers::{Azurite, FaultProxy, S3Server};

/// A bar query over every tickflow bar function.
fn bars(table: &str) -> String {
    format!(
        "SELECT symbol, time_bucket(INTERVAL '5 minutes', ts) AS b, ohlc(ts, price, seq) AS o, \
                vwap(price, size) AS v, bar_std(price) AS s, total_volume(size) AS vol, count(*) AS n \
         FROM {table} GROUP BY 1, 2 ORDER BY 1, 2"
    )
}

/// Trades as TAQ-style CSV, ingested into a local directory: the reference copy.
fn trades(dir: &Path) -> PathBuf {
    tickflow(
        &[
            "gen",
            "--rows",
            "30K",
            "--days",
            "3",
            "--symbols",
            "5",
            "--format",
            "csv",
            "--out",
            "csv",
        ],
        dir,
        &[],
    );
    tickflow(&["ingest", "csv", "--out", "local"], dir, &[]);
    dir.join("local")
}

fn s3_env(server: &S3Server) -> Vec<(&'static str, String)> {
    let mut env = server.cli_env();
    env.push(("TICKFLOW_CACHE", "off".into()));
    env
}

async fn run(ctx: &SessionContext, sql: &str) -> String {
    match async { ctx.sql(sql).await?.collect().await }.await {
        Ok(batches) => pretty_format_batches(&batches)
            .map(|t| t.to_string())
            .unwrap_or_else(|e| format!("cannot print: {e}")),
        Err(e) => panic!("{sql}: {e}"),
    }
}

async fn run_err(ctx: &SessionContext, sql: &str) -> String {
    match async { ctx.sql(sql).await?.collect().await }.await {
        Ok(_) => panic!("{sql}: succeeded, an error was expected"),
        Err(e) => e.to_string(),
    }
}

/// A local session with `settings` applied (`SET key = 'value'`).
async fn session(settings: &[(&str, String)]) -> SessionContext {
    let ctx = local_context(&EngineConfig {
        target_partitions: Some(2),
        ..EngineConfig::default()
    })
    .expect("session");
    for (key, value) in settings {
        run(&ctx, &format!("SET {key} = '{value}'")).await;
    }
    ctx
}

fn s3_settings(endpoint: &str, cache: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut settings = vec![
        ("s3.access_key_id", S3Server::ACCESS_KEY_ID.to_string()),
        (
            "s3.secret_access_key",
            S3Server::SECRET_ACCESS_KEY.to_string(),
        ),
        ("s3.region", S3Server::REGION.to_string()),
        ("s3.endpoint", endpoint.to_string()),
        ("s3.allow_http", "true".to_string()),
    ];
    match cache {
        Some(dir) => settings.push(("cache.dir", dir.display().to_string())),
        None => settings.push(("cache.enabled", "false".to_string())),
    }
    settings
}

fn cache_stats(dir: &Path) -> block_cache::StatsSnapshot {
    block_cache::opened()
        .into_iter()
        .find(|c| c.root() == dir)
        .map(|c| c.stats.snapshot())
        .unwrap_or_default()
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "blk") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

const TABLE: &str = "CREATE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION '{location}' \
                     WITH ORDER (symbol ASC, ts ASC)";

fn table(name: &str, location: &str) -> String {
    TABLE
        .replace("{name}", name)
        .replace("{location}", location)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_ingest_query_copy_and_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local_dir = trades(dir.path());
    let server = S3Server::start();
    server.create_bucket("ticks");
    let env = s3_env(&server);
    let out = tickflow(
        &["ingest", "csv", "--out", "s3://ticks/trades"],
        dir.path(),
        &env,
    );
    assert!(out.contains("s3://ticks/trades"), "{out}");
    assert!(
        server.requests("PUT", "/ticks/trades/date=") >= 3,
        "{}",
        server.log()
    );
    assert!(server.requests("PUT", "/ticks/trades/_tickflow/ingest.json") == 1);

    // A rerun of the same ingest skips every source (the manifest is read back from S3).
    let again = tickflow(
        &["ingest", "csv", "--out", "s3://ticks/trades"],
        dir.path(),
        &env,
    );
    assert!(again.contains("3 skipped"), "{again}");

    let cache = dir.path().join("cache");
    let ctx = session(&s3_settings(&server.endpoint(), Some(&cache))).await;
    run(&ctx, &table("remote", "s3://ticks/trades/")).await;
    run(&ctx, &table("here", &format!("{}/", local_dir.display()))).await;
    let expected = run(&ctx, &bars("here")).await;
    assert!(expected.lines().count() > 100, "{expected}");

    // Cold: the bars equal the local copy's, fetched with GETs.
    let gets = || server.requests("GET", "/ticks/trades/date=");
    assert_eq!(run(&ctx, &bars("remote")).await, expected);
    let cold = gets();
    assert!(cold > 0, "{}", server.log());
    let stats = cache_stats(&cache);
    assert!(stats.misses > 0 && stats.gets > 0, "{stats}");

    // Warm: no GET at all for the cached ranges; the blocks came from disk.
    assert_eq!(run(&ctx, &bars("remote")).await, expected);
    assert_eq!(gets(), cold, "the second run sent GETs");
    let warm = cache_stats(&cache);
    assert!(warm.hits > stats.hits, "{warm}");
    assert_eq!(warm.misses, stats.misses, "{warm}");

    // A URL table and the `\cache` report.
    let count = run(&ctx, "SELECT count(*) AS n FROM 's3://ticks/trades/'").await;
    assert!(count.contains("30000"), "{count}");
    let report = tickflow_engine::storage::cache_report();
    assert!(report.contains(&cache.display().to_string()), "{report}");

    // A replaced object: re-fetched, and its new rows are the ones read.
    let key = {
        let listing = run(
            &ctx,
            "SELECT date, count(*) AS n FROM remote GROUP BY date ORDER BY date",
        )
        .await;
        assert!(listing.contains("2024-03-04"), "{listing}");
        let file = std::fs::read_dir(local_dir.join("date=2024-03-04"))
            .expect("local partition")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .find(|n| n.ends_with(".parquet"))
            .expect("a parquet file");
        format!("trades/date=2024-03-04/{file}")
    };
    let replacement = dir.path().join("replacement.parquet");
    run(
        &ctx,
        &format!(
            "COPY (SELECT symbol, ts, price, size, exchange, conditions, seq, source_seq \
                   FROM here WHERE date = '2024-03-04' AND symbol = 'AAA' ORDER BY symbol, ts) \
             TO '{}' STORED AS PARQUET",
            replacement.display()
        ),
    )
    .await;
    server.put_object(
        "ticks",
        &key,
        &std::fs::read(&replacement).expect("replacement file"),
    );
    let before = server.requests("GET", &key);
    let expected_after = run(
        &ctx,
        "SELECT count(*) AS n FROM here WHERE date <> '2024-03-04' OR symbol = 'AAA'",
    )
    .await;
    assert_eq!(
        run(&ctx, "SELECT count(*) AS n FROM remote").await,
        expected_after
    );
    assert!(server.requests("GET", &key) > before, "not fetched again");
    assert!(cache_stats(&cache).stale > 0, "{}", cache_stats(&cache));
    // Back to the original object for the rest of the test.
    server.put_object(
        "ticks",
        &key,
        &std::fs::read(local_dir.join(key.trim_start_matches("trades/"))).expect("original"),
    );
    assert_eq!(run(&ctx, &bars("remote")).await, expected);

    // Corrupted cache entries: detected, deleted and fetched again; the answer is unchanged.
    let blocks = cache_files(&cache);
    assert!(!blocks.is_empty());
    for path in &blocks {
        let mut data = std::fs::read(path).expect("block");
        let middle = data.len() / 2;
        data[middle] ^= 0x5a;
        std::fs::write(path, data).expect("corrupt a block");
    }
    let corrupt_before = cache_stats(&cache).corrupt;
    let gets_before = gets();
    assert_eq!(run(&ctx, &bars("remote")).await, expected);
    assert!(cache_stats(&cache).corrupt > corrupt_before);
    assert!(
        gets() > gets_before,
        "corrupt blocks were not fetched again"
    );

    // A small cache stays under its bound, evicting least recently used blocks.
    let small = dir.path().join("small-cache");
    let bounded = session(&s3_settings(&server.endpoint(), Some(&small))).await;
    run(&bounded, "SET cache.max_size = '200KiB'").await;
    run(&bounded, "SET cache.block_size = '16KiB'").await;
    run(&bounded, &table("remote", "s3://ticks/trades/")).await;
    run(
        &bounded,
        &table("here", &format!("{}/", local_dir.display())),
    )
    .await;
    assert_eq!(run(&bounded, &bars("remote")).await, expected);
    let used: u64 = cache_files(&small)
        .iter()
        .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
        .sum();
    assert!(used <= 200 * 1024, "{used} bytes cached, bound 200 KiB");
    let stats = cache_stats(&small);
    assert!(stats.evictions > 0, "{stats}");

    // COPY TO s3:// and back; `--table NAME=s3://…` and the catalog in another process.
    run(
        &ctx,
        &format!(
            "COPY ({}) TO 's3://ticks/bars/' STORED AS PARQUET",
            bars("here")
        ),
    )
    .await;
    let copied = run(&ctx, "SELECT count(*) AS n FROM 's3://ticks/bars/'").await;
    let bar_rows = expected.lines().count() - 4; // borders and header
    assert!(copied.contains(&format!("| {bar_rows} ")), "{copied}");
    let out = tickflow(
        &[
            "sql",
            "--table",
            "bars=s3://ticks/bars/",
            "-c",
            "SELECT count(*) AS n FROM bars",
        ],
        dir.path(),
        &env,
    );
    assert!(out.contains(&bar_rows.to_string()), "{out}");
    // `--table` recorded it in the catalog: a new process sees it.
    let out = tickflow(
        &["sql", "-c", "SELECT count(*) AS n FROM bars"],
        dir.path(),
        &env,
    );
    assert!(out.contains(&bar_rows.to_string()), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_ingest_query_and_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local_dir = trades(dir.path());
    let server = Azurite::start();
    server.create_container("ticks");
    let env = vec![
        ("AZURE_STORAGE_ACCOUNT_NAME", server.account().to_string()),
        ("AZURE_STORAGE_ACCOUNT_KEY", server.key().to_string()),
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", server.port()),
        ),
        ("TICKFLOW_CACHE", "off".into()),
    ];
    tickflow(
        &["ingest", "csv", "--out", "az://ticks/trades"],
        dir.path(),
        &env,
    );
    assert!(
        server.requests("PUT", "/ticks/trades/date=") >= 3,
        "{}",
        server.log()
    );

    let cache = dir.path().join("cache");
    let ctx = session(&[
        ("azure.account_name", server.account().to_string()),
        ("azure.access_key", server.key().to_string()),
        ("azure.endpoint", server.endpoint()),
        ("azure.allow_http", "true".to_string()),
        ("cache.dir", cache.display().to_string()),
    ])
    .await;
    run(&ctx, &table("remote", "az://ticks/trades/")).await;
    run(&ctx, &table("here", &format!("{}/", local_dir.display()))).await;
    let expected = run(&ctx, &bars("here")).await;
    assert_eq!(run(&ctx, &bars("remote")).await, expected);
    let gets = || server.requests("GET", "/ticks/trades/date=");
    let cold = gets();
    assert!(cold > 0, "{}", server.log());
    assert_eq!(run(&ctx, &bars("remote")).await, expected);
    assert_eq!(gets(), cold, "the second run sent GETs");

    // The abfss:// form of the same container.
    let abfss = format!(
        "abfss://ticks@{}.dfs.core.windows.net/trades/",
        server.account()
    );
    run(&ctx, &table("remote2", &abfss)).await;
    assert_eq!(run(&ctx, &bars("remote2")).await, expected);

    // COPY TO az:// and back.
    run(
        &ctx,
        &format!(
            "COPY ({}) TO 'az://ticks/bars/' STORED AS PARQUET",
            bars("here")
        ),
    )
    .await;
    let copied = run(&ctx, "SELECT count(*) AS n FROM 'az://ticks/bars/'").await;
    let bar_rows = expected.lines().count() - 4;
    assert!(copied.contains(&format!("| {bar_rows} ")), "{copied}");
}

/// The generated CSV files of [`trades`] (`DIR/csv/*.csv`), by name, with their bytes.
fn csv_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join("csv"))
        .expect("csv dir")
        .flatten()
        .map(|e| {
            let bytes = std::fs::read(e.path()).expect("read csv");
            (e.file_name().to_string_lossy().to_string(), bytes)
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    files
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

/// Runs `tickflow ARGS` in `dir`: (succeeded, stdout, stderr).
fn tickflow_output(args: &[&str], dir: &Path, env: &[(&str, String)]) -> (bool, String, String) {
    let out = Command::new(binary("tickflow"))
        .args(args)
        .current_dir(dir)
        .env("TICKFLOW_CATALOG", dir.join("catalog.json"))
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .output()
        .expect("run tickflow");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every row of two local ingests, side by side: equal when the tables are.
async fn same_rows(a: &Path, b: &Path) -> (String, String) {
    let ctx = session(&[]).await;
    let all = |dir: &Path| {
        format!(
            "SELECT * FROM '{}/' ORDER BY symbol, ts, seq",
            dir.display()
        )
    };
    let left = run(&ctx, &all(a)).await;
    let right = run(&ctx, &all(b)).await;
    assert!(
        left.lines().count() > 30_000,
        "{}",
        &left[..left.len().min(2000)]
    );
    (left, right)
}

/// `tickflow ingest s3://bucket/prefix/`: a prefix of plain and gzip objects (and one of another
/// extension, reported) ingests to the same rows as the local files; a rerun is skipped; an
/// object and a glob are sources too; errors name the URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_sources_ingest_like_local_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local_dir = trades(dir.path());
    let server = S3Server::start();
    server.create_bucket("raw");
    let files = csv_files(dir.path());
    for (i, (name, bytes)) in files.iter().enumerate() {
        if i == 0 {
            server.put_object("raw", &format!("trades/{name}.gz"), &gzip(bytes));
        } else {
            server.put_object("raw", &format!("trades/{name}"), bytes);
        }
    }
    server.put_object("raw", "trades/README.md", b"where these files come from");
    let env = s3_env(&server);

    let (ok, out, err) = tickflow_output(
        &["ingest", "s3://raw/trades/", "--out", "from_s3", "-q"],
        dir.path(),
        &env,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("ingested 3 file(s)"), "{out}");
    assert!(
        err.contains(
            "skipped 1 file in s3://raw/trades/ with extensions other than .csv/.txt[.gz|.zst]: README.md"
        ),
        "{err}"
    );
    let (left, right) = same_rows(&local_dir, &dir.path().join("from_s3")).await;
    assert!(left == right, "the S3 ingest differs from the local one");

    // A rerun reads the manifest's URL keys: every source is unchanged.
    let again = tickflow(
        &["ingest", "s3://raw/trades/", "--out", "from_s3", "-q"],
        dir.path(),
        &env,
    );
    assert!(again.contains("3 skipped"), "{again}");

    // One object, and a glob over the rest: together, every row.
    let object = format!("s3://raw/trades/{}.gz", files[0].0);
    tickflow(
        &["ingest", &object, "--out", "parts", "-q"],
        dir.path(),
        &env,
    );
    let glob = tickflow(
        &["ingest", "s3://raw/trades/*.csv", "--out", "parts", "-q"],
        dir.path(),
        &env,
    );
    assert!(glob.contains("ingested 2 file(s)"), "{glob}");
    let ctx = session(&[]).await;
    let count = run(
        &ctx,
        &format!(
            "SELECT count(*) AS n FROM '{}/'",
            dir.path().join("parts").display()
        ),
    )
    .await;
    assert!(count.contains("| 30000 |"), "{count}");

    // Errors name the URL: a missing bucket, an empty prefix, an unreachable endpoint.
    let (ok, _, err) = tickflow_output(
        &["ingest", "s3://nobucket/trades/", "--out", "x", "-q"],
        dir.path(),
        &env,
    );
    assert!(!ok && err.contains("s3://nobucket"), "{err}");
    let (ok, _, err) = tickflow_output(
        &["ingest", "s3://raw/empty/", "--out", "x", "-q"],
        dir.path(),
        &env,
    );
    assert!(
        !ok && err.contains("s3://raw/empty/: no objects under this prefix"),
        "{err}"
    );
    let mut unreachable = env.clone();
    unreachable.push(("AWS_ENDPOINT", "http://127.0.0.1:1".into()));
    let (ok, _, err) = tickflow_output(
        &["ingest", "s3://raw/trades/", "--out", "x", "-q"],
        dir.path(),
        &unreachable,
    );
    assert!(!ok && err.contains("s3://raw/trades"), "{err}");
}

/// `tickflow ingest az://container/prefix/` (and the `abfss://` form): plain and Zstandard blobs
/// ingest to the same rows as the local files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_sources_ingest_like_local_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local_dir = trades(dir.path());
    let server = Azurite::start();
    server.create_container("raw");
    for (i, (name, bytes)) in csv_files(dir.path()).iter().enumerate() {
        if i == 1 {
            let zst = zstd::stream::encode_all(&bytes[..], 3).expect("zstd");
            server.put_blob("raw", &format!("trades/{name}.zst"), &zst);
        } else {
            server.put_blob("raw", &format!("trades/{name}"), bytes);
        }
    }
    let env = vec![
        ("AZURE_STORAGE_ACCOUNT_NAME", server.account().to_string()),
        ("AZURE_STORAGE_ACCOUNT_KEY", server.key().to_string()),
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_string()),
        (
            "AZURITE_BLOB_STORAGE_URL",
            format!("http://127.0.0.1:{}", server.port()),
        ),
        ("TICKFLOW_CACHE", "off".into()),
    ];
    let out = tickflow(
        &["ingest", "az://raw/trades/", "--out", "from_az", "-q"],
        dir.path(),
        &env,
    );
    assert!(out.contains("ingested 3 file(s)"), "{out}");
    let (left, right) = same_rows(&local_dir, &dir.path().join("from_az")).await;
    assert!(left == right, "the Azure ingest differs from the local one");

    let abfss = format!(
        "abfss://raw@{}.dfs.core.windows.net/trades/",
        server.account()
    );
    tickflow(
        &["ingest", &abfss, "--out", "from_abfss", "-q"],
        dir.path(),
        &env,
    );
    let (left, right) = same_rows(&local_dir, &dir.path().join("from_abfss")).await;
    assert!(
        left == right,
        "the abfss:// ingest differs from the local one"
    );
}

/// Transient 503s are retried; a server that goes down mid-query or hangs is a clear error
/// naming the location, within the retry bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_faults_are_retried_or_reported_in_bounded_time() {
    let dir = tempfile::tempdir().expect("temp dir");
    let local_dir = trades(dir.path());
    let server = S3Server::start();
    server.create_bucket("ticks");
    tickflow(
        &["ingest", "csv", "--out", "s3://ticks/trades"],
        dir.path(),
        &s3_env(&server),
    );

    // 503s: three in a row, then the server answers.
    let proxy = FaultProxy::start(server.port());
    let mut settings = s3_settings(&proxy.endpoint(), None);
    settings.push(("storage.max_retries", "4".into()));
    let ctx = session(&settings).await;
    run(&ctx, &table("remote", "s3://ticks/trades/")).await;
    let expected = run(&ctx, "SELECT count(*) AS n, sum(size) AS s FROM remote").await;
    proxy.fail_next(3);
    let seen = proxy.requests();
    assert_eq!(
        run(&ctx, "SELECT count(*) AS n, sum(size) AS s FROM remote").await,
        expected
    );
    assert!(
        proxy.requests() - seen > 3,
        "the 503s were not sent: {:?}",
        proxy.request_lines()
    );

    // Down mid-query: bounded retries, then an error naming the location.
    let bound = Duration::from_secs(30);
    let mut settings = s3_settings(&proxy.endpoint(), None);
    settings.extend([
        ("storage.max_retries", "2".to_string()),
        ("storage.retry_timeout", "5s".to_string()),
        ("storage.connect_timeout", "2s".to_string()),
        ("storage.timeout", "5s".to_string()),
    ]);
    let ctx = session(&settings).await;
    run(&ctx, &table("remote", "s3://ticks/trades/")).await;
    proxy.stop_after(2);
    let started = Instant::now();
    let err = run_err(&ctx, &bars("remote")).await;
    let took = started.elapsed();
    assert!(took < bound, "took {took:?}: {err}");
    assert!(err.contains("s3://ticks/"), "{err}");
    println!("server down mid-query, after {took:?}: {err}");

    // A hung server: the request timeout, then the same.
    let hung = FaultProxy::start(server.port());
    let mut settings = s3_settings(&hung.endpoint(), None);
    settings.extend([
        ("storage.max_retries", "1".to_string()),
        ("storage.retry_timeout", "3s".to_string()),
        ("storage.timeout", "2s".to_string()),
    ]);
    let ctx = session(&settings).await;
    run(&ctx, &table("remote", "s3://ticks/trades/")).await;
    hung.hang();
    let started = Instant::now();
    let err = run_err(&ctx, "SELECT count(*), sum(size) FROM remote").await;
    let took = started.elapsed();
    assert!(took < bound, "took {took:?}: {err}");
    assert!(err.contains("s3://ticks/"), "{err}");
    println!("hung server, after {took:?}: {err}");

    // An ingest whose server goes down after its first file: a clear error naming the object,
    // and every object it left is whole (the table reads), with no manifest.
    let down = FaultProxy::start(server.port());
    down.stop_after(2); // the manifest GET and the first file's PUT
    let mut env = s3_env(&server);
    env.retain(|(k, _)| *k != "AWS_ENDPOINT");
    env.push(("AWS_ENDPOINT", down.endpoint()));
    let out = Command::new(binary("tickflow"))
        .args(["ingest", "csv", "--out", "s3://ticks/partial"])
        .current_dir(dir.path())
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .output()
        .expect("run tickflow ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the ingest succeeded without its server"
    );
    assert!(stderr.contains("s3://ticks/partial/date="), "{stderr}");
    let ctx = session(&s3_settings(&server.endpoint(), None)).await;
    // The sources are published in order: the first day's file is the one that made it.
    let left = run(&ctx, "SELECT count(*) AS n FROM 's3://ticks/partial/'").await;
    let first_day = run(
        &ctx,
        &format!(
            "SELECT count(*) AS n FROM '{}/date=2024-03-04/'",
            local_dir.display()
        ),
    )
    .await;
    assert_eq!(left, first_day);
    assert_eq!(server.requests("PUT", "/ticks/partial/_tickflow"), 0);
}
