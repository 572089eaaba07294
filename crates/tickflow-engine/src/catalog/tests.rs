use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::sql::parser::DFParser;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

use super::*;

fn statement(sql: &str) -> Statement {
    DFParser::parse_sql(sql)
        .expect("parses")
        .pop_front()
        .expect("one statement")
}

/// A new process: the catalog opened again and attached to a new session.
async fn session(path: &Path) -> Result<(Catalog, SessionContext)> {
    let mut catalog = Catalog::open(path)?;
    let ctx = SessionContext::new();
    let warnings = catalog.attach(&ctx).await?;
    assert!(warnings.is_empty(), "{warnings:?}");
    Ok((catalog, ctx))
}

/// Runs `sql` as the CLI does: prepare, run unless done, record.
async fn run(catalog: &mut Catalog, ctx: &SessionContext, sql: &str) -> Result<Prepared> {
    let statement = statement(sql);
    let cwd = Path::new("/");
    let prepared = catalog.prepare(&statement, ctx, cwd)?;
    if prepared == Prepared::Run {
        ctx.sql(sql).await?.collect().await?;
    }
    catalog.record(&statement, cwd)?;
    Ok(prepared)
}

async fn count(ctx: &SessionContext, sql: &str) -> Result<i64> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(batches[0].column(0).as_primitive::<Int64Type>().value(0))
}

#[tokio::test]
async fn options_and_views_survive_a_new_session() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("p.txt");
    std::fs::write(&data, "1|a\n2|b\n3|c\n")?;
    let path = dir.path().join("sub").join("catalog.json");
    let create = format!(
        "CREATE EXTERNAL TABLE p (n BIGINT, s VARCHAR) STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'false', 'format.delimiter' '|')",
        data.display()
    );
    {
        let (mut catalog, ctx) = session(&path).await?;
        run(&mut catalog, &ctx, &create).await?;
        run(
            &mut catalog,
            &ctx,
            "CREATE VIEW big AS SELECT n, s FROM p WHERE n >= 2",
        )
        .await?;
        assert_eq!(count(&ctx, "SELECT count(*) FROM p").await?, 3);
    }
    let (_, ctx) = session(&path).await?;
    assert_eq!(count(&ctx, "SELECT count(*) FROM p").await?, 3);
    assert_eq!(count(&ctx, "SELECT sum(n) FROM big").await?, 5);
    let batches = ctx
        .sql("SELECT s FROM p WHERE n = 3")
        .await?
        .collect()
        .await?;
    assert_eq!(batches[0].column(0).as_string_view().value(0), "c");
    Ok(())
}

#[tokio::test]
async fn a_script_reruns_and_a_different_definition_is_refused_with_the_ways_out() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, "x\n1\n")?;
    std::fs::write(&b, "x\n1\n2\n")?;
    let create = |file: &Path| {
        format!(
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
            file.display()
        )
    };
    let (mut catalog, ctx) = session(&path).await?;
    assert_eq!(run(&mut catalog, &ctx, &create(&a)).await?, Prepared::Run);
    assert!(matches!(
        run(&mut catalog, &ctx, &create(&a)).await?,
        Prepared::Done(_)
    ));
    // And in the next session, before and after the table is used.
    let (mut catalog, ctx) = session(&path).await?;
    assert!(matches!(
        run(&mut catalog, &ctx, &create(&a)).await?,
        Prepared::Done(_)
    ));
    assert_eq!(count(&ctx, "SELECT count(*) FROM t").await?, 1);
    assert!(matches!(
        run(&mut catalog, &ctx, &create(&a)).await?,
        Prepared::Done(_)
    ));

    let err = run(&mut catalog, &ctx, &create(&b))
        .await
        .expect_err("another definition")
        .to_string();
    for part in [
        path.display().to_string(),
        format!("recorded: {}", create(&a)),
        "OR REPLACE".to_string(),
        "IF NOT EXISTS".to_string(),
        "DROP TABLE t".to_string(),
        "--catalog".to_string(),
    ] {
        assert!(err.contains(&part), "'{part}' missing from: {err}");
    }
    let keep = create(&b).replace("TABLE t", "TABLE IF NOT EXISTS t");
    assert!(matches!(
        run(&mut catalog, &ctx, &keep).await?,
        Prepared::Done(_)
    ));
    assert_eq!(count(&ctx, "SELECT count(*) FROM t").await?, 1);
    let replace = create(&b).replace("CREATE", "CREATE OR REPLACE");
    assert_eq!(run(&mut catalog, &ctx, &replace).await?, Prepared::Run);
    assert_eq!(count(&ctx, "SELECT count(*) FROM t").await?, 2);
    let (_, ctx) = session(&path).await?;
    assert_eq!(count(&ctx, "SELECT count(*) FROM t").await?, 2);
    Ok(())
}

#[tokio::test]
async fn drop_forgets_whatever_spelling_registered_the_table() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "x\n1\n")?;
    let (mut catalog, ctx) = session(&path).await?;
    let create = format!(
        "CREATE EXTERNAL TABLE \"dt\" STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
        data.display()
    );
    run(&mut catalog, &ctx, &create).await?;
    assert_eq!(catalog.entries()[0].sql_name(), "dt");
    // Dropped in a later session that never touched it: nothing is listed, the entry goes.
    let (mut catalog, ctx) = session(&path).await?;
    assert!(matches!(
        run(&mut catalog, &ctx, "DROP TABLE DT").await?,
        Prepared::Done(_)
    ));
    assert!(Catalog::open(&path)?.entries().is_empty());
    assert!(ctx.sql("SELECT * FROM dt").await.is_err());
    Ok(())
}

#[tokio::test]
async fn a_catalog_entry_that_is_not_a_definition_is_refused_and_runs_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    let target = dir.path().join("written.csv");
    for (name, kind, sql) in [
        (
            "x",
            "table",
            format!("COPY (SELECT 1) TO '{}'", target.display()),
        ),
        (
            "v",
            "view",
            format!(
                "CREATE VIEW v AS SELECT 1; COPY (SELECT 1) TO '{}'",
                target.display()
            ),
        ),
        ("w", "table", "CREATE VIEW w AS SELECT 1".to_string()),
        ("other", "view", "CREATE VIEW v AS SELECT 1".to_string()),
    ] {
        let entry = serde_json::json!({"entries": [{"name": name, "kind": kind, "sql": sql}]});
        std::fs::write(&path, entry.to_string())?;
        let err = Catalog::open(&path).expect_err(&sql).to_string();
        assert!(
            err.contains(&path.display().to_string()) && err.contains(&format!("('{name}')")),
            "{err}"
        );
        // The old form is checked the same way.
        let old = serde_json::json!({"tables": [{"name": name, "ddl": sql}]});
        std::fs::write(&path, old.to_string())?;
        assert!(Catalog::open(&path).is_err(), "{sql}");
    }
    assert!(!target.exists());
    Ok(())
}

#[tokio::test]
async fn a_catalog_of_the_old_form_is_read_and_kept() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "x\n1\n2\n")?;
    let ddl = format!(
        "CREATE EXTERNAL TABLE \"dt\" STORED AS CSV LOCATION '{}'",
        data.display()
    );
    let old = serde_json::json!({"tables": [{"name": "\"dt\"", "ddl": ddl}]});
    std::fs::write(&path, old.to_string())?;
    let (mut catalog, ctx) = session(&path).await?;
    assert_eq!(count(&ctx, "SELECT count(*) FROM dt").await?, 2);
    run(&mut catalog, &ctx, "DROP TABLE dt").await?;
    assert!(Catalog::open(&path)?.entries().is_empty());
    Ok(())
}

#[test]
fn a_corrupt_catalog_is_a_clear_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    std::fs::write(&path, "{not json")?;
    let err = Catalog::open(&path).unwrap_err().to_string();
    assert!(err.contains("not a tickflow catalog"), "{err}");
    Ok(())
}

/// The local file system, counting the listings made through it.
#[derive(Debug)]
struct CountingStore {
    inner: LocalFileSystem,
    listings: Arc<AtomicUsize>,
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait::async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &StorePath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &StorePath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &StorePath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<StorePath>>,
    ) -> BoxStream<'static, object_store::Result<StorePath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&StorePath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&StorePath>,
    ) -> object_store::Result<ListResult> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &StorePath,
        to: &StorePath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A catalogued table of 4,000 files is listed when a query first names it, not at start-up.
#[tokio::test]
async fn start_up_lists_no_catalogued_table() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let table = dir.path().join("many");
    std::fs::create_dir(&table)?;
    for i in 0..4000 {
        std::fs::write(table.join(format!("f{i:04}.csv")), format!("x\n{i}\n"))?;
    }
    let path = dir.path().join("catalog.json");
    let create = format!(
        "CREATE EXTERNAL TABLE many STORED AS CSV LOCATION '{}/' OPTIONS ('format.has_header' 'true')",
        table.display()
    );
    {
        let (mut catalog, ctx) = session(&path).await?;
        run(&mut catalog, &ctx, &create).await?;
    }

    let listings = Arc::new(AtomicUsize::new(0));
    let ctx = SessionContext::new_with_config(
        datafusion::prelude::SessionConfig::new().with_information_schema(true),
    );
    let url = url::Url::parse("file://").map_err(|e| DataFusionError::External(e.into()))?;
    ctx.register_object_store(
        &url,
        Arc::new(CountingStore {
            inner: LocalFileSystem::new(),
            listings: listings.clone(),
        }),
    );
    let mut catalog = Catalog::open(&path)?;
    assert!(catalog.attach(&ctx).await?.is_empty());
    ctx.sql("SELECT 1").await?.collect().await?;
    ctx.sql("SHOW TABLES").await?.collect().await?;
    let tables = ctx
        .sql("SELECT table_type FROM information_schema.tables WHERE table_name = 'many'")
        .await?
        .collect()
        .await?;
    assert_eq!(
        tables[0].column(0).as_string::<i32>().value(0),
        "BASE TABLE"
    );
    assert_eq!(listings.load(Ordering::SeqCst), 0, "listed at start-up");

    assert_eq!(count(&ctx, "SELECT count(*) FROM many").await?, 4000);
    assert!(listings.load(Ordering::SeqCst) > 0);
    Ok(())
}

/// Two processes with one catalog, each recording a table: both are kept (once the second
/// write put back the entries it had read, and the first table was lost).
#[test]
fn concurrent_updates_keep_both_tables() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("catalog.json");
    let mut a = Catalog::open(&path)?;
    let mut b = Catalog::open(&path)?;
    let create = |name: &str| {
        statement(&format!(
            "CREATE EXTERNAL TABLE {name} STORED AS PARQUET LOCATION '/tmp/{name}/'"
        ))
    };
    assert!(a.record(&create("t1"), dir.path())?);
    assert!(b.record(&create("t2"), dir.path())?);
    let names: Vec<String> = Catalog::open(&path)?
        .entries()
        .iter()
        .map(Definition::sql_name)
        .collect();
    assert_eq!(names, vec!["t1".to_string(), "t2".to_string()]);
    assert!(
        !path.with_extension("json.lock").exists(),
        "the lock is released"
    );
    // A DROP in one is not undone by the other's next update.
    assert!(a.record(&statement("DROP TABLE t2"), dir.path())?);
    assert!(b.record(&create("t3"), dir.path())?);
    let names: Vec<String> = Catalog::open(&path)?
        .entries()
        .iter()
        .map(Definition::sql_name)
        .collect();
    assert_eq!(names, vec!["t1".to_string(), "t3".to_string()]);
    Ok(())
}
